using FFLib.Data;
using FFLib.Experiments;
using FFLib.Models;
using FFLib.Plotting;
using Xunit;

namespace FFLib.Tests;

/// <summary>The compressibility study end to end on a little real MNIST: sweep, compression grid per model, resume, pooling, report, figure.</summary>
public sealed class CompressibilityStudyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-compressibility-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheGridShrinksWithTheBudgetAndTheModel()
    {
        var smoke = CompressibilityStudy.GridFor("smoke", 200);
        Assert.Equal([200, 100, 50], smoke.Keep);
        Assert.Equal([0, 16], smoke.Ranks);
        var reduced = CompressibilityStudy.GridFor("reduced", 2000);
        Assert.Equal([2000, 1000, 500, 250, 125], reduced.Keep);
        Assert.Equal([0, 128, 64, 32], reduced.Ranks);
        Assert.Equal(["fp32", "int8", "int4-asym", "kmeans16"], reduced.Formats.Select(f => f.Id));
        var paper = CompressibilityStudy.GridFor("paper", 2000);
        Assert.Equal(reduced.Keep, paper.Keep);
        Assert.Equal(["fp32", "int8", "int4-asym", "kmeans16", "int4-asym+outliers", "kmeans16+outliers"], paper.Formats.Select(f => f.Id));
        Assert.Equal([0], CompressibilityStudy.GridFor("smoke", 12).Ranks.Where(r => r >= 12).Prepend(0).Distinct());
        var sweep = Reproduction.Sweep("compressibility", Reproduction.Budget("smoke", DatasetKind.Mnist));
        Assert.Equal(["ffnn", "ffc", "bpnn"], sweep.Models.Select(m => m.Id));
        Assert.Equal(3, sweep.Seeds);
        Assert.Contains(Architecture.Ffrnn, Reproduction.Sweep("compressibility", Reproduction.Budget("reduced", DatasetKind.Mnist)).Models);
    }

    [Fact]
    public void StudyOnRealMnistCompressesEveryModelResumesPoolsAndPlots()
    {
        var sweep = new SweepSpec
        {
            Models = [Architecture.Ffnn, Architecture.Bpnn], Layers = [[24, 24]], Epochs = 1, Seeds = 2, TrainLimit = 600, TestLimit = 300,
            Data = new DatasetLoadOptions { AllowDownload = false },
        };
        var runs = sweep.Expand();
        SweepRunner.Run(runs, _dir, new SweepWorkerOptions { SaveModels = true });
        var log = new List<string>();
        var records = CompressibilityStudy.MeasureAll(runs, _dir, "smoke", log: log.Add);
        // 2 architectures × 2 seeds × 4 formats × (3 kept counts whole + rank 16 where it saves: only layer 0 of the unpruned 24-wide model).
        Assert.Equal(2 * 2 * 4 * (3 + 1), records.Count);
        Assert.Equal(2 * 2 * 4, records.Count(r => r.Rank == 16));
        Assert.Equal(4, Directory.GetFiles(Path.Combine(_dir, CompressibilityStudy.FolderName), "*.csv").Length);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dir, CompressibilityStudy.FolderName)));
        // The pruning permutation follows the training seed.
        Assert.Equal([0, 1], records.Select(r => r.Seed).Distinct().Order());
        // A second call reads what the first wrote and compresses nothing again.
        var stamps = Directory.GetFiles(Path.Combine(_dir, CompressibilityStudy.FolderName)).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        log.Clear();
        var again = CompressibilityStudy.MeasureAll(runs, _dir, "smoke", log: log.Add);
        Assert.Equal(records.Count, again.Count);
        Assert.Empty(log);
        Assert.All(stamps, kv => Assert.Equal(kv.Value, File.GetLastWriteTimeUtc(kv.Key)));

        var rows = CompressibilityStudy.Summarise(records);
        Assert.Equal(2 * 16, rows.Count);
        Assert.All(rows, r => Assert.Equal(2, r.Seeds));
        var ffnnFp32 = rows.Single(r => r.Architecture == "ffnn" && r.Method == "fp32");
        var both = records.Where(r => r.Architecture == "ffnn" && r.Method == "fp32").Select(r => r.Accuracy).ToArray();
        Assert.Equal(both.Average(), ffnnFp32.Accuracy, 12);
        Assert.Equal(Math.Abs(both[0] - both[1]) / Math.Sqrt(2), ffnnFp32.AccuracyStd, 12);
        var front = CompressibilityStudy.Frontier(rows.Where(r => r.Architecture == "bpnn"));
        for (int i = 1; i < front.Count; i++) Assert.True(front[i].BestBytes >= front[i - 1].BestBytes && front[i].Accuracy > front[i - 1].Accuracy);
        var md = CompressibilityStudy.Markdown(rows, "test");
        Assert.Contains("| ffnn | 2 |", md);
        Assert.Contains("## bpnn: frontier", md);
        string csv = Path.Combine(_dir, "compressibility.csv");
        CompressibilityStudy.WriteCsv(csv, rows);
        Assert.Equal(rows.Count + 1, File.ReadAllLines(csv).Length);
        string png = Path.Combine(_dir, "compressibility.png");
        CompressionPlots.Frontier(png, rows.GroupBy(r => r.Architecture).Select(g => (g.Key, (IReadOnlyList<CompressibilityRow>)g.ToList())).ToList(), "test",
            [new CompressionPlots.Mark("reference", 27 * 1024, 0.984)]);
        Assert.True(new FileInfo(png).Length > 10_000);
    }
}
