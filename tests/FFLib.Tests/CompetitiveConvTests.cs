using FFLib.Compute;
using FFLib.Gpu;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>The FF CNN's channel-wise competitive objective: its gradient, scores, files, GPU path, learning and refusals.</summary>
public class CompetitiveConvTests
{
    private static readonly ImageShape Grey8 = new(1, 8, 8);

    // 6 and 7 channels over 3 classes: groups of 2,2,2 and 3,2,2 (the uneven split is part of the check).
    private static FFConvNetwork Small(int seed = 3, FFRegularization? regularization = null) =>
        new(new FFConvNetworkConfig(new ConvStack(Grey8, [6, 7], ConvStack.Parse("3p,3")), 3, 0.5f, LossDirection.Minimize, 0.01f, LabelEncoding.Fourier)
            { Objective = ConvObjective.Competitive, Regularization = regularization ?? FFRegularization.None }, new FFRandom(seed));

    private static Matrix Images(int n, int seed = 9) => TestUtil.RandomMatrix(n, Grey8.Features, new FFRandom(seed));

    /// <summary>Class goodnesses of one layer's maps (rows × positions·C, NHWC) in double, by the definition.</summary>
    private static double[,] ClassGoodness(Matrix maps, int channels, int classes)
    {
        int positions = maps.Cols / channels;
        var g = new double[maps.Rows, classes];
        var size = new int[classes];
        for (int j = 0; j < channels; j++) size[j * classes / channels]++;
        for (int r = 0; r < maps.Rows; r++)
            for (int q = 0; q < positions; q++)
                for (int j = 0; j < channels; j++)
                {
                    double h = maps[r, q * channels + j];
                    g[r, j * classes / channels] += h * h / ((double)positions * size[j * classes / channels]);
                }
        return g;
    }

