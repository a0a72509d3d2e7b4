using FFLib.Data;
using FFLib.Compute;
using FFLib.Gpu;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>The FF CNN and the backprop CNN as models: gradients, checkpoints, channel pruning, the GPU backend, bad input.</summary>
public class ConvModelTests
{
    private static readonly ImageShape Grey8 = new(1, 8, 8);

    private static FFConvNetwork SmallFF(LabelEncoding labels = LabelEncoding.Fourier, ConvGoodness goodness = ConvGoodness.Map, int seed = 3, FFRegularization? regularization = null) =>
        new(new FFConvNetworkConfig(new ConvStack(Grey8, [4, 6], ConvStack.Parse("3p,3")), 3, 0.5f, LossDirection.Minimize, 0.01f, labels, goodness)
            { Regularization = regularization ?? FFRegularization.None }, new FFRandom(seed));

    private static readonly FFRegularization AllThree = new() { PeerNormalization = 0.3f, ActivityL1 = 0.01f, WeightDecay = 0.1f };

    private static BackpropConvNetwork SmallBP(int seed = 3) =>
        new(new BackpropConvNetworkConfig(new ConvStack(Grey8, [4, 6], ConvStack.Parse("3p,3")), 3, 0.01f), new FFRandom(seed));

    private static Matrix Images(int n, int seed = 9) => TestUtil.RandomMatrix(n, Grey8.Features, new FFRandom(seed));

    [Fact]
    public void BackpropConvGradientMatchesFiniteDifferences()
    {
        var net = SmallBP();
        var images = Images(4);
        int[] labels = [0, 2, 1, 2];
        IReadOnlyList<float[]> grads = [];
        float loss = 0;
        net.StepObserver = s => (grads, loss) = (s.Gradients.Select(g => g.ToArray()).ToArray(), s.Loss);
        var probe = SmallBP(); // same seed: the parameters before the step
        net.TrainBatch(images, labels, new Matrix(4, 3), TrainingPhase.Backprop);
        double Loss()
        {
            var z = probe.Logits(images);
            double total = 0;
            for (int r = 0; r < z.Rows; r++)
            {
                var row = z.Row(r).ToArray().Select(v => (double)v).ToArray();
                double max = row.Max(), lse = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
                total += lse - row[labels[r]];
            }
            return total / z.Rows;
        }
        Assert.Equal(Loss(), loss, 4);
        var ps = probe.Parameters();
        Assert.Equal(ps.Count, grads.Count);
        double maxG = grads.SelectMany(g => g).Max(v => Math.Abs(v));
        Assert.True(maxG > 1e-4, "the check needs a non-trivial gradient");
        int kinks = 0, checkedCount = 0;
        for (int t = 0; t < ps.Count; t++)
            for (int i = 0; i < ps[t].Data.Length; i += 5)
            {
                float keep = ps[t].Data[i];
                double mid = Loss();
                ps[t].Data[i] = keep + 1e-3f; double up = Loss();
                ps[t].Data[i] = keep - 1e-3f; double down = Loss();
                ps[t].Data[i] = keep;
                // A ReLU or max-pool switch inside ±h makes the one-sided slopes disagree: no derivative to check there.
                if (Math.Abs((up - mid) - (mid - down)) > 0.05 * (Math.Abs(up - mid) + Math.Abs(mid - down)) + 1e-7) { kinks++; continue; }
                double numeric = (up - down) / 2e-3;
                checkedCount++;
                Assert.True(Math.Abs(numeric - grads[t][i]) <= 1e-2 * (Math.Abs(numeric) + 0.1 * maxG) + 1e-4, $"{ps[t].Name}[{i}]: analytic {grads[t][i]}, numeric {numeric}");
            }
        Assert.True(checkedCount > 10 * Math.Max(1, kinks), $"{checkedCount} entries checked, {kinks} skipped at kinks");
    }

