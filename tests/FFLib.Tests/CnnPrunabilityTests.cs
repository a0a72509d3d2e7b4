using FFLib.Analysis;
using FFLib.Data;
using FFLib.Experiments;
using FFLib.IO;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// <c>reproduce cnn-prunability</c> on real MNIST at a budget far below smoke (20,20,20 channels, one model each,
/// 2,000 training and 500 test images): both networks trained, pruned at the paper's kept counts, pooled and reported;
/// a second run reuses everything.
/// </summary>
[Collection("RealData")]
public sealed class CnnPrunabilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-cnnp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly CnnPrunabilityBudget Tiny = new("test", [20, 20, 20], "5p,3p,3", FFEpochs: 3, BackpropEpochs: 1, Models: 1, TrainLimit: 2000, TestLimit: 500);

    [Fact]
    public void BothNetworksAreTrainedPrunedPooledAndReportedAndARerunReusesThem()
    {
        var data = new DatasetLoadOptions { AllowDownload = false };
        var sides = CnnPrunability.Run(Tiny, DatasetKind.Mnist, _dir, data);
        Assert.Equal(["ffcnn (random)", "bpcnn (random)"], sides.Select(s => s.Label));
        var test = DatasetLoader.Load(DatasetKind.Mnist, data).Test.Take(500);
        foreach (var side in sides)
        {
            // The paper's kept counts below the widest layer (20), 3 pruning seeds, one model.
            Assert.Equal([20, 16, 8, 4, 2], side.Records.Select(r => r.Keep).Distinct());
            Assert.Equal(15, side.Records.Count);
            // Keeping everything is the trained model itself: ratio 1 and its own accuracy on the same images.
            var model = ModelCheckpoint.Load(side.ModelPaths[0]).Model;
            foreach (var full in side.Records.Where(r => r.Keep == 20))
            {
                Assert.InRange(full.CompressionRatio, 0.98, 1.001); // a cut competitive model's config also names its channel groups and input scales
                Assert.Equal(Evaluation.Accuracy(model, test), full.Accuracy, 9);
            }
            var ratios = side.Records.GroupBy(r => r.Keep).OrderByDescending(g => g.Key).Select(g => g.Average(r => r.CompressionRatio)).ToArray();
            Assert.True(ratios.Zip(ratios.Skip(1)).All(p => p.Second > p.First), $"{side.Label}: ratios {string.Join(", ", ratios)} must grow as channels go");
            // Kernel sparsity: the trained model's own, layer by layer.
            var kernels = model.Parameters().Where(p => p.Name.StartsWith("layers.") && p.Name.EndsWith(".weight")).ToArray();
            Assert.Equal(3, side.KernelHoyer.Count);
            for (int l = 0; l < 3; l++) Assert.Equal(Sparsity.All(kernels[l].Data).Hoyer, side.KernelHoyer[l], 12);
        }
        // Both learn something in 2,000 images (chance 10 %); the FF CNN is the competitive one.
        Assert.True(sides.All(s => s.Records.First(r => r.Keep == 20).Accuracy > 0.3), string.Join(", ", sides.Select(s => $"{s.Label} {s.Records[0].Accuracy:P1}")));
        Assert.Contains("\"objective\": \"competitive\"", File.ReadAllText(Path.Combine(_dir, "ffcnn", "run.json")));

        var csv = CnnPrunability.Csv(sides).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("network,keep,compression_ratio,accuracy_mean,accuracy_std,accuracy_min,accuracy_max,n", csv[0]);
        Assert.Equal(11, csv.Length);
        Assert.StartsWith("ffcnn,20,0.99", csv[1]);
        Assert.StartsWith("bpcnn,20,", csv[6]);
        var md = CnnPrunability.Markdown(sides, Tiny, DatasetKind.Mnist, "f.png");
        Assert.Matches(@"\| 20 \| 0\.99× \| \d+\.\d\d ± 0\.00 % \| (0\.99|1\.00)× \| \d+\.\d\d ± 0\.00 % \|", md); // one model: keeping all is one accuracy
        Assert.Matches(@"\| 2 \| \d+\.\d\d× \| \d+\.\d\d ± \d+\.\d\d % \|", md);
        Assert.Contains("![accuracy vs compression](f.png)", md);

        // Rerunning trains nothing and prunes to the same records.
        var written = sides.SelectMany(s => s.ModelPaths).Select(File.GetLastWriteTimeUtc).ToArray();
        var again = CnnPrunability.Run(Tiny, DatasetKind.Mnist, _dir, data);
        Assert.Equal(written, again.SelectMany(s => s.ModelPaths).Select(File.GetLastWriteTimeUtc));
        Assert.Equal(sides.SelectMany(s => s.Records.Select(r => r.Accuracy)), again.SelectMany(s => s.Records.Select(r => r.Accuracy)));
    }

    [Fact]
    public void TheCommandRefusesThePaperBudgetAndModelPicksInOneLine()
    {
        var (code, _, err) = CliTestsAccess.Run("reproduce", "cnn-prunability", "--budget", "paper", "--results", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Equal("error: --budget paper: cnn-prunability has the budgets smoke and reduced (the paper has no CNN experiment to match), not 'paper'.", err.Trim());
        (code, _, err) = CliTestsAccess.Run("reproduce", "cnn-prunability", "--model", "ffcnn", "--results", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: --model applies to a sweep target's runs; cnn-prunability trains its own models", err.Trim());
        Assert.False(Directory.Exists(Path.Combine(_dir, "x")));
    }
}
