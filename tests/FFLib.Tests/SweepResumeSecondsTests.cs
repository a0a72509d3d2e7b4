using FFLib.Experiments;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// A run resumed by a sweep records the seconds of the whole run: the epochs and batches its
/// checkpoint carries from an earlier call plus this call's, not only the resuming call's.
/// </summary>
public sealed class SweepResumeSecondsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-resume-seconds-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ResumedRunCountsTheCheckpointsEarlierSeconds()
    {
        string data = SweepClusterTests.SyntheticMnist(Path.Combine(_dir, "data"), 600, 50);
        string results = Path.Combine(_dir, "results");
        var run = new SweepSpec
        {
            Layers = [[16, 8]], Seeds = 1, Epochs = 3, BatchSize = 50,
            Data = new FFLib.Data.DatasetLoadOptions { DataDirectory = data, AllowDownload = false },
        }.Expand()[0];
        string id = SweepRunner.RunId(run);
        string work = Path.Combine(results, "work", id);
        // Stopped in its second epoch (a SIGTERM): the checkpoint holds epoch 1 and 3 batches of epoch 2.
        using (var cts = new CancellationTokenSource())
            Assert.ThrowsAny<OperationCanceledException>(() => TrainingRun.Execute(run with { OutputDirectory = work, CheckpointEvery = 1 },
                new CancelAfter(cts, 14), cancellationToken: cts.Token));
        string checkpoint = Path.Combine(work, TrainingCheckpoint.FileName);
        // Give the earlier call a known, long duration (as if it had trained for 1000 s and 200 s):
        // a record that counted only the resuming call would stay far below it.
        var state = TrainingCheckpoint.Load(checkpoint);
        var history = state.History.Select(e => e with { TrainSeconds = 1000, ValidationSeconds = 0 }).ToList();
        var partial = state.Partial! with { Seconds = 200 };
        TrainingCheckpoint.Save(checkpoint, state.Model, state.Random, state.EpochsDone, history, state.Spec, partial);
        Assert.Equal(1200, TrainingCheckpoint.ReadHeader(checkpoint).SecondsDone);

        var record = Assert.Single(SweepRunner.Run([run], results).Written);
        Assert.Equal("completed", record.Status);
        Assert.Equal(1, record.ResumedFromEpoch);
        Assert.InRange(record.Seconds, 1200, 1200 + 120); // plus this call's own seconds (a second or two)
    }
}
