using FFLib.Compute;
using FFLib.Gpu;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The regularisers on the FFRNN: the gradient of a layer's whole loss (FF loss + activity L1 + peer
/// normalisation) against central differences in double, the dead-neuron shortcut and the GPU backend
/// against the plain CPU path, and the default leaving training as it was (checkpoints: RegularizationTests).
/// </summary>
public sealed class RecurrentRegularizationTests
{
    private static readonly FFRegularization All = new() { PeerNormalization = 0.3f, ActivityL1 = 0.02f, WeightDecay = 0.1f };

    /// <summary>
    /// First frame, both layers: the analytic gradient (Wf, Wb, b) of the FF loss of the layer's new state h plus
    /// λ₁·mean_rows Σ_j h plus the peer loss of h taken straight through the ReLU (h̃ = h(z0) + β(z − z0)), with the
    /// swept states held fixed, against central differences.
    /// </summary>
    [Fact]
    public void LayerGradientWithPeerNormAndL1MatchesFiniteDifferences()
    {
        var reg = new FFRegularization { PeerNormalization = 40f, ActivityL1 = 0.3f }; // large: a 10% error in either term shows
        var cfg = new FFRecurrentConfig { ImageFeatures = 7, Classes = 3, HiddenSizes = [5, 4], Threshold = 0.3f, TrainFrames = 1, Beta = 0.7f, Regularization = reg };
        var net = new FFRecurrentNetwork(cfg, new FFRandom(31));
        var r = new FFRandom(32);
        const int batch = 4;
        var x = new Matrix(batch, 7);
        for (int i = 0; i < x.Length; i++) x.Data[i] = r.NextSingle();
        float[][] swept = [];
        var grads = new Dictionary<int, float[][]>();
        var p0 = net.Layers.Select(l => new[] { ToDouble(l.ForwardWeight.Data), ToDouble(l.BackwardWeight.Data), ToDouble(l.Bias) }).ToArray();
        net.SweepObserver = s => swept = s;
        net.StepObserver = s => grads[s.Layer] = s.Gradients.Select(g => (float[])g.Clone()).ToArray();
        net.TrainBatch(x, [0, 1, 2, 0], NegativeControl.OneHot([1, 2, 0, 2], 3), TrainingPhase.ForwardForward);

        var d = cfg.Dimensions;
        var startMeans = Enumerable.Repeat(FFRegularization.PeerInitialMean, 5).ToArray();
        for (int li = 0; li < 2; li++)
        {
            int i = li + 1, w = d[i], rows = 2 * batch;
            var layer = new Layer(swept[i - 1], swept[i], swept[i + 1], d[i - 1], w, d[i + 1], rows, cfg.Beta);
            var z0 = layer.Pre(p0[li]);
            var l1Only = new ActivityRegularizer(w, reg with { PeerNormalization = 0 });
            var peerOnly = new ActivityRegularizer(w, reg with { ActivityL1 = 0 });
            double Total(double[][] p)
            {
                var z = layer.Pre(p);
                var h = layer.State(z);
                var through = z.Select((v, k) => layer.State(z0, k) + cfg.Beta * (v - z0[k])).ToArray();
                return layer.FFLoss(h, cfg.Threshold, batch)
                    + l1Only.Loss(h, rows, batch, startMeans.AsSpan(0, w)) + peerOnly.Loss(through, rows, batch, startMeans.AsSpan(0, w));
            }
            double maxG = grads[li].SelectMany(g => g).Max(MathF.Abs);
            Assert.True(maxG > 1e-5);
            for (int which = 0; which < 3; which++)
                for (int k = 0; k < p0[li][which].Length; k++)
                {
                    double num = GradientCheckTests.Central(p0[li][which], k, 1e-6, q => Total(p0[li].Select((a, m) => m == which ? q : a).ToArray()));
                    Assert.True(Math.Abs(num - grads[li][which][k]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-8,
                        $"layer {i} parameter {which} [{k}]: analytic {grads[li][which][k]}, numeric {num}");
                }
        }
        // Without the regularisers the first layer's gradient differs: the check above saw their terms.
        var plain = new FFRecurrentNetwork(cfg with { Regularization = FFRegularization.None }, new FFRandom(31));
        float[] pw = [];
        plain.StepObserver = s => { if (s.Layer == 0) pw = (float[])s.Gradients[0].Clone(); };
        plain.TrainBatch(x, [0, 1, 2, 0], NegativeControl.OneHot([1, 2, 0, 2], 3), TrainingPhase.ForwardForward);
        Assert.True(pw.Zip(grads[0][0]).Max(t => MathF.Abs(t.First - t.Second)) > 1e-3f);
    }

    private static double[] ToDouble(float[] a) => a.Select(v => (double)v).ToArray();

    /// <summary>One FFRNN layer's maths in double, with its neighbours' states fixed.</summary>
    private sealed record Layer(float[] Below, float[] Self, float[] Above, int DIn, int W, int DUp, int Rows, float Beta)
    {
        public double[] Pre(double[][] p)
        {
            var z = new double[Rows * W];
            for (int r = 0; r < Rows; r++)
            {
                double nb = Norm(Below, r, DIn), na = Norm(Above, r, DUp);
                for (int j = 0; j < W; j++)
                {
                    double s = p[2][j];
                    for (int k = 0; k < DIn; k++) s += Below[r * DIn + k] / nb * p[0][j * DIn + k];
                    for (int k = 0; k < DUp; k++) s += Above[r * DUp + k] / na * p[1][j * DUp + k];
                    z[r * W + j] = s;
                }
            }
            return z;
        }

        public double State(double[] z, int k) => Beta * Math.Max(z[k], 0) + (1 - Beta) * Self[k];

        public double[] State(double[] z) => z.Select((_, k) => State(z, k)).ToArray();

        public double FFLoss(double[] h, float threshold, int batch)
        {
            double sum = 0;
            for (int r = 0; r < Rows; r++)
            {
                double g = 0;
                for (int j = 0; j < W; j++) g += h[r * W + j] * h[r * W + j] / W;
                double a = (r < batch ? 1 : -1) * (g - threshold); // L−: positives pushed below θ
                sum += Math.Max(a, 0) + Math.Log(1 + Math.Exp(-Math.Abs(a)));
            }
            return sum / Rows;
        }

        private static double Norm(float[] s, int r, int n) => Math.Sqrt(Enumerable.Range(0, n).Sum(k => (double)s[r * n + k] * s[r * n + k])) + 1e-4;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DeadNeuronShortcutKeepsTheBitsWithRegularizers(bool peer)
    {
        // As on the FFNN: L1 and weight decay leave a dead unit's δ at 0 and the shortcut runs; peer normalisation
        // reaches every unit and it stands aside. Either way the bits are the plain path's.
        var regularization = peer ? All : All with { PeerNormalization = 0 };
        var cfg = new FFRecurrentConfig { ImageFeatures = 30, Classes = 4, HiddenSizes = [24, 20], Threshold = 0.5f, TrainFrames = 3, Regularization = regularization };
        FFRecurrentNetwork Make(bool sparse)
        {
            var net = new FFRecurrentNetwork(cfg, new FFRandom(4)) { UseSparseGradient = sparse };
            for (int j = 0; j < 8; j++) { net.Layers[0].Bias[j] = -1e3f; net.Layers[1].Bias[j] = -1e3f; }
            return net;
        }
        var (on, off) = (Make(true), Make(false));
        var r = new FFRandom(5);
        var images = TestUtil.RandomMatrix(12, 30, r);
        var labels = Enumerable.Range(0, 12).Select(i => i % 4).ToArray();
        var neg = NegativeControl.OneHot(labels.Select(l => (l + 1) % 4).ToArray(), 4);
        for (int step = 0; step < 3; step++)
            Assert.Equal(off.TrainBatch(images, labels, neg, TrainingPhase.ForwardForward), on.TrainBatch(images, labels, neg, TrainingPhase.ForwardForward));
        if (peer) Assert.Equal(0, on.SparseGradientSteps);
        else Assert.True(on.SparseGradientSteps >= 6, $"{on.SparseGradientSteps} sparse steps");
        foreach (var (a, b) in off.Parameters().Concat(off.Buffers()).Zip(on.Parameters().Concat(on.Buffers())))
            Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), a.Name);
    }