    private static double CrossEntropy(double[,] g, int[] labels)
    {
        double total = 0;
        int k = g.GetLength(1);
        for (int r = 0; r < labels.Length; r++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < k; c++) max = Math.Max(max, g[r, c]);
            double sum = 0;
            for (int c = 0; c < k; c++) sum += Math.Exp(g[r, c] - max);
            total += Math.Log(sum) + max - g[r, labels[r]];
        }
        return total / labels.Length;
    }

    /// <summary>
    /// Each layer's step gradient (weight and bias) against central finite differences of its loss,
    /// computed from the definition in double: layer 2 from layer 1's output under layer 1's new weights, as
    /// the greedy step trains it. Also the loss the step reports and the class scores of the last layer.
    /// </summary>
    [Fact]
    public void TheCompetitiveGradientMatchesFiniteDifferencesOfTheClassGoodnessCrossEntropy()
    {
        var images = Images(5);
        int[] labels = [0, 1, 2, 2, 1];
        var net = Small();
        var steps = new List<Modules.TrainingStep>();
        net.StepObserver = steps.Add;
        var probe = Small(); // same seed: the parameters before the step
        var losses = net.TrainBatch(images, labels, new Matrix(5, 3), TrainingPhase.ForwardForward);
        Assert.Equal(2, steps.Count);
        // Layer 1 of the probe takes the trained layer 1 (layer 2 learns from its new output).
        var trained = net.Parameters();
        for (int layer = 0; layer < 2; layer++)
        {
            if (layer == 1) for (int p = 0; p < 2; p++) trained[p].Data.CopyTo(probe.Parameters()[p].Data, 0);
            double Loss() => CrossEntropy(ClassGoodness(probe.LayerActivations(images, null)[layer], probe.Layers[layer].OutChannels, 3), labels);
            Assert.Equal(Loss(), losses[layer], 1e-4);
            for (int p = 0; p < 2; p++)
            {
                var data = probe.Parameters()[2 * layer + p].Data;
                var grad = steps[layer].Gradients[p];
                int checkedEntries = 0;
                for (int i = 0; i < data.Length; i++)
                {
                    float saved = data[i];
                    const float eps = 1e-2f;
                    data[i] = saved + eps; double up = Loss();
                    data[i] = saved - eps; double down = Loss();
                    data[i] = saved;
                    double fd = (up - down) / (2 * eps);
                    if (Math.Abs(fd) < 1e-4) continue; // a ReLU kink or an unused tap: nothing to compare
                    Assert.True(Math.Abs(fd - grad[i]) <= 2e-2 * Math.Abs(fd) + 2e-5, $"layer {layer + 1} {(p == 0 ? "weight" : "bias")}[{i}]: step gradient {grad[i]}, finite differences {fd}");
                    checkedEntries++;
                }
                Assert.True(checkedEntries > data.Length / 2, $"layer {layer + 1} {(p == 0 ? "weight" : "bias")}: only {checkedEntries} of {data.Length} entries compared");
            }
        }
        // Scores: the last layer's class goodnesses, highest wins.
        var expected = ClassGoodness(net.LayerActivations(images, null)[1], 7, 3);
        var scores = net.LabelScores(images);
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++) Assert.Equal(expected[r, c], scores[r, c], 1e-5 * Math.Max(1, Math.Abs(expected[r, c])));
        Assert.Equal(LossDirection.Maximize, net.ScoreDirection);
        Assert.Equal(Enumerable.Range(0, 5).Select(r => Enumerable.Range(0, 3).MaxBy(c => scores[r, c])).ToArray(), net.Predict(images));
    }

    [Fact]
    public void ChannelOwnershipIsContiguousAndCoversEveryClass()
    {
        Assert.Equal([0, 0, 0, 1, 1, 2, 2], Enumerable.Range(0, 7).Select(j => FFConvNetwork.ChannelClass(j, 7, 3)));
        Assert.Equal([0, 0, 1, 1, 2, 2], Enumerable.Range(0, 6).Select(j => FFConvNetwork.ChannelClass(j, 6, 3)));
        foreach (int channels in new[] { 10, 16, 40, 99 })
        {
            var owners = Enumerable.Range(0, channels).Select(j => FFConvNetwork.ChannelClass(j, channels, 10)).ToArray();
            Assert.Equal(Enumerable.Range(0, 10), owners.Distinct());
            Assert.Equal(owners.Order(), owners);
        }
    }

    [Fact]
    public void TheGpuBackendTrainsTheSameAsTheCpu()
    {
        using var gpu = GpuBackend.CreateSimulator();
        var images = Images(6);
        int[] labels = [0, 1, 2, 0, 1, 2];
        foreach (var regularization in new[] { FFRegularization.None, new FFRegularization { PeerNormalization = 0.3f, ActivityL1 = 0.01f } })
        {
            var (cpu, dev) = (Small(regularization: regularization), Small(regularization: regularization));
            dev.Backend = gpu;
            TestUtil.AssertClose(cpu.LabelScores(images).Data, dev.LabelScores(images).Data, 1e-4, "competitive scores");
            var (gc, gd) = (new List<float[]>(), new List<float[]>());
            cpu.StepObserver = st => gc.AddRange(st.Gradients.Select(g => g.ToArray()));
            dev.StepObserver = st => gd.AddRange(st.Gradients.Select(g => g.ToArray()));
            TestUtil.AssertClose(cpu.TrainBatch(images, labels, new Matrix(6, 3), TrainingPhase.ForwardForward), dev.TrainBatch(images, labels, new Matrix(6, 3), TrainingPhase.ForwardForward), 1e-4, "competitive losses");
            Assert.Equal(4, gd.Count);
            for (int i = 0; i < gc.Count; i++) TestUtil.AssertClose(gc[i], gd[i], 1e-3, $"competitive gradient {i}");
            dev.ReleaseDeviceMemory();
        }
    }

    [Fact]
    public void TheObjectiveRoundTripsThroughTheModelFile()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-cwc-").FullName;
        try
        {
            var images = Images(5);
            var net = Small();
            net.TrainBatch(images, [0, 1, 2, 0, 1], new Matrix(5, 3), TrainingPhase.ForwardForward);
            ModelCheckpoint.Save(Path.Combine(dir, "m.safetensors"), net);
            var back = (FFConvNetwork)ModelCheckpoint.Load(Path.Combine(dir, "m.safetensors")).Model;
            Assert.Equal(ConvObjective.Competitive, back.Config.Objective);
            Assert.Equal(net.LabelScores(images).Data, back.LabelScores(images).Data);
            // The default objective writes nothing new: existing model files keep their exact config.
            var contrast = new FFConvNetwork(net.Config with { Objective = ConvObjective.Contrast }, new FFRandom(1));
            Assert.False(contrast.ConfigToJson().ContainsKey("objective"));
            // A model file's cut-model keys, malformed: one FormatException naming the key.
            var arch = ArchitectureRegistry.Get("ffcnn");
            foreach (var (key, value) in new[] { ("channel_groups", "[[2,2,2],[3,2,1]]"), ("channel_groups", "[[2,2,2]]"), ("channel_groups", "[[2,2,\"x\"],[3,2,2]]"), ("input_scales", "[1, -2]") })
            {
                var config = net.ConfigToJson();
                config[key] = System.Text.Json.Nodes.JsonNode.Parse(value);
                var e = Assert.Throws<FormatException>(() => arch.FromConfig(config));
                Assert.Contains(key, e.Message);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// Cutting channels equals zeroing them: every surviving channel's map is the zeroed model's, each survivor
    /// keeps its class (uneven groups, a class emptied in layer 1), and the class scores are the means over the
    /// survivors. Through a model file and back, as `fflib prune` writes it.
    /// </summary>
    [Fact]
    public void ChannelPruningKeepsEachSurvivorsClassAndEqualsZeroing()
    {
        var images = Images(6);
        var net = Small();
        for (int i = 0; i < 3; i++) net.TrainBatch(images, [0, 1, 2, 0, 1, 2], new Matrix(6, 3), TrainingPhase.ForwardForward);
        int[][] ranking = [[5, 0, 1, 4, 2, 3], [6, 0, 3, 1, 2, 4, 5]]; // keep 4: layer 1 {0,1,4,5} (class 1 emptied), layer 2 {0,1,3,6}
        var pruned = (FFConvNetwork)NeuronPruning.Prune(net, ranking, keep: 4);
        Assert.Equal([2, 0, 2], pruned.ChannelGroupSizes(0));
        Assert.Equal([2, 1, 1], pruned.ChannelGroupSizes(1));
        string dir = Directory.CreateTempSubdirectory("fflib-cwcprune-").FullName;
        try
        {
            ModelCheckpoint.Save(Path.Combine(dir, "p.safetensors"), pruned);
            pruned = (FFConvNetwork)ModelCheckpoint.Load(Path.Combine(dir, "p.safetensors")).Model;
        }
        finally { Directory.Delete(dir, true); }

        var zeroed = Small();
        var (src, dst) = (net.Parameters(), zeroed.Parameters());
        for (int p = 0; p < src.Count; p++) src[p].Data.CopyTo(dst[p].Data, 0);
        int[][] kept = [[0, 1, 4, 5], [0, 1, 3, 6]];
        for (int l = 0; l < 2; l++)
            for (int j = 0; j < zeroed.Layers[l].OutChannels; j++)
                if (!kept[l].Contains(j))
                {
                    int patch = dst[2 * l].Data.Length / zeroed.Layers[l].OutChannels;
                    Array.Clear(dst[2 * l].Data, j * patch, patch);
                    dst[2 * l + 1].Data[j] = 0;
                }
        var (full, cut) = (zeroed.LayerActivations(images, null), pruned.LayerActivations(images, null));
        for (int l = 0; l < 2; l++)
        {
            int c = zeroed.Layers[l].OutChannels, positions = full[l].Cols / c;
            for (int r = 0; r < 6; r++)
                for (int q = 0; q < positions; q++)
                    for (int i = 0; i < 4; i++)
                        Assert.Equal(full[l][r, q * c + kept[l][i]], cut[l][r, q * 4 + i], 1e-5f);
        }
        // Class scores of the cut model: survivors' means (channels 0,1 → class 0; 3 → 1; 6 → 2 in layer 2).
        var scores = pruned.LabelScores(images);
        int positions2 = cut[1].Cols / 4;
        for (int r = 0; r < 6; r++)
        {
            double Mean(params int[] cols) => cols.Sum(i => Enumerable.Range(0, positions2).Sum(q => (double)cut[1][r, q * 4 + i] * cut[1][r, q * 4 + i])) / (positions2 * cols.Length);
            Assert.Equal(Mean(0, 1), scores[r, 0], 1e-5);
            Assert.Equal(Mean(2), scores[r, 1], 1e-5);
            Assert.Equal(Mean(3), scores[r, 2], 1e-5);
        }
    }

    [Fact]
    public void TooFewChannelsForTheClassesIsOneClearLine()
    {
        var settings = new ModelSettings { HiddenSizes = [16, 8] }.With(CnnSettings.Conv, "3p,3").With(CnnSettings.Objective, ConvObjective.Competitive);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ArchitectureRegistry.Get("ffcnn").Create(settings, 784, 10, new FFRandom(1)));
        Assert.Equal("objective", e.ParamName);
        Assert.Contains("layer 2 has only 8", e.Message);
    }

    /// <summary>No label in the input and no negatives: the competitive FF CNN learns the four textures within a few epochs.</summary>
    [Fact]
    public void TheCompetitiveObjectiveLearnsLocalTextures()
    {
        var train = ConvLearningTests.Textures(2000, 1);
        var test = ConvLearningTests.Textures(400, 2);
        var settings = new ModelSettings { HiddenSizes = [8, 8], LearningRate = 0.01f }
            .With(CnnSettings.Conv, "3p,3").With(CnnSettings.Objective, ConvObjective.Competitive);
        var model = ArchitectureRegistry.Get("ffcnn").Create(settings, 144, 4, new FFRandom(3));
        new Trainer().Train(model, train, null, new TrainingOptions { Epochs = 5, BatchSize = 20 }, new FFRandom(4));
        double accuracy = Evaluation.Accuracy(model, test);
        Assert.True(accuracy > 0.9, $"competitive FF CNN on four textures: {accuracy:P1} (chance 25%)");
    }
}
