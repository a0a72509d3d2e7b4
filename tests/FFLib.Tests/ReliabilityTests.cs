using System.Diagnostics;
using System.Text.Json.Nodes;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>Exact resume, divergence records and crash-safe files (real MNIST subsets).</summary>
[Collection("RealData")]
public sealed class ReliabilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-reliability-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RunSpec Spec(Architecture arch, string dir, int epochs = 4) => new()
    {
        Architecture = arch,
        Model = new ModelSettings { HiddenSizes = [40, 30], TrainFrames = 2, ClassifierLearningRate = 1e-3f },
        Training = new TrainingOptions { Epochs = epochs, BatchSize = 100 },
        Seed = 7,
        TrainLimit = 1500,
        TestLimit = 300,
        Data = new DatasetLoadOptions { AllowDownload = false },
        CheckpointEvery = 1,
        TrackSparsityEvery = 5,
        OutputDirectory = dir,
    };

    private static float[] Weights(IClassifierModel m) => Analysis.ModelAnalysis.Parameters(m).Where(p => p.Parameter != "forward+bias").SelectMany(p => p.Values).ToArray();

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffc")]
    [InlineData("ffrnn")]
    [InlineData("bpnn")]
    public void ResumedRunEndsBitIdenticalToAnUninterruptedOne(string id)
    {
        var arch = ArchitectureRegistry.Get(id);
        string full = Path.Combine(_dir, $"{arch}-full"), part = Path.Combine(_dir, $"{arch}-part");
        var uninterrupted = TrainingRun.Execute(Spec(arch, full));

        // The same run, stopped after epoch 2 (as a kill would stop it), then resumed from its checkpoint.
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            TrainingRun.Execute(Spec(arch, part), epochCompleted: m => { if (m.Epoch == 2) cts.Cancel(); }, cancellationToken: cts.Token));
        Assert.False(File.Exists(Path.Combine(part, "model.safetensors")));
        var state = TrainingCheckpoint.Load(Path.Combine(part, TrainingCheckpoint.FileName));
        Assert.Equal(2, state.EpochsDone);
        var resumed = TrainingRun.Resume(part);

        Assert.Equal(Weights(uninterrupted.Model), Weights(resumed.Model));
        Assert.Equal(uninterrupted.TestAccuracy, resumed.TestAccuracy);
        Assert.Equal(uninterrupted.Epochs.Select(e => e.LayerLosses), resumed.Epochs.Select(e => e.LayerLosses));
        Assert.Equal(4, resumed.Epochs.Count);
        // The sparsity series continues across the resume: same steps, same file.
        Assert.Equal(uninterrupted.SparsitySamples!.Select(x => (x.Step, x.Layer, x.Parameter)), resumed.SparsitySamples!.Select(x => (x.Step, x.Layer, x.Parameter)));
        Assert.Equal(File.ReadAllText(Path.Combine(full, "sparsity.csv")), File.ReadAllText(Path.Combine(part, "sparsity.csv")));
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(part, "run.json")))!;
        Assert.Equal("completed", run["status"]!.GetValue<string>());
        // The checkpoint is also a model file that eval can read.
        Assert.Equal(arch, ModelCheckpoint.Load(Path.Combine(full, TrainingCheckpoint.FileName)).Architecture);
    }

    [Fact]
    public void AWriteRemovesTheStaleTemporariesOfKilledWritersOnly()
    {
        string dir = Path.Combine(_dir, "stale");
        Directory.CreateDirectory(dir);
        int dead = Enumerable.Range(3_000_000, 1000).First(p => !Directory.Exists($"/proc/{p}")); // no such process
        string Temp(string name, int pid) => Path.Combine(dir, $".{name}.{pid}.{Guid.NewGuid():N}.tmp");
        string old = Temp("model.safetensors", dead), fresh = Temp("model.safetensors", dead);
        string live = Temp("model.safetensors", 1), own = Temp("model.safetensors", Environment.ProcessId);
        string other = Temp("run.json", dead), foreign = Path.Combine(dir, $".model.safetensors.{dead}.notaguid.tmp");
        foreach (var f in new[] { old, fresh, live, own, other, foreign }) File.WriteAllText(f, "partial");
        var longAgo = DateTime.UtcNow - AtomicFile.StaleAfter - TimeSpan.FromMinutes(1);
        foreach (var f in new[] { old, live, own, other, foreign }) File.SetLastWriteTimeUtc(f, longAgo);

        AtomicFile.WriteAllText(Path.Combine(dir, "model.safetensors"), "complete");

        Assert.False(File.Exists(old));     // dead writer, untouched for long: removed
        Assert.True(File.Exists(fresh));    // dead here but written recently: maybe another machine's write in progress
        Assert.True(File.Exists(live));     // its process (pid 1) runs
        Assert.True(File.Exists(own));      // this process's own
        Assert.True(File.Exists(other));    // another target's
        Assert.True(File.Exists(foreign));  // not a name this class makes
        Assert.Equal("complete", File.ReadAllText(Path.Combine(dir, "model.safetensors")));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("step,epoch,layer\n", "header")]
    [InlineData("step,epoch,layer,parameter,l1_entropy,l2_entropy,hoyer,gini\n1,0.5,layer 1,weight,0.1,0.2,0.3\n", "line 2")]
    [InlineData("step,epoch,layer,parameter,l1_entropy,l2_entropy,hoyer,gini\n0,0,layer 1,weight,0.1,0.2,0.3,0.4\n-3,0,layer 1,weight,0.1,0.2,0.3,0.4\n", "line 3")]
    [InlineData("step,epoch,layer,parameter,l1_entropy,l2_entropy,hoyer,gini\nx,0,layer 1,weight,0.1,0.2,0.3,0.4\n", "line 2")]
    [InlineData("step,epoch,layer,parameter,l1_entropy,l2_entropy,hoyer,gini\n1,0,layer 1,weight,0.1,zero,0.3,0.4\n", "line 2")]
    public void MalformedSparsityCsvIsRefusedWithTheLine(string content, string expected)
    {
        string path = Path.Combine(_dir, "sparsity.csv");
        File.WriteAllText(path, content);
        var e = Assert.Throws<InvalidDataException>(() => Training.SparsityTracker.ReadCsv(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void SparsityCsvRoundTrips()
    {
        var tracker = new Training.SparsityTracker(1);
        var net = new FFNetwork(new FFNetworkConfig { ImageFeatures = 6, Classes = 2, HiddenSizes = [5, 4] }, new Compute.FFRandom(3));
        tracker.RecordFinal(net);
        string path = Path.Combine(_dir, "round.csv");
        tracker.WriteCsv(path);
        var back = Training.SparsityTracker.ReadCsv(path);
        Assert.Equal(tracker.Samples.Count, back.Count);
        for (int i = 0; i < back.Count; i++)
        {
            Assert.Equal(tracker.Samples[i].Layer, back[i].Layer);
            Assert.Equal(tracker.Samples[i].Parameter, back[i].Parameter);
            Assert.Equal(tracker.Samples[i].Sparsity.Hoyer, back[i].Sparsity.Hoyer, 8);
            Assert.Equal(tracker.Samples[i].Sparsity.Gini, back[i].Sparsity.Gini, 8);
        }
    }

    [Fact]
    public void DivergenceStopsWithEpochLayerAndARecord()
    {
        string dir = Path.Combine(_dir, "diverge");
        var spec = Spec(Architecture.Ffnn, dir, epochs: 2) with { Model = new ModelSettings { HiddenSizes = [40, 30], LearningRate = 1e30f } };
        var e = Assert.Throws<TrainingDivergedException>(() => TrainingRun.Execute(spec));
        Assert.Equal(1, e.Epoch);
        Assert.Contains("diverged", e.Message);
        Assert.Contains("layer", e.Message);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "run.json")))!;
        Assert.Equal("diverged", run["status"]!.GetValue<string>());
        Assert.Equal(e.Epoch, run["epoch"]!.GetValue<int>());
        Assert.False(File.Exists(Path.Combine(dir, "model.safetensors")));
    }

    [Fact]
    public void ResumingAModelFileOrNothingFailsClearly()
    {
        var e = Assert.Throws<FileNotFoundException>(() => TrainingRun.Resume(Path.Combine(_dir, "nothing-here")));
        Assert.Contains("RunSpec.CheckpointEvery", e.Message); // fflib train --resume says --checkpoint-every
        string model = Path.Combine(_dir, "m.safetensors");
        ModelCheckpoint.Save(model, new FFNetwork(new FFNetworkConfig { ImageFeatures = 4, Classes = 2, HiddenSizes = [3] }, new Compute.FFRandom(1)));
        var e2 = Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Load(model));
        Assert.Contains("not a training checkpoint", e2.Message);
    }

    /// <summary>
    /// Kills a training process (checkpointing after every epoch) at random moments, repeatedly.
    /// After every kill the checkpoint on disk is complete and loads; a run resumed from it finishes.
    /// </summary>
    [Fact]
    public void KillingTheProcessNeverLeavesATornCheckpoint()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "FFLib.Cli.dll");
        Assert.True(File.Exists(cli), cli);
        string dir = Path.Combine(_dir, "killed");
        var rng = new Random(12345);
        int loaded = 0;
        for (int attempt = 0; attempt < 6; attempt++)
        {
            var psi = new ProcessStartInfo("dotnet", $"\"{cli}\" train --model ffnn --layers 60,40 --epochs 8000 --batch-size 50 --train-limit 600 --test-limit 100 --checkpoint-every 1 --no-download --out \"{dir}\"")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            // The run (~1 min: 400 epochs of this tiny net take ~3 s) is far longer than the wait, so every
            // kill lands mid-run; it stays bounded so that a child orphaned by a crashed test host ends soon.
            Thread.Sleep(rng.Next(1200, 3000));
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            string ckpt = Path.Combine(dir, TrainingCheckpoint.FileName);
            if (!File.Exists(ckpt)) continue;
            var state = TrainingCheckpoint.Load(ckpt); // throws on a torn file
            Assert.InRange(state.EpochsDone, 1, 8000);
            loaded++;
        }
        Assert.True(loaded >= 3, $"only {loaded} of 6 kills left a checkpoint to check");
        // Temporary files of interrupted writes are hidden dot-files, never the checkpoint's own name.
        Assert.All(Directory.GetFiles(dir), f => Assert.True(Path.GetFileName(f) is TrainingCheckpoint.FileName || Path.GetFileName(f).StartsWith('.'), f));
    }
}
