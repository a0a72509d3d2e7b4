using FFLib.Compute;
using FFLib.Gpu;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Optim;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Peer normalisation, activity L1 and decoupled weight decay: finite-difference checks of their
/// gradients, AdamW's decay against its formula, the CPU's shortcuts and the GPU backend against the
/// plain CPU path, checkpoints, and the default leaving training as it was.
/// </summary>
public sealed class RegularizationTests
{
    private static readonly FFRegularization All = new() { PeerNormalization = 0.3f, ActivityL1 = 0.02f, WeightDecay = 0.1f };

    [Theory]
    [InlineData(0.3f, 0f)]
    [InlineData(0f, 0.05f)]
    [InlineData(0.3f, 0.05f)]
    public void ActivityGradientMatchesFiniteDifferences(float peer, float l1)
    {
        const int rows = 8, positives = 4, n = 6;
        var reg = new ActivityRegularizer(n, new FFRegularization { PeerNormalization = peer, ActivityL1 = l1 });
        var r = new FFRandom(3);
        var z = new float[rows * n];
        for (int i = 0; i < z.Length; i++)
        {
            float v = r.NextSingle() * 2 - 1;
            z[i] = MathF.Abs(v) < 0.05f ? 0.3f : v; // away from the ReLU's kink
        }
        var before = Enumerable.Range(0, n).Select(_ => r.NextSingle()).ToArray();
        var be = ComputeBackend.Cpu;
        var h = z.Select(v => MathF.Max(v, 0)).ToArray();
        var running = (float[])before.Clone();
        var grad = new float[rows * n];
        reg.Gradient(be, be.Attach(h).All, rows, positives, be.Attach(running).All, be.Allocate(reg.ScratchLength).All, be.Attach(grad).All);

        // L1 through the ReLU (∂/∂z); peer normalisation straight through it (∂/∂h, also where z < 0).
        var l1Only = new ActivityRegularizer(n, new FFRegularization { ActivityL1 = l1 });
        var peerOnly = new ActivityRegularizer(n, new FFRegularization { PeerNormalization = peer });
        var z0 = z.Select(v => (double)v).ToArray();
        var h0 = z0.Select(v => Math.Max(v, 0)).ToArray();
        const double step = 1e-3;
        double maxG = grad.Max(MathF.Abs);
        Assert.True(maxG > 1e-4, "the check needs a non-trivial gradient");
        for (int i = 0; i < z0.Length; i++)
        {
            double Numeric(double[] at, Func<double[], double> loss)
            {
                var q = (double[])at.Clone();
                q[i] = at[i] + step; double up = loss(q);
                q[i] = at[i] - step; double down = loss(q);
                return (up - down) / (2 * step);
            }
            double numeric = Numeric(z0, zz => l1Only.Loss(zz.Select(v => Math.Max(v, 0)).ToArray(), rows, positives, before))
                + Numeric(h0, hh => peerOnly.Loss(hh, rows, positives, before));
            Assert.True(Math.Abs(numeric - grad[i]) <= 2e-3 * (Math.Abs(numeric) + 0.1 * maxG) + 1e-7, $"∂/∂z[{i}]: analytic {grad[i]}, numeric {numeric}");
        }
        if (peer != 0) Assert.Contains(Enumerable.Range(0, positives * n), i => z[i] < 0 && grad[i] != 0); // reaches units that are off
        // The running means moved by this batch: r ← 0.9 r + 0.1 · mean over positives.
        for (int j = 0; j < n; j++)
        {
            double mean = Enumerable.Range(0, positives).Average(i => (double)h[i * n + j]);
            Assert.Equal(peer == 0 ? before[j] : 0.9 * before[j] + 0.1 * mean, running[j], 5);
        }
    }