    /// <summary>Label channels through the tap-sum shortcut give the materialised planes' scores and training steps (relative 1e-4).</summary>
    [Theory]
    [InlineData(ConvGoodness.Map, "3p,3")]
    [InlineData(ConvGoodness.Position, "5,3p")]
    public void TheLabelPlaneShortcutMatchesMaterialisedPlanes(ConvGoodness goodness, string conv)
    {
        FFConvNetwork Make() => new(new FFConvNetworkConfig(new ConvStack(Grey8, [4, 6], ConvStack.Parse(conv)), 3, 0.5f, LossDirection.Minimize, 0.01f, LabelEncoding.Channels, goodness), new FFRandom(3));
        var (fast, plain) = (Make(), Make());
        plain.UseLabelPlaneShortcut = false;
        var images = Images(6);
        TestUtil.AssertClose(plain.LabelScores(images).Data, fast.LabelScores(images).Data, 1e-4, "scores before training");
        var steps = new List<(float[] Plain, float[] Fast)>();
        plain.StepObserver = st => steps.Add((st.Gradients[0].ToArray(), []));
        int seen = 0;
        fast.StepObserver = st => { steps[seen] = (steps[seen].Plain, st.Gradients[0].ToArray()); seen++; };
        for (int step = 0; step < 3; step++)
        {
            var negatives = NegativeControl.OneHot([(step + 1) % 3, 2, 0, 2, 0, 1], 3);
            var a = plain.TrainBatch(images, [0, 1, 2, 0, 1, 2], negatives, TrainingPhase.ForwardForward);
            var b = fast.TrainBatch(images, [0, 1, 2, 0, 1, 2], negatives, TrainingPhase.ForwardForward);
            TestUtil.AssertClose(a, b, 1e-4, $"losses, step {step}");
        }
        Assert.Equal(6, steps.Count);
        foreach (var (p, f) in steps) TestUtil.AssertClose(p, f, 1e-3, "weight gradient");
        var pp = plain.Parameters();
        var fp = fast.Parameters();
        for (int i = 0; i < pp.Count; i++) TestUtil.AssertClose(pp[i].Data, fp[i].Data, 1e-3, pp[i].Name);
        TestUtil.AssertClose(plain.LabelScores(images).Data, fast.LabelScores(images).Data, 1e-3, "scores after training");
        // Over two prediction chunks and every label (the shortcut splits W once per layer for the whole call).
        var many = Images(300, seed: 11);
        TestUtil.AssertClose(plain.LabelScores(many).Data, fast.LabelScores(many).Data, 1e-3, "scores of 300 images");
    }