    [Fact]
    public void GpuBackendMatchesTheCpu()
    {
        using var gpu = GpuBackend.CreateSimulator();
        var settings = new ModelSettings { HiddenSizes = [24, 16], LearningRate = 0.01f }.With(FFSettings.Threshold, 0.4f)
            .With(FFRecurrentSettings.TrainFrames, 3)
            .With(FFSettings.PeerNormalization, 0.3f).With(FFSettings.ActivityL1, 0.01f).With(FFSettings.WeightDecay, 0.1f);
        ITrainableModel Net() => Architecture.Ffrnn.Create(settings, 20, 4, new FFRandom(3));
        var (cpu, device) = (Net(), Net());
        ((Modules.ComputeModule)device).Backend = gpu;
        var r = new FFRandom(4);
        for (int step = 0; step < 3; step++)
        {
            var images = TestUtil.RandomMatrix(8, 20, r);
            int[] labels = [0, 1, 2, 3, 3, 2, 1, 0];
            var negative = NegativeControl.OneHot([1, 2, 3, 0, 0, 3, 2, 1], 4);
            cpu.TrainBatch(images, labels, negative, TrainingPhase.ForwardForward);
            device.TrainBatch(images, labels, negative, TrainingPhase.ForwardForward);
        }
        var (cm, dm) = ((Modules.Module)cpu, (Modules.Module)device);
        Assert.Equal(["layers.0.peer_running_mean", "layers.1.peer_running_mean"], cm.Buffers().Select(b => b.Name));
        foreach (var (a, b) in cm.Parameters().Concat(cm.Buffers()).Zip(dm.Parameters().Concat(dm.Buffers())))
        {
            Assert.Equal(a.Name, b.Name);
            for (int i = 0; i < a.Data.Length; i++)
                Assert.True(MathF.Abs(a.Data[i] - b.Data[i]) <= 1e-4f * MathF.Max(1, MathF.Abs(a.Data[i])), $"{a.Name}[{i}]: cpu {a.Data[i]}, gpu {b.Data[i]}");
        }
        Assert.NotEqual(FFRegularization.PeerInitialMean, cm.Buffers()[0].Data[0]);
    }