    [Fact]
    public void LayerGradientWithPeerNormAndL1MatchesFiniteDifferencesOfTheWholeLoss()
    {
        const int img = 9, classes = 3, width = 6, batch = 5;
        var reg = new FFRegularization { PeerNormalization = 40f, ActivityL1 = 0.3f }; // large enough that a 10% error in either term shows
        var cfg = new FFNetworkConfig { ImageFeatures = img, Classes = classes, HiddenSizes = [width], Threshold = 0.05f, Regularization = reg };
        var net = new FFNetwork(cfg, new FFRandom(7));
        var rng = new FFRandom(8);
        var images = TestUtil.RandomMatrix(batch, img, rng);
        int[] labels = [0, 1, 2, 1, 0], neg = [1, 2, 0, 0, 2];
        var w0 = net.Layers[0].Weight.Data.Select(x => (double)x).ToArray();
        var b0 = net.Layers[0].Bias.Select(x => (double)x).ToArray();
        float[] gw = [], gb = [];
        net.StepObserver = s => { gw = s.Gradients[0].ToArray(); gb = s.Gradients[1].ToArray(); };
        net.TrainBatch(images, labels, neg);

        var x = GradientCheckTests.BuildInputs(images, labels, neg, img, classes);
        var startMeans = Enumerable.Repeat(FFRegularization.PeerInitialMean, width).ToArray();
        // The gradient it checks: L1 through the ReLU, peer normalisation straight through it — the derivative at
        // (w0, b0) of the peer loss of h̃ = ReLU(z0) + (z − z0).
        var l1Only = new ActivityRegularizer(width, reg with { PeerNormalization = 0 });
        var peerOnly = new ActivityRegularizer(width, reg with { ActivityL1 = 0 });
        var z0 = PreActivations(x, w0, b0, width, cfg.InputFeatures);
        double Total(double[] w, double[] b)
        {
            double ff = GradientCheckTests.Loss(x, w, b, width, cfg.InputFeatures, batch, cfg.Threshold, cfg.Loss);
            var z = PreActivations(x, w, b, width, cfg.InputFeatures);
            var h = z.Select(v => Math.Max(v, 0)).ToArray();
            var through = z.Select((v, i) => Math.Max(z0[i], 0) + (v - z0[i])).ToArray();
            return ff + l1Only.Loss(h, x.Length, batch, startMeans) + peerOnly.Loss(through, x.Length, batch, startMeans);
        }
        const double step = 1e-6;
        double maxG = gw.Concat(gb).Max(MathF.Abs);
        for (int i = 0; i < w0.Length; i++)
        {
            double num = GradientCheckTests.Central(w0, i, step, p => Total(p, b0));
            Assert.True(Math.Abs(num - gw[i]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-8, $"dL/dW[{i}]: analytic {gw[i]}, numeric {num}");
        }
        for (int j = 0; j < b0.Length; j++)
        {
            double num = GradientCheckTests.Central(b0, j, step, p => Total(w0, p));
            Assert.True(Math.Abs(num - gb[j]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-8, $"dL/db[{j}]: analytic {gb[j]}, numeric {num}");
        }
        // Without the regularisers the gradient differs: the check above saw their terms.
        var plain = new FFNetwork(cfg with { Regularization = FFRegularization.None }, new FFRandom(7));
        float[] pw = [];
        plain.StepObserver = s => pw = s.Gradients[0].ToArray();
        plain.TrainBatch(images, labels, neg);
        Assert.True(pw.Zip(gw).Max(t => MathF.Abs(t.First - t.Second)) > 1e-4 * maxG);
    }

    [Fact]
    public void WeightDecayIsDecoupledAsAdamWAndSkipsBiases()
    {
        var r = new FFRandom(2);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => r.NextSingle() - 0.5f).ToArray();
        var (p, g) = (Random(40), Random(40));
        var decayed = (float[])p.Clone();
        var expected = (float[])p.Clone();
        new AdamOptimizer(new AdamSettings(0.01f, WeightDecay: 0.5f), decayed).Step([g]);
        // AdamW: w·(1 − lr·λ), then the plain Adam step.
        for (int i = 0; i < expected.Length; i++) expected[i] *= 1 - 0.01f * 0.5f;
        new AdamOptimizer(new AdamSettings(0.01f), expected).Step([g]);
        Assert.Equal(expected, decayed);

        // Over a layer's parameters the matrix decays and the bias does not (zero gradient: Adam moves nothing).
        var layer = new FFDenseLayer(4, 3, new FFRandom(1));
        layer.Bias.AsSpan().Fill(0.25f);
        var weight = (float[])layer.Weight.Data.Clone();
        new AdamOptimizer(new AdamSettings(0.1f, WeightDecay: 0.2f), layer.Parameters()).Step([new float[12], new float[3]]);
        Assert.Equal(weight.Select(w => w * (1 - 0.1f * 0.2f)), layer.Weight.Data);
        Assert.All(layer.Bias, b => Assert.Equal(0.25f, b));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamOptimizer(new AdamSettings(0.1f, WeightDecay: -1f), p));
    }