    [Fact]
    public void CheckpointsRoundTripBothCnnsBitForBit()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-cnn-").FullName;
        try
        {
            var images = Images(5);
            var ff = SmallFF(LabelEncoding.Corner, ConvGoodness.Position);
            ff.TrainBatch(images, [0, 1, 2, 0, 1], NegativeControl.OneHot([1, 2, 0, 2, 0], 3), TrainingPhase.ForwardForward);
            ModelCheckpoint.Save(Path.Combine(dir, "ff.safetensors"), ff);
            var ffBack = (FFConvNetwork)ModelCheckpoint.Load(Path.Combine(dir, "ff.safetensors")).Model;
            Assert.Equal(ff.Config with { Stack = ff.Config.Stack }, ffBack.Config with { Stack = ff.Config.Stack });
            Assert.Equal(ff.LabelScores(images).Data, ffBack.LabelScores(images).Data);
            Assert.Equal([4, 3, 3, 1], ffBack.Parameters()[0].Shape);
            Assert.Equal([6, 3, 3, 4], ffBack.Parameters()[2].Shape);

            var bp = SmallBP();
            bp.TrainBatch(images, [0, 1, 2, 0, 1], new Matrix(5, 3), TrainingPhase.Backprop);
            ModelCheckpoint.Save(Path.Combine(dir, "bp.safetensors"), bp);
            var bpBack = (BackpropConvNetwork)ModelCheckpoint.Load(Path.Combine(dir, "bp.safetensors")).Model;
            Assert.Equal(bp.Logits(images).Data, bpBack.Logits(images).Data);
            Assert.Equal([3, 4, 4, 6], bpBack.Parameters().Single(p => p.Name == "classifier.weight").Shape);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>Pruning channels equals zeroing them: a clone whose removed channels' kernels and biases are 0 scores as the pruned model does.</summary>
    [Fact]
    public void ChannelPruningEqualsZeroingTheRemovedChannels()
    {
        var images = Images(6);
        foreach (IClassifierModel model in new IClassifierModel[] { SmallFF(), SmallBP() })
        {
            var ranking = NeuronPruning.RandomRanking(model, new FFRandom(5));
            var pruned = NeuronPruning.Prune(model, ranking, keep: 2);
            Assert.Equal([2, 2], NeuronPruning.HiddenWidths(pruned));
            var zeroed = ModelCheckpoint.Clone(model);
            var ps = zeroed.Parameters().ToDictionary(p => p.Name);
            for (int l = 0; l < 2; l++)
                foreach (int ch in ranking[l].Skip(2))
                {
                    var w = ps[$"layers.{l}.weight"];
                    Array.Clear(w.Data, ch * w.Cols, w.Cols);
                    ps[$"layers.{l}.bias"].Data[ch] = 0;
                }
            // Kept channels keep their order; the FF CNN's map goodness is a mean over channels, so compare maps, not scores.
            var a = ((IActivationSource)zeroed).LayerActivations(images, 1);
            var b = ((IActivationSource)pruned).LayerActivations(images, 1);
            for (int l = 0; l < 2; l++)
            {
                var kept = ranking[l].Take(2).Order().ToArray();
                int width = ((INeuronPrunable)model).HiddenWidths[l];
                var expected = new float[b[l].Length];
                for (int i = 0; i < expected.Length; i++) expected[i] = a[l].Data[i / 2 * width + kept[i % 2]];
                TestUtil.AssertClose(expected, b[l].Data, 1e-5, $"{model.Architecture.Id} layer {l + 1}: pruned vs zeroed");
            }
            if (model is BackpropConvNetwork) TestUtil.AssertClose(((BackpropConvNetwork)zeroed).Logits(images).Data, ((BackpropConvNetwork)pruned).Logits(images).Data, 1e-5, "logits");
        }
    }

    /// <summary>
    /// Both CNNs on the GPU backend (ILGPU's CPU accelerator; the convolution primitives through their
    /// host defaults) against the CPU: the same losses and gradients (relative 1e-4 of the largest).
    /// Not compared after a step: Adam's first step is ±lr by the gradient's sign, so an entry that sums
    /// to ~0 may step either way on two backends.
    /// </summary>
    [Fact]
    public void TheGpuBackendTrainsTheSameAsTheCpu()
    {
        using var gpu = GpuBackend.CreateSimulator();
        // Dyadic images and parameters (k/8, m/64): the backprop CNN's convolutions are then exact on
        // both backends whatever their summation order, so max-pooling and ReLU route every gradient
        // the same way, and its activations can be held bit-identical. (A failure once seen on CI, a
        // gradient of 0 against 0.021, was first put down to a pooling near-tie; its cause was a read
        // from the device into an unpinned array that a collection moved mid-copy, fixed in GpuBackend
        // and tested by GpuBackendTests.CopiesToAndFromTheHostSurviveCollectionsThatMoveArrays.)
        var images = Images(6);
        for (int i = 0; i < images.Length; i++) images.Data[i] = MathF.Round(images.Data[i] * 8) / 8;
        int[] labels = [0, 1, 2, 0, 1, 2];
        var negatives = NegativeControl.OneHot([1, 2, 0, 2, 0, 1], 3);
        foreach (var (cpu, dev, phase) in new (ITrainableModel, ITrainableModel, TrainingPhase)[]
                 { (SmallFF(), SmallFF(), TrainingPhase.ForwardForward), (SmallFF(LabelEncoding.Channels, ConvGoodness.Position), SmallFF(LabelEncoding.Channels, ConvGoodness.Position), TrainingPhase.ForwardForward),
                   (SmallFF(regularization: AllThree), SmallFF(regularization: AllThree), TrainingPhase.ForwardForward), (SmallBP(), SmallBP(), TrainingPhase.Backprop) })
        {
            foreach (var m in new[] { cpu, dev })
                foreach (var p in m.Parameters()) for (int i = 0; i < p.Data.Length; i++) p.Data[i] = MathF.Round(p.Data[i] * 64) / 64;
            ((Modules.ComputeModule)dev).Backend = gpu;
            if (cpu is BackpropConvNetwork bc)
            {
                var (ac, ad) = (bc.LayerActivations(images, null), ((BackpropConvNetwork)dev).LayerActivations(images, null));
                for (int l = 0; l < ac.Length; l++) Assert.True(ac[l].Data.AsSpan().SequenceEqual(ad[l].Data), $"bpcnn layer {l + 1}: the backends' activations differ in some bit");
            }
            // The forward path first (scores or logits, before any step), then one training step.
            Matrix Scores(ITrainableModel m) => m is ILabelScorer sc ? sc.LabelScores(images) : ((BackpropConvNetwork)m).Logits(images);
            TestUtil.AssertClose(Scores(cpu).Data, Scores(dev).Data, 1e-4, $"{cpu.Architecture.Id} scores");
            var (gc, gd) = (new List<float[]>(), new List<float[]>());
            ((Modules.ComputeModule)cpu).StepObserver = st => gc.AddRange(st.Gradients.Select(g => g.ToArray()));
            ((Modules.ComputeModule)dev).StepObserver = st => gd.AddRange(st.Gradients.Select(g => g.ToArray()));
            var a = cpu.TrainBatch(images, labels, negatives, phase);
            var b = dev.TrainBatch(images, labels, negatives, phase);
            TestUtil.AssertClose(a, b, 1e-4, $"{cpu.Architecture.Id} losses");
            Assert.Equal(gc.Count, gd.Count);
            for (int i = 0; i < gc.Count; i++) TestUtil.AssertClose(gc[i], gd[i], 1e-4, $"{cpu.Architecture.Id} gradient {i}");
            ((Modules.ComputeModule)dev).ReleaseDeviceMemory();
        }
    }

    [Fact]
    public void ColourImagesAreReadChannelMajorAsTheCifarReaderStoresThem()
    {
        // A 3-channel 32×32 net: an image whose only content is in channel 2 (channel-major) must equal the NHWC reference.
        var stack = new ConvStack(new ImageShape(3, 32, 32), [2], ConvStack.Parse("3"));
        var net = new BackpropConvNetwork(new BackpropConvNetworkConfig(stack, 2, 0.01f), new FFRandom(1));
        var chw = TestUtil.RandomMatrix(2, 3072, new FFRandom(2));
        var nhwc = new float[chw.Length];
        ConvKernels.ChannelMajorToNhwc(chw.Data, 2, 3, 32, 32, nhwc);
        var expected = new float[2 * 32 * 32 * 2];
        ConvKernels.ConvolveReference(nhwc, 2, stack.Geometry(0), net.Layers[0].Weight, 2, expected);
        for (int i = 0; i < expected.Length; i++) expected[i] = Math.Max(0, expected[i] + net.Layers[0].Bias[i % 2]);
        var act = net.LayerActivations(chw, null)[0];
        TestUtil.AssertClose(expected, act.Data, 1e-5, "colour conv");
        Assert.Equal(2 * 1024 * 2, act.Length);
        Assert.Equal(nhwc[3 * 5 + 1], chw.Data[1024 + 5]); // pixel 5 of channel 1
    }

    [Fact]
    public void BadSettingsAndImagesAreOneClearLine()
    {
        var arch = ArchitectureRegistry.Get("ffcnn");
        var settings = new ModelSettings { HiddenSizes = [8, 8] }.With(CnnSettings.Conv, "5p,3p,3");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => arch.Create(settings, 784, 10, new FFRandom(1)));
        Assert.Equal("conv", e.ParamName);
        Assert.Contains("3 layer(s)", e.Message);
        var big = Assert.Throws<ArgumentOutOfRangeException>(() => arch.Create(new ModelSettings { HiddenSizes = [8] }.With(CnnSettings.Conv, "31"), 784, 10, new FFRandom(1)));
        Assert.Contains("larger than its 28×28 input", big.Message);
        Assert.Throws<ArgumentException>(() => arch.Create(new ModelSettings { HiddenSizes = [8] }.With(CnnSettings.Conv, "3"), 785, 10, new FFRandom(1)));
        Assert.Throws<FormatException>(() => CnnSettings.Conv.Parse("32:5"));
        var net = SmallFF();
        var wrong = Assert.Throws<ArgumentException>(() => net.Predict(new Matrix(2, 784)));
        Assert.Contains("built for 1×8×8 images", wrong.Message);
    }
}