    [Fact]
    public void TheDefaultAddsNothing()
    {
        var net = (FFRecurrentNetwork)Architecture.Ffrnn.Create(new ModelSettings { HiddenSizes = [8] }, 10, 3, new FFRandom(1));
        Assert.True(net.Config.Regularization.IsNone);
        Assert.Null(net.Regularizers);
        Assert.Empty(net.Buffers());
        var config = net.ConfigToJson();
        foreach (var key in new[] { "peer_norm", "activity_l1", "weight_decay" }) Assert.False(config.ContainsKey(key), key);
        Assert.Equal(0f, net.Optimizers[0].Settings.WeightDecay);
        // A negative λ in a configuration names the regulariser.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FFRecurrentConfig { Regularization = new FFRegularization { ActivityL1 = -1 } }.Validate());
        Assert.Contains("ActivityL1", e.Message);
    }
}

/// <summary>Known answers of the dead-neuron count: columns of a dense layer, channels of a feature map.</summary>
public sealed class DeadNeuronCountTests
{
    [Fact]
    public void DenseColumnsAndMapChannelsHaveTheirKnownCounts()
    {
        // 3 rows × 4 units: unit 1 never positive, unit 3 negative or zero only.
        var dense = new Matrix(3, 4, [1, 0, 0, 0, 0, 0, 2, -1, 0, 0, 0, 0]);
        Assert.Equal(2, Analysis.DeadNeurons.Count(dense));
        // 2 rows × (2 positions × 3 channels), NHWC: channel 0 lives at position 1 of row 1 only, channel 2 never.
        var maps = new Matrix(2, 6, [0, 5, 0, 0, 0, 0, 0, 0, 0, 3, 0, -2]);
        Assert.Equal(1, Analysis.DeadNeurons.CountChannels(maps, 3));
        Assert.Throws<ArgumentException>(() => Analysis.DeadNeurons.CountChannels(maps, 4));
    }

    [Fact]
    public void AConvModelCountsDeadChannelsNotPositions()
    {
        var net = new FFConvNetwork(new FFConvNetworkConfig(new ConvStack(new ImageShape(1, 8, 8), [4, 6], ConvStack.Parse("3p,3")), 3, 0.5f, LossDirection.Minimize, 0.01f, LabelEncoding.Fourier), new FFRandom(3));
        net.Layers[0].Bias[2] = -1e3f; // channel 2 of layer 1 is off everywhere
        var images = TestUtil.RandomMatrix(5, 64, new FFRandom(4));
        var counts = Analysis.DeadNeurons.Count(net, images, [0, 1, 2, 0, 1], 3);
        Assert.Equal([4, 6], counts.Select(c => c.Neurons));
        Assert.InRange(counts[0].Dead, 1, 4);
        // The same activations counted per (position, channel) see that channel's 64 positions among the dead.
        var acts = net.LayerActivations(images, 0);
        Assert.True(Analysis.DeadNeurons.Count(acts[0]) >= 64);
    }
}