    [Fact]
    public void FusedAdamWOnTheCpuGivesTheBitsOfDecayThenStep()
    {
        // The CPU fuses the decay into its Adam kernel; the default (a backend of primitives only) decays in
        // its own pass first. Same bits, over a vector length that exercises the SIMD body and the scalar tail.
        var r = new FFRandom(6);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => r.NextSingle() - 0.5f).ToArray();
        var (p, g) = (Random(1037), Random(1037));
        var (q, h) = (Random(13), Random(13));
        float[][] Run(ComputeBackend be)
        {
            var arrays = new[] { (float[])p.Clone(), (float[])g.Clone(), new float[p.Length], new float[p.Length], (float[])q.Clone(), (float[])h.Clone(), new float[q.Length], new float[q.Length] };
            var s = arrays.Select(a => be.Attach(a).All).ToArray();
            for (int step = 1; step <= 3; step++)
                be.AdamWSteps([s[0], s[4]], [s[1], s[5]], [s[2], s[6]], [s[3], s[7]], 0.01f, 0.9f, 0.999f, 1e-8f, step, 1 - 0.01f * 0.3f, [true, false]);
            return s.Select(x => be.Read(x).ToArray()).ToArray();
        }
        var fused = Run(ComputeBackend.Cpu);
        var plain = Run(new PrimitivesOnlyBackend(ComputeBackend.Cpu));
        for (int i = 0; i < fused.Length; i++) Assert.Equal(plain[i], fused[i]);
        Assert.NotEqual(p, fused[0]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DeadNeuronShortcutKeepsTheBitsWithRegularizers(bool peer)
    {
        // Peer normalisation reaches dead units (straight through the ReLU): no column is then silent and the
        // shortcut stands aside; without it, L1 and weight decay leave dead units' deltas at 0 and it runs.
        var regularization = peer ? All : All with { PeerNormalization = 0 };
        var cfg = new FFNetworkConfig { ImageFeatures = 40, Classes = 5, HiddenSizes = [30, 30, 20], Threshold = 0.5f, Regularization = regularization };
        FFNetwork Make(bool sparse)
        {
            var net = new FFNetwork(cfg, new FFRandom(4)) { UseSparseGradient = sparse };
            for (int j = 0; j < 10; j++) { net.Layers[1].Bias[j] = -1e3f; net.Layers[2].Bias[j] = -1e3f; }
            return net;
        }
        var (on, off) = (Make(true), Make(false));
        var r = new FFRandom(5);
        var images = TestUtil.RandomMatrix(24, 40, r);
        var labels = Enumerable.Range(0, 24).Select(i => i % 5).ToArray();
        var neg = labels.Select(l => (l + 2) % 5).ToArray();
        for (int step = 0; step < 4; step++) Assert.Equal(off.TrainBatch(images, labels, neg), on.TrainBatch(images, labels, neg));
        if (peer) Assert.Equal(0, on.SparseGradientSteps);
        else Assert.True(on.SparseGradientSteps >= 8, $"{on.SparseGradientSteps} sparse steps");
        foreach (var (a, b) in off.Parameters().Concat(off.Buffers()).Zip(on.Parameters().Concat(on.Buffers())))
            Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), a.Name);
        // Decay reached the dead neurons' rows too (their Adam step is zero).
        var fresh = Make(true);
        Assert.NotEqual(fresh.Layers[1].Weight.Data[0], on.Layers[1].Weight.Data[0]);
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffc")]
    public void GpuBackendMatchesTheCpuWithRegularizers(string id)
    {
        using var gpu = GpuBackend.CreateSimulator();
        var settings = new ModelSettings { HiddenSizes = [24, 16], LearningRate = 0.01f }.With(FFSettings.Threshold, 0.4f)
            .With(FFSettings.PeerNormalization, 0.3f).With(FFSettings.ActivityL1, 0.01f).With(FFSettings.WeightDecay, 0.1f);
        ITrainableModel Net() => ArchitectureRegistry.Find(id)!.Create(settings, 20, 4, new FFRandom(3));
        var (cpu, device) = (Net(), Net());
        ((Modules.ComputeModule)device).Backend = gpu;
        var r = new FFRandom(4);
        foreach (var phase in cpu.PlanEpochs(2).Distinct())
            for (int step = 0; step < 3; step++)
            {
                var images = TestUtil.RandomMatrix(8, 20, r);
                int[] labels = [0, 1, 2, 3, 3, 2, 1, 0];
                var negative = NegativeControl.OneHot([1, 2, 3, 0, 0, 3, 2, 1], 4);
                cpu.TrainBatch(images, labels, negative, phase);
                device.TrainBatch(images, labels, negative, phase);
            }
        var (cm, dm) = ((Modules.Module)cpu, (Modules.Module)device);
        Assert.Equal(2, cm.Buffers().Count);
        foreach (var (a, b) in cm.Parameters().Concat(cm.Buffers()).Zip(dm.Parameters().Concat(dm.Buffers())))
        {
            Assert.Equal(a.Name, b.Name);
            for (int i = 0; i < a.Data.Length; i++)
                Assert.True(MathF.Abs(a.Data[i] - b.Data[i]) <= 1e-4f * MathF.Max(1, MathF.Abs(a.Data[i])), $"{a.Name}[{i}]: cpu {a.Data[i]}, gpu {b.Data[i]}");
        }
        Assert.NotEqual(FFRegularization.PeerInitialMean, cm.Buffers()[0].Data[0]);
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffrnn")]
    public void CheckpointsCarryTheRunningMeansAndModelFilesDoNot(string id)
    {
        string dir = Directory.CreateTempSubdirectory("fflib-reg-").FullName;
        try
        {
            var architecture = ArchitectureRegistry.Find(id)!;
            var settings = new ModelSettings { HiddenSizes = [12, 10] }.With(FFSettings.Threshold, 0.5f).With(FFSettings.PeerNormalization, 0.1f).With(FFSettings.WeightDecay, 0.01f);
            if (id == "ffrnn") settings = settings.With(FFRecurrentSettings.TrainFrames, 2);
            ITrainableModel Net() => architecture.Create(settings, 20, 4, new FFRandom(3));
            var r = new FFRandom(9);
            var batches = Enumerable.Range(0, 6).Select(_ => TestUtil.RandomMatrix(8, 20, r)).ToArray();
            int[] labels = [0, 1, 2, 3, 3, 2, 1, 0];
            var negative = NegativeControl.OneHot([1, 2, 3, 0, 0, 3, 2, 1], 4);
            var straight = Net();
            foreach (var x in batches) straight.TrainBatch(x, labels, negative, TrainingPhase.ForwardForward);

            var first = Net();
            foreach (var x in batches[..3]) first.TrainBatch(x, labels, negative, TrainingPhase.ForwardForward);
            string checkpoint = Path.Combine(dir, "checkpoint.safetensors"), model = Path.Combine(dir, "model.safetensors");
            TrainingCheckpoint.Save(checkpoint, first, new FFRandom(1), 1, [], new RunSpec { Architecture = architecture, Model = settings });
            ModelCheckpoint.Save(model, first);
            Assert.Contains(SafeTensors.Read(checkpoint).Tensors, t => t.Name == "layers.1.peer_running_mean");
            Assert.DoesNotContain(SafeTensors.Read(model).Tensors, t => t.Name.Contains("peer"));

            var resumed = TrainingCheckpoint.Load(checkpoint).Model;
            foreach (var x in batches[3..]) resumed.TrainBatch(x, labels, negative, TrainingPhase.ForwardForward);
            var (s, m) = ((Modules.Module)straight, (Modules.Module)resumed);
            foreach (var (a, b) in s.Parameters().Concat(s.Buffers()).Zip(m.Parameters().Concat(m.Buffers())))
                Assert.True(a.Data.AsSpan().SequenceEqual(b.Data), a.Name);
            // The model file still loads, with its regularisers in the configuration and its optimisers.
            var loaded = (ITrainableModel)ModelCheckpoint.Load(model).Model;
            Assert.Equal(0.1f, (float)loaded.ConfigToJson()["peer_norm"]!);
            Assert.Equal(0.01f, loaded.AllOptimizers[0].Settings.WeightDecay);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TheDefaultAddsNothing()
    {
        var net = (FFNetwork)Architecture.Ffnn.Create(new ModelSettings { HiddenSizes = [8] }, 10, 3, new FFRandom(1));
        Assert.True(net.Config.Regularization.IsNone);
        Assert.Null(net.Regularizers);
        Assert.Empty(net.Buffers());
        var config = net.ConfigToJson();
        foreach (var key in new[] { "peer_norm", "activity_l1", "weight_decay" }) Assert.False(config.ContainsKey(key), key);
        Assert.Equal(0f, net.Optimizers[0].Settings.WeightDecay);
    }

    [Fact]
    public void BadValuesAreOneLineNamingTheOption()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-reg-cli-").FullName;
        try
        {
            var r = CliProcess.Run(dir, "train", "--peer-norm", "-0.5", "--no-download");
            Assert.Equal(2, r.Code);
            Assert.Contains("--peer-norm", r.Err);
            Assert.Contains("≥ 0", r.Err);
            r = CliProcess.Run(dir, "train", "--activity-l1", "NaN", "--no-download");
            Assert.Equal(2, r.Code);
            Assert.Contains("--activity-l1", r.Err);
            r = CliProcess.Run(dir, "train", "--model", "bpnn", "--weight-decay", "0.1", "--no-download");
            Assert.Equal(2, r.Code);
            Assert.Contains("--weight-decay is a setting of ffnn, ffc, ffrnn, ffcnn; bpnn has no such setting", r.Err);
            foreach (var e in new[] { r.Err }) Assert.DoesNotContain("   at ", e);
            Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>The layer's pre-activations (normalised input · Wᵀ + b) in double precision.</summary>
    private static double[] PreActivations(double[][] x, double[] w, double[] b, int outF, int inF)
    {
        var h = new double[x.Length * outF];
        for (int r = 0; r < x.Length; r++)
        {
            double norm = Math.Sqrt(x[r].Sum(v => v * v)) + 1e-4;
            for (int j = 0; j < outF; j++)
            {
                double z = b[j];
                for (int k = 0; k < inF; k++) z += x[r][k] / norm * w[j * inF + k];
                h[r * outF + j] = z;
            }
        }
        return h;
    }
}