/// <summary>A CNN's layer drawn as one small image per channel.</summary>
public class FeatureMapPlotTests
{
    [Fact]
    public void TileChannelsPutsEachChannelInItsOwnTile()
    {
        // 3 channels of 2×2, NHWC: value = 10·channel + position.
        const int C = 3, H = 2, W = 2;
        var nhwc = new float[C * H * W];
        for (int p = 0; p < H * W; p++)
            for (int c = 0; c < C; c++) nhwc[p * C + c] = 10 * c + p;
        var (values, width, height) = FFLib.Plotting.Plots.TileChannels(nhwc, C, H, W);
        // ceil(sqrt(3)) = 2 tiles across, 2 down, one-cell gaps: 5 × 5 cells.
        Assert.Equal((5, 5), (width, height));
        Assert.Equal([0, 1, 0, 10, 11], values[0..5]);            // channel 0 row 0, gap, channel 1 row 0
        Assert.Equal([2, 3, 0, 12, 13], values[5..10]);
        Assert.Equal([0, 0, 0, 0, 0], values[10..15]);             // the gap row (the lowest value)
        Assert.Equal([20, 21, 0, 0, 0], values[15..20]);           // channel 2, then empty
        Assert.Throws<ArgumentException>(() => FFLib.Plotting.Plots.TileChannels(nhwc, 2, 2, 2));
    }
}

