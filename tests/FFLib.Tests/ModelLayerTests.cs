using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Pruning;
using Xunit;

namespace FFLib.Tests;

/// <summary>Modules and named parameters, the architecture registry, and what generic code does with them.</summary>
public sealed class ModelLayerTests
{
    private static IClassifierModel Make(string id) => id switch
    {
        "ffnn" => new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [7, 5] }, new FFRandom(1)),
        "ffc" => new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [7, 5] }, 1e-3f, new FFRandom(1)),
        "ffrnn" => new FFRecurrentNetwork(new FFRecurrentConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [7, 5] }, new FFRandom(1)),
        _ => new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [7, 5] }, new FFRandom(1)),
    };

    [Theory]
    [InlineData("ffnn", "layers.0.weight [7, 15]|layers.0.bias [7]|layers.1.weight [5, 7]|layers.1.bias [5]")]
    [InlineData("ffc", "layers.0.weight [7, 15]|layers.0.bias [7]|layers.1.weight [5, 7]|layers.1.bias [5]|classifier.weight [3, 12]|classifier.bias [3]")]
    [InlineData("ffrnn", "layers.0.forward_weight [7, 12]|layers.0.backward_weight [7, 5]|layers.0.bias [7]|layers.1.forward_weight [5, 7]|layers.1.backward_weight [5, 3]|layers.1.bias [5]")]
    [InlineData("bpnn", "layers.0.weight [7, 12]|layers.0.bias [7]|layers.1.weight [5, 7]|layers.1.bias [5]|layers.2.weight [3, 5]|layers.2.bias [3]")]
    public void EveryModelListsItsParametersByName(string id, string expected)
    {
        var model = Make(id);
        Assert.Equal(expected, string.Join("|", model.Parameters().Select(p => $"{p.Name} {p.ShapeText}")));
        Assert.All(model.Parameters(), p => Assert.Equal(p.Shape.Aggregate(1, (a, b) => a * b), p.Data.Length));
        Assert.Same(model.Architecture, ArchitectureRegistry.Get(id));
    }

    [Fact]
    public void ParametersAreTheLiveArrays()
    {
        var net = (FFNetwork)Make("ffnn");
        Assert.Same(net.Layers[1].Weight.Data, ((Modules.Module)net).GetParameter("layers.1.weight").Data);
        var e = Assert.Throws<KeyNotFoundException>(() => ((Modules.Module)net).GetParameter("layers.9.weight"));
        Assert.Contains("layers.0.weight", e.Message);
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffc")]
    [InlineData("ffrnn")]
    [InlineData("bpnn")]
    public void CloneIsDeepAndPredictsTheSame(string id)
    {
        var model = Make(id);
        var copy = ModelCheckpoint.Clone(model);
        Assert.Equal(model.GetType(), copy.GetType());
        Assert.Equal(model.ConfigToJson().ToJsonString(), copy.ConfigToJson().ToJsonString());
        var images = TestUtil.RandomMatrix(20, 12, new FFRandom(9));
        Assert.Equal(model.Predict(images), copy.Predict(images));
        foreach (var (a, b) in model.Parameters().Zip(copy.Parameters()))
        {
            Assert.Equal(a.Data, b.Data);
            Assert.NotSame(a.Data, b.Data);
        }
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffc")]
    [InlineData("ffrnn")]
    [InlineData("bpnn")]
    public void ConfigRoundTripsThroughTheArchitecture(string id)
    {
        var model = Make(id);
        var json = model.ConfigToJson();
        var rebuilt = model.Architecture.FromConfig(JsonNode.Parse(json.ToJsonString())!.AsObject());
        Assert.Equal(json.ToJsonString(), rebuilt.ConfigToJson().ToJsonString());
        Assert.All(rebuilt.Parameters(), p => Assert.All(p.Data, v => Assert.Equal(0f, v)));
    }

    [Fact]
    public void RegistryLooksUpIdsAndAliasesAndRefusesClashes()
    {
        Assert.Same(Architecture.Ffc, ArchitectureRegistry.Get("FFNN+C"));
        Assert.Null(ArchitectureRegistry.Find("nope"));
        var e = Assert.Throws<ArgumentException>(() => ArchitectureRegistry.Get("nope"));
        Assert.Contains("ffnn, ffc, ffrnn, bpnn", e.Message);
        var clash = Assert.Throws<ArgumentException>(() => ArchitectureRegistry.Register(new Clashing()));
        Assert.Contains("already taken", clash.Message);
    }

    private sealed class Clashing : Architecture
    {
        public override string Id => "ffnn";
        public override string DisplayName => "clash";
        public override string Description => "";
        public override IClassifierModel FromConfig(JsonObject config) => throw new NotSupportedException();
        public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random) => throw new NotSupportedException();
    }

    [Fact]
    public void NeuronSlicesOfFfcIncludeTheClassifierColumnsAtTheLayerOffset()
    {
        var ffc = (INeuronPrunable)Make("ffc");
        Assert.Contains(new NeuronSlice("classifier.weight", 1, 7), ffc.NeuronSlices(1));
        Assert.Contains(new NeuronSlice("layers.1.weight", 1, 0), ffc.NeuronSlices(0));
        var pruned = NeuronPruning.Prune((IClassifierModel)ffc, [[6, 0, 1, 2, 3, 4, 5], [4, 3, 2, 1, 0]], keep: 2);
        // Kept: layer 1 neurons {0, 6}, layer 2 neurons {3, 4}: the classifier keeps columns 0, 6, 7 + 3, 7 + 4.
        var before = ((FFClassifierNetwork)ffc).Classifier.Weight;
        var after = ((FFClassifierNetwork)pruned).Classifier.Weight;
        for (int r = 0; r < 3; r++)
            Assert.Equal(new[] { before[r, 0], before[r, 6], before[r, 10], before[r, 11] }, after.Row(r).ToArray());
    }

    [Fact]
    public void ConcurrentFfcScoringGivesTheSequentialResults()
    {
        var ffc = new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 30, Classes = 4, HiddenSizes = [80, 60] }, 1e-3f, new FFRandom(1));
        var r = new FFRandom(3);
        var sets = Enumerable.Range(0, 8).Select(k => TestUtil.RandomMatrix(300 + 17 * k, 30, r)).ToArray();
        var expected = sets.Select(m => ffc.ClassScores(m).Data).ToArray();
        Parallel.For(0, sets.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            i => Assert.Equal(expected[i % sets.Length], ffc.ClassScores(sets[i % sets.Length]).Data));
    }

    [Fact]
    public void StepObserverDoesNotChangeTheTrainingPath()
    {
        // Two identical networks, one observed: same sparse-gradient steps taken, same weights after.
        FFNetwork Net()
        {
            var net = new FFNetwork(new FFNetworkConfig { ImageFeatures = 30, Classes = 4, HiddenSizes = [60, 60], Threshold = 0.5f }, new FFRandom(5));
            // Half of layer 2 silenced (its inputs are normalised, so |x̂·w| ≤ 1 < 5): the dead-neuron path is taken.
            for (int j = 0; j < 30; j++) net.Layers[1].Bias[j] = -5f;
            return net;
        }
        var plain = Net();
        var observed = Net();
        int calls = 0;
        observed.StepObserver = s => calls++;
        var r = new FFRandom(6);
        for (int step = 0; step < 6; step++)
        {
            var images = TestUtil.RandomMatrix(16, 30, r);
            var labels = Enumerable.Range(0, 16).Select(i => (i + step) % 4).ToArray();
            var wrong = labels.Select(l => (l + 1) % 4).ToArray();
            plain.TrainBatch(images, labels, wrong);
            observed.TrainBatch(images, labels, wrong);
        }
        Assert.Equal(12, calls);
        Assert.True(plain.SparseGradientSteps > 0, "the dead-neuron path was not exercised");
        Assert.Equal(plain.SparseGradientSteps, observed.SparseGradientSteps);
        foreach (var (a, b) in plain.Parameters().Zip(observed.Parameters())) Assert.Equal(a.Data, b.Data);
    }

    [Fact]
    public void PublicBuildingBlocksMatchTheNetworkStep()
    {
        // One FF step written from the public blocks equals FFNetwork's own step on the plain path.
        var config = new FFNetworkConfig { ImageFeatures = 10, Classes = 3, HiddenSizes = [8], Threshold = 0.3f };
        var net = new FFNetwork(config, new FFRandom(2));
        net.UseInputIdentity = false;
        net.UseSparseGradient = false;
        var layer = new FFDenseLayer(net.Layers[0].Weight.Clone(), (float[])net.Layers[0].Bias.Clone());
        var adam = new Optim.AdamOptimizer(new Optim.AdamSettings(config.LearningRate), layer.Weight.Data, layer.Bias);
        var images = TestUtil.RandomMatrix(5, 10, new FFRandom(3));
        int[] labels = [0, 1, 2, 0, 1], wrong = [1, 2, 0, 2, 0];
        float expectedLoss = net.TrainBatch(images, labels, wrong)[0];

        var x = Matrix.ConcatRows(LabelProbe.WithLabels(images, labels, 3), LabelProbe.WithLabels(images, wrong, 3));
        var h = layer.Forward(x);
        var coef = new float[h.Rows];
        float loss = FFLoss.LossAndRowCoefficients(FFDenseLayer.MeanSquares(h), 5, config.Threshold, config.Loss, h.Cols, coef);
        var (gw, gb) = (new float[layer.Weight.Length], new float[layer.OutFeatures]);
        layer.Gradients(x, h, coef, gw, gb);
        adam.Step([gw, gb]);
        Assert.Equal(expectedLoss, loss);
        Assert.Equal(net.Layers[0].Weight.Data, layer.Weight.Data);
        Assert.Equal(net.Layers[0].Bias, layer.Bias);
    }

    [Fact]
    public void CheckpointsWrittenBeforeModelSettingsStillResumeWithTheirSettings()
    {
        // The spec JSON of an older checkpoint: BPNN widths and rate under "Backprop", FFRNN dynamics under "Recurrent".
        const string bpnn = """{"Architecture":"Bpnn","Dataset":"Mnist","Model":{"ImageFeatures":784,"Classes":10,"HiddenSizes":[40,30],"Threshold":20,"Loss":"Minimize","LearningRate":0.02},"ClassifierLearningRate":0.001,"Recurrent":{"Beta":0.5,"TrainFrames":2,"TestFrameLow":3,"TestFrameHigh":8},"Backprop":{"HiddenSizes":[50,20],"LearningRate":0.0003},"Seed":7}""";
        var spec = Training.TrainingCheckpoint.ReadSpec(bpnn)!;
        Assert.Same(Architecture.Bpnn, spec.Architecture);
        Assert.Equal([50, 20], spec.Model.HiddenSizes);
        Assert.Equal(0.0003f, spec.Model.LearningRateFor(spec.Architecture));
        Assert.Equal((0.5f, 2, 0.001f), (spec.Model.Beta, spec.Model.TrainFrames, spec.Model.ClassifierLearningRate));
        Assert.Equal(7, spec.Seed);
        var ffrnn = Training.TrainingCheckpoint.ReadSpec(bpnn.Replace("\"Bpnn\"", "\"Ffrnn\""))!;
        Assert.Equal([40, 30], ffrnn.Model.HiddenSizes);
        Assert.Equal(0.02f, ffrnn.Model.LearningRateFor(ffrnn.Architecture));
    }

    [Fact]
    public void CpuBackendOperationsAreTheSpanKernels()
    {
        var be = ComputeBackend.Cpu;
        var r = new FFRandom(4);
        var x = TestUtil.RandomMatrix(6, 9, r);
        var device = be.Attach(x.Data);
        Assert.Equal(x.Data, be.Read(device.All).ToArray());
        var norms = be.Allocate(6);
        be.InverseRowNorms(device.All, 6, 9, norms.All);
        var expected = new float[6];
        Kernels.InverseRowNorms(x.Data, 6, 9, expected);
        Assert.Equal(expected, be.Read(norms.All).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Slice(50, 10));
    }
}
