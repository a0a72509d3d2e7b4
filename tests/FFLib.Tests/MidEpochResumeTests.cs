using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>Cancels a training run after a given number of batches (a progress reporter: called after every batch).</summary>
internal sealed class CancelAfter(CancellationTokenSource cts, int batches) : IProgress<TrainingProgress>
{
    private int _seen;

    public void Report(TrainingProgress value)
    {
        if (++_seen == batches) cts.Cancel();
    }
}

/// <summary>
/// A run stopped between two batches (SIGTERM, preemption) checkpoints where it is, and resuming
/// finishes it bit-identical to an uninterrupted run: same weights, same sparsity record.
/// </summary>
public sealed class MidEpochResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-midepoch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("ffnn", 15)]  // epoch 2, after its 4th batch (11 batches per epoch)
    [InlineData("ffc", 27)]   // epoch 3: the classifier phase
    [InlineData("ffrnn", 13)]
    [InlineData("bpnn", 21)]
    [InlineData("ffcnn", 15)]
    [InlineData("bpcnn", 21)]
    [InlineData("ffc", 27, LearningRateSchedule.Cosine)] // the schedule's position comes back with the checkpoint
    [InlineData("ffnn", 15, LearningRateSchedule.Cosine)]
    public void InterruptedMidEpochResumesToTheSameWeights(string arch, int stopAfter, LearningRateSchedule schedule = LearningRateSchedule.Constant)
    {
        string data = SweepClusterTests.SyntheticMnist(Path.Combine(_dir, "data"), 600, 60);
        RunSpec Spec(string dir) => new()
        {
            Architecture = ArchitectureRegistry.Get(arch),
            Model = new ModelSettings { HiddenSizes = [16, 12], Threshold = 0.5f, TrainFrames = 2, TestFrameLow = 1, TestFrameHigh = 3 }.With(CnnSettings.Conv, "3p,3"),
            Training = new TrainingOptions { Epochs = 4, BatchSize = 50, Schedule = schedule },
            Seed = 5,
            CheckpointEvery = 1,
            TrackSparsityEvery = 3,
            Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false },
            OutputDirectory = dir,
        };
        string whole = Path.Combine(_dir, arch + "-whole"), cut = Path.Combine(_dir, arch + "-cut");
        var expected = TrainingRun.Execute(Spec(whole));

        using (var cts = new CancellationTokenSource())
            Assert.ThrowsAny<OperationCanceledException>(() => TrainingRun.Execute(Spec(cut), new CancelAfter(cts, stopAfter), cancellationToken: cts.Token));
        var state = TrainingCheckpoint.Load(Path.Combine(cut, TrainingCheckpoint.FileName));
        Assert.NotNull(state.Partial);
        Assert.Equal(stopAfter / 11, state.EpochsDone);
        Assert.Equal(stopAfter % 11, state.Partial!.BatchesDone);
        Assert.False(File.Exists(Path.Combine(cut, "model.safetensors")));

        var resumed = TrainingRun.Resume(cut);
        Assert.Equal(expected.TestAccuracy, resumed.TestAccuracy);
        var a = SafeTensors.Read(Path.Combine(whole, "model.safetensors"));
        var b = SafeTensors.Read(Path.Combine(cut, "model.safetensors"));
        foreach (var t in a.Tensors) Assert.True(t.Data.AsSpan().SequenceEqual(b.Get(t.Name).Data), $"{t.Name} differs");
        Assert.Equal(File.ReadAllLines(Path.Combine(whole, "sparsity.csv")), File.ReadAllLines(Path.Combine(cut, "sparsity.csv")));
        Assert.Equal(expected.Epochs.Select(e => e.LayerLosses.ToArray()), resumed.Epochs.Select(e => e.LayerLosses.ToArray()));
    }
}

/// <summary>Time-based checkpoints inside an epoch: a run killed without any chance to save resumes from the last one.</summary>
public sealed class TimedCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-timed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ACheckpointEveryFewMinutesLandsBetweenBatchesAndResumesExactly()
    {
        string data = SweepClusterTests.SyntheticMnist(Path.Combine(_dir, "data"), 600, 60);
        RunSpec Spec(string dir, double? minutes) => new()
        {
            Model = new ModelSettings { HiddenSizes = [16, 12], Threshold = 0.5f },
            Training = new TrainingOptions { Epochs = 3, BatchSize = 50 },
            Seed = 9,
            CheckpointMinutes = minutes,
            Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false },
            OutputDirectory = dir,
        };
        string whole = Path.Combine(_dir, "whole"), killed = Path.Combine(_dir, "killed");
        TrainingRun.Execute(Spec(whole, null));
        // A tiny interval: every batch boundary is due. The stop saves nothing itself (as after a kill -9),
        // so the file on disk is the snapshot taken before the last batch that ran.
        using (var cts = new CancellationTokenSource())
            Assert.ThrowsAny<OperationCanceledException>(() =>
                TrainingRun.Execute(Spec(killed, 1e-9), new CancelAfter(cts, 17), cancellationToken: cts.Token, checkpointWhenCancelled: () => false));
        var state = TrainingCheckpoint.Load(Path.Combine(killed, TrainingCheckpoint.FileName));
        Assert.Equal(1, state.EpochsDone);
        Assert.Equal(5, state.Partial!.BatchesDone); // batch 17 of the run is batch 6 of epoch 2; the snapshot precedes it
        TrainingRun.Resume(killed);
        var a = SafeTensors.Read(Path.Combine(whole, "model.safetensors"));
        var b = SafeTensors.Read(Path.Combine(killed, "model.safetensors"));
        foreach (var t in a.Tensors) Assert.True(t.Data.AsSpan().SequenceEqual(b.Get(t.Name).Data), $"{t.Name} differs");
    }
}