/// <summary>The FF CNN learns a task a shared local kernel can solve: the class is a texture present at every position.</summary>
public class ConvLearningTests
{
    /// <summary>12×12 grey images of one of four textures (horizontal, vertical, diagonal stripes, checkerboard), random phase and contrast.</summary>
    internal static ImageDataset Textures(int count, int seed)
    {
        var r = new FFRandom(seed);
        var pixels = new byte[count * 144];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int c = (int)(r.NextSingle() * 4) % 4, phase = (int)(r.NextSingle() * 4);
            float contrast = 0.5f + 0.5f * r.NextSingle();
            labels[i] = (byte)c;
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 12; x++)
                {
                    bool on = c switch { 0 => (y + phase) % 4 < 2, 1 => (x + phase) % 4 < 2, 2 => (x + y + phase) % 4 < 2, _ => ((x + phase) / 2 + y / 2) % 2 == 0 };
                    pixels[i * 144 + y * 12 + x] = (byte)Math.Clamp((on ? contrast : 0f) * 255 + 20 * r.NextSingle(), 0, 255);
                }
        }
        return new ImageDataset("textures", count, 144, 4, pixels, labels);
    }

    /// <summary>
    /// The linear head (as the FFNN+C): FF epochs, then the classifier on the frozen layers; one-pass
    /// prediction; its weight [classes, H, W, C] saved, reloaded and cut with the last layer's channels.
    /// </summary>
    [Fact]
    public void TheLinearHeadTrainsAfterTheFFLayersAndPrunesWithThem()
    {
        var train = Textures(2000, 1);
        var test = Textures(300, 2);
        var settings = new ModelSettings { HiddenSizes = [8, 8], LearningRate = 0.05f, Threshold = 1f }
            .With(CnnSettings.Conv, "3p,3").With(CnnSettings.Labels, LabelEncoding.Channels).With(CnnSettings.Goodness, ConvGoodness.Position)
            .With(CnnSettings.Head, ConvHead.Linear).With(FFClassifierSettings.ClassifierLearningRate, 1e-2f);
        var model = (FFConvNetwork)ArchitectureRegistry.Get("ffcnn").Create(settings, 144, 4, new FFRandom(3));
        Assert.Equal([TrainingPhase.ForwardForward, TrainingPhase.ForwardForward, TrainingPhase.Classifier], model.PlanEpochs(3));
        var metrics = new Trainer().Train(model, train, null, new TrainingOptions { Epochs = 40, BatchSize = 20 }, new FFRandom(4));
        Assert.Equal(["classifier"], metrics[^1].LossNames);
        Assert.Equal(3, model.AllOptimizers.Count); // one per FF layer, one for the classifier
        double accuracy = Evaluation.Accuracy(model, test);
        Assert.True(accuracy > 0.9, $"linear head on textures: {accuracy:P1}");

        string dir = Directory.CreateTempSubdirectory("fflib-cnnhead-").FullName;
        try
        {
            var images = test.ToMatrix(0, 50);
            ModelCheckpoint.Save(Path.Combine(dir, "m.safetensors"), model);
            var back = (FFConvNetwork)ModelCheckpoint.Load(Path.Combine(dir, "m.safetensors")).Model;
            Assert.Equal(model.Logits(images).Data, back.Logits(images).Data);
            Assert.Equal([4, 6, 6, 8], back.Parameters().Single(p => p.Name == "classifier.weight").Shape);
            var pruned = (FFConvNetwork)NeuronPruning.Prune(model, NeuronPruning.RandomRanking(model, new FFRandom(5)), keep: 5);
            Assert.Equal([4, 6, 6, 5], pruned.Parameters().Single(p => p.Name == "classifier.weight").Shape);
            Assert.Equal(50, pruned.Predict(images).Length);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// Label planes at every layer let a shared kernel tie the local texture to the label (100 % here at
    /// the seeds below); Hinton's corner pixels are invisible to almost every position, and the FF CNN
    /// stays near chance with them. θ = 1: at the FFNN's θ = 20 neither learns in these 3,000 steps.
    /// </summary>
    [Theory]
    [InlineData(LabelEncoding.Channels, ConvGoodness.Position, 0.9, 1.0)]
    [InlineData(LabelEncoding.Channels, ConvGoodness.Map, 0.9, 1.0)]
    [InlineData(LabelEncoding.Corner, ConvGoodness.Position, 0.0, 0.4)]
    public void LabelChannelsLetAnFFCnnLearnLocalTexturesAndCornerLabelsDoNot(LabelEncoding labels, ConvGoodness goodness, double low, double high)
    {
        var train = Textures(2000, 1);
        var test = Textures(400, 2);
        var settings = new ModelSettings { HiddenSizes = [8, 8], LearningRate = 0.05f, Threshold = 1f }
            .With(CnnSettings.Conv, "3p,3").With(CnnSettings.Labels, labels).With(CnnSettings.Goodness, goodness);
        var model = ArchitectureRegistry.Get("ffcnn").Create(settings, 144, 4, new FFRandom(3));
        new Trainer().Train(model, train, null, new TrainingOptions { Epochs = 30, BatchSize = 20 }, new FFRandom(4));
        double accuracy = Evaluation.Accuracy(model, test);
        Assert.True(accuracy >= low && accuracy <= high, $"{labels}/{goodness}: test accuracy {accuracy:P1} on four textures (chance 25%), expected in [{low:P0}, {high:P0}]");
    }
}

/// <summary>The command line's answers to bad CNN input: one line naming the option, before any data is read.</summary>
public class ConvCliTests
{
    [Fact]
    public void OnlyTheContrastiveObjectiveCarriesACaveat()
    {
        var ffcnn = Models.ArchitectureRegistry.Get("ffcnn");
        var settings = new Models.ModelSettings { HiddenSizes = [16] };
        Assert.Contains("objective competitive", Assert.Single(ffcnn.Caveats(settings)));
        Assert.Empty(ffcnn.Caveats(settings.With(Models.CnnSettings.Objective, Models.ConvObjective.Competitive)));
        Assert.Empty(Models.ArchitectureRegistry.Get("ffnn").Caveats(settings));
    }

    /// <summary>Only a model with a classifier trained later says its FF epochs' validation waits for it.</summary>
    [Theory]
    [InlineData("goodness", false)]
    [InlineData("linear", true)]
    public void TheClassifierNoteAppearsOnlyWithTheLinearHead(string head, bool note)
    {
        var dir = Path.Combine(Path.GetTempPath(), "fflib-cnnhead-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, _, err) = CliTestsAccess.Run(["train", "--model", "ffcnn", "--layers", "4", "--conv", "3p", "--head", head, "--epochs", "2",
                "--train-limit", "300", "--test-limit", "50", "--no-download", "--out", dir]);
            Assert.True(code == 0, err);
            Assert.Equal(note, err.Contains("through the classifier", StringComparison.Ordinal));
            // The default (contrastive) objective is named as not learning MNIST, in one note line.
            Assert.Single(err.Split('\n'), l => l.StartsWith("note: the contrastive objective", StringComparison.Ordinal));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("ffcnn", "--layers 8 --conv 31", "--layers 8 --conv 31: layer 1's 31×31 kernel is larger than its 28×28 input (mnist images).")]
    [InlineData("bpcnn", "--layers 8,8,8,8,8 --conv 3p,3p,3p,3p,3p", "layer 5's 3×3 kernel is larger than its 1×1 input")]
    [InlineData("ffcnn", "--layers 0 --conv 3", "--layers: '0' is not a positive count.")]
    [InlineData("ffcnn", "--layers 8 --conv 32:5", "--conv: '32:5' is not a list of kernel sides")]
    [InlineData("ffcnn", "--layers 8,8 --conv 3", "describes 1 layer(s) but the layer widths give 2 channel count(s)")]
    [InlineData("ffcnn", "--layers 8 --conv 4", "kernels are odd")]
    [InlineData("bpcnn", "--layers 8 --conv 3 --label-encoding corner", "--label-encoding is a setting of ffcnn; bpcnn has no such setting")]
    [InlineData("ffcnn", "--layers 8 --conv 3 --goodness pixel", "'pixel' is not one of map, position")]
    [InlineData("ffcnn", "--layers 10 --conv 3 --batch-norm on", "competitive objective only")]
    public void BadCnnInputIsOneClearLine(string model, string options, string expected)
    {
        var dir = Path.Combine(Path.GetTempPath(), "fflib-badcnn-" + Guid.NewGuid().ToString("N"));
        var (code, _, err) = CliTestsAccess.Run(["train", "--model", model, .. options.Split(' '), "--epochs", "1", "--data-dir", dir, "--no-download", "--out", dir]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.False(Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Any(), "nothing is written");
    }
}
