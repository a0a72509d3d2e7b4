using FFLib.Analysis;
using FFLib.Data;
using FFLib.Experiments;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

public sealed class ExperimentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-sweep-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void StudentAndWelchMatchTextbookValues()
    {
        // Critical values from the t table: t(0.975; 8) = 2.306, t(0.995; 10) = 3.169, t(0.975; 30) = 2.042.
        Assert.Equal(0.05, TTest.TwoSidedP(2.306004, 8), 5);
        Assert.Equal(0.01, TTest.TwoSidedP(-3.169273, 10), 5);
        Assert.Equal(0.05, TTest.TwoSidedP(2.042272, 30), 5);
        // a = 1..5 (mean 3, var 2.5), b = 4,5,6,7,9 (mean 6.2, var 3.7), by hand:
        // Student: pooled var 3.1, se = √(3.1·0.4) = √1.24, t = −3.2/√1.24, df 8.
        // Welch: same se for equal n, df = (0.5 + 0.74)² / (0.5²/4 + 0.74²/4) = 1.5376/0.1994.
        double[] a = [1, 2, 3, 4, 5], b = [4, 5, 6, 7, 9];
        var s = TTest.Student(a, b);
        Assert.Equal(-3.2 / Math.Sqrt(1.24), s.T, 12);
        Assert.Equal(8, s.DegreesOfFreedom, 12);
        Assert.Equal(TTest.TwoSidedP(s.T, 8), s.PValue, 12);
        Assert.InRange(s.PValue, 0.02, 0.022);
        var w = TTest.Welch(a, b);
        Assert.Equal(s.T, w.T, 12);
        Assert.Equal(1.5376 / 0.1994, w.DegreesOfFreedom, 9);
        Assert.True(w.PValue > s.PValue); // fewer degrees of freedom, heavier tails
        // Identical samples: no evidence of a difference.
        Assert.Equal(1.0, TTest.Student([1, 2, 3], [1, 2, 3]).PValue, 9);
        Assert.Throws<ArgumentException>(() => TTest.Welch([1], [2, 3]));
    }

    [Fact]
    public void ShardsCoverEveryRunExactlyOnce()
    {
        var runs = new SweepSpec
        {
            Models = [Architecture.Ffnn, Architecture.Bpnn, Architecture.Ffc], Thresholds = [1, 5, 20], LearningRates = [0.001f, 0.02f],
            Losses = [LossDirection.Minimize, LossDirection.Maximize], Seeds = 3,
        }.Expand();
        var ids = runs.Select(SweepRunner.RunId).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count()); // every configuration has its own id
        foreach (int n in new[] { 1, 2, 3, 7, 50 })
        {
            var covered = Enumerable.Range(0, n).SelectMany(i => SweepRunner.Shard(runs, i, n)).Select(SweepRunner.RunId).ToArray();
            Assert.Equal(ids.Length, covered.Length);
            Assert.Equal(ids.OrderBy(x => x), covered.OrderBy(x => x));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => SweepRunner.Shard(runs, 2, 2));
    }

    [Fact]
    public void RunIdsAreStableAndDependOnEverySetting()
    {
        var run = new SweepSpec { Seeds = 1 }.Expand()[0];
        Assert.Equal(SweepRunner.RunId(run), SweepRunner.RunId(run with { OutputDirectory = "elsewhere" }));
        Assert.NotEqual(SweepRunner.RunId(run), SweepRunner.RunId(run with { Seed = 1 }));
        Assert.NotEqual(SweepRunner.RunId(run), SweepRunner.RunId(run with { Model = run.Model with { Threshold = 5 } }));
        Assert.NotEqual(SweepRunner.RunId(run), SweepRunner.RunId(run with { Training = run.Training with { Epochs = 3 } }));
        var cosine = new SweepSpec { Seeds = 1, Schedule = LearningRateSchedule.Cosine }.Expand()[0];
        Assert.Equal(LearningRateSchedule.Cosine, cosine.Training.Schedule);
        Assert.NotEqual(SweepRunner.RunId(run), SweepRunner.RunId(cosine));
        Assert.Equal(SweepRunner.RunId(run), SweepRunner.RunId(cosine with { Training = cosine.Training with { Schedule = LearningRateSchedule.Constant } }));
    }

    private static RunRecord Rec(string id, string arch, string loss, int seed, double? acc, double hoyer = 0.4, string status = "completed", string dataset = "mnist") =>
        new(id, status, status == "completed" ? null : "Training diverged: layer 1 loss is NaN in epoch 2, batch 5.", arch, dataset, [10, 10], loss,
            arch == "bpnn" ? 1e-4f : 0.02f, 20f, seed, 3, acc,
            acc is null ? null : [new ParameterReport("layer 1", "weight", 100, new SparsityValues(0.1, 0.5, hoyer, hoyer + 0.1), new TensorStats(-1, 1, 0, 0.5, 100))],
            1.5, "2026-11-27T00:00:00Z");

    [Fact]
    public void ReportMatchesTheGoldenMarkdown()
    {
        var records = new[]
        {
            Rec("a1", "ffnn", "min", 0, 0.9810, 0.49), Rec("a2", "ffnn", "min", 1, 0.9822, 0.50), Rec("a3", "ffnn", "min", 2, 0.9806, 0.48),
            Rec("b1", "ffnn", "max", 0, 0.9801, 0.45), Rec("b2", "ffnn", "max", 1, 0.9815, 0.46), Rec("b3", "ffnn", "max", 2, 0.9790, 0.44),
            Rec("c1", "bpnn", "ce", 0, 0.9831, 0.18), Rec("c2", "bpnn", "ce", 1, 0.9840, 0.19),
            Rec("c3", "bpnn", "ce", 0, 0.8950, 0.20, dataset: "fashion-mnist"),
            Rec("d1", "ffrnn", "min", 0, null, status: "diverged"),
        };
        string md = SweepReport.Markdown(records, out var t2, out _, out var t5);
        if (Environment.GetEnvironmentVariable("FFLIB_UPDATE_GOLDEN") == "1")
        {
            // Regenerate after an intended change, then review the diff: FFLIB_UPDATE_GOLDEN=1 dotnet test --filter Golden...
            var src = new DirectoryInfo(AppContext.BaseDirectory);
            while (src is not null && !File.Exists(Path.Combine(src.FullName, "FFLib.Tests.csproj"))) src = src.Parent;
            File.WriteAllText(Path.Combine(src!.FullName, "Fixtures", "report_golden.md"), md);
        }
        string golden = File.ReadAllText(TestUtil.Fixture("report_golden.md"));
        Assert.Equal(golden.ReplaceLineEndings("\n"), md.ReplaceLineEndings("\n"));
        Assert.Contains("\"ffnn, layers 10,10, lr 0.02, threshold 20, loss min\",mnist,98.1267", t2);
        Assert.StartsWith("model,dataset,max_mean", t5);
    }

    [Fact]
    public void SensitivityGridAveragesCellsAndMarksFailures()
    {
        RunRecord R(string id, float lr, float theta, int seed, double? acc, double hoyer = 0.5) =>
            Rec(id, "ffnn", "min", seed, acc, hoyer, acc is null ? "diverged" : "completed") with { LearningRate = lr, Threshold = theta };
        var records = new[]
        {
            R("1", 0.001f, 1, 0, 0.90, 0.40), R("2", 0.001f, 1, 1, 0.92, 0.50),
            R("3", 0.02f, 1, 0, 0.95), R("4", 0.001f, 20, 0, 0.97), R("5", 0.02f, 20, 0, null),
        };
        var grid = Assert.Single(SweepReport.SensitivityGrids(records));
        Assert.Equal([0.001f, 0.02f], grid.LearningRates);
        Assert.Equal([1f, 20f], grid.Thresholds);
        Assert.Equal(91.0, grid.Accuracy[0, 0]!.Value, 9);
        Assert.Equal(0.45, grid.Hoyer[0, 0]!.Value, 9);
        Assert.Null(grid.Accuracy[1, 1]);
        Assert.True(grid.Failed[1, 1]);
        Assert.False(grid.Failed[0, 1]);
        string png = Path.Combine(_dir, "heat.png");
        Plotting.Plots.SensitivityHeatmap(png, grid, hoyer: false);
        using var bmp = SkiaSharp.SKBitmap.Decode(png);
        Assert.Equal((760, 560), (bmp.Width, bmp.Height));
    }

    [Fact]
    public void LayerSizeProgressionAveragesMatricesThenSeeds()
    {
        SparsitySample S(long step, string layer, double hoyer) => new(step, step / 10.0, layer, "weight", new SparsityValues(0, 0, hoyer, 0));
        RunRecord R(string id, int width, int seed, params SparsitySample[] samples) =>
            Rec(id, "ffnn", "min", seed, 0.9) with { Layers = [width, width], SparsityOverTraining = samples };
        var records = new[]
        {
            R("a", 50, 0, S(0, "layer 1", 0.1), S(0, "layer 2", 0.3), S(10, "layer 1", 0.5), S(10, "layer 2", 0.7)),
            R("b", 50, 1, S(0, "layer 1", 0.3), S(0, "layer 2", 0.3), S(10, "layer 1", 0.5), S(10, "layer 2", 0.5)),
            R("c", 200, 0, S(0, "layer 1", 0.2), S(0, "layer 2", 0.2)),
        };
        var (title, series) = Assert.Single(SweepReport.LayerSizeProgressions(records));
        Assert.StartsWith("mnist", title);
        Assert.Equal(["ffnn N=50", "ffnn N=200"], series.Select(x => x.Label));
        Assert.Equal([0.0, 1.0], series[0].Epochs);
        Assert.Equal(0.25, series[0].Values[0].Hoyer, 12); // (0.2 + 0.3) / 2
        Assert.Equal(0.55, series[0].Values[1].Hoyer, 12); // (0.6 + 0.5) / 2
        Assert.Equal(0.2, series[1].Values[0].Hoyer, 12);
    }

    [Fact]
    public async Task InterruptedSweepResumesWithoutRedoingFinishedRuns()
    {
        string data = SweepClusterTests.SyntheticMnist(Path.Combine(_dir, "data"), 200, 50);
        var spec = new SweepSpec
        {
            Models = [Architecture.Ffnn, Architecture.Bpnn], Layers = [[16, 8]], Thresholds = [1, 5], Seeds = 2, Epochs = 1, BatchSize = 50,
            Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false },
        };
        var runs = spec.Expand();
        Assert.Equal(6, runs.Count); // ffnn: 2 θ × 2 seeds; bpnn: 2 seeds

        string all = Path.Combine(_dir, "uninterrupted"), part = Path.Combine(_dir, "interrupted");
        SweepRunner.Run(runs, all);
        using (var cts = new CancellationTokenSource())
        {
            int done = 0;
            Assert.ThrowsAny<OperationCanceledException>(() => SweepRunner.Run(runs, part, new SweepWorkerOptions { Log = line => { if (line.Contains("completed") && ++done == 3) cts.Cancel(); } }, cts.Token));
        }
        Assert.Equal(3, SweepResults.Read(part).Records.Count);
        Assert.Empty(Directory.GetFiles(Path.Combine(part, "claims"))); // the interrupted worker released what it held
        var second = SweepRunner.Run(runs, part);
        Assert.Equal(3, second.Written.Count); // only the missing runs ran
        Assert.Equal(0, second.Unfinished);
        Strip(SweepResults.Read(all).Records, out var a);
        Strip(SweepResults.Read(part).Records, out var b);
        Assert.Equal(a, b);

        // Two shards on one folder give the same records as one process.
        string sharded = Path.Combine(_dir, "sharded");
        var t0 = Task.Run(() => SweepRunner.Run(SweepRunner.Shard(runs, 0, 2), sharded));
        var t1 = Task.Run(() => SweepRunner.Run(SweepRunner.Shard(runs, 1, 2), sharded));
        await Task.WhenAll(t0, t1);
        Strip(SweepResults.Read(sharded).Records, out var c);
        Assert.Equal(a, c);
        Assert.Equal(SweepReport.Markdown(SweepResults.Read(all).Records, out _, out _, out _), SweepReport.Markdown(SweepResults.Read(sharded).Records, out _, out _, out _));

        static void Strip(IReadOnlyList<RunRecord> rs, out string[] key) =>
            key = rs.Select(x => $"{x.Id} {x.Status} {x.TestAccuracy:R} {x.Sparsity?[0].Sparsity.Hoyer:R}").ToArray();
    }
}
