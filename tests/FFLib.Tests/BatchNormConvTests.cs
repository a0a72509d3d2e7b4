using FFLib.Compute;
using FFLib.Gpu;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Batch normalisation in the competitive FF CNN (<c>--batch-norm on</c>): the kernels against finite differences,
/// the layer's step gradient (kernel, bias, scale, shift) against finite differences of the loss the step reports,
/// the GPU simulator against the CPU, model files, pruning and the refusals.
/// </summary>
public class BatchNormConvTests
{
    private static readonly ImageShape Grey8 = new(1, 8, 8);

    private static FFConvNetwork Small(int seed = 3) =>
        new(new FFConvNetworkConfig(new ConvStack(Grey8, [6, 7], ConvStack.Parse("3p,3")), 3, 0.5f, LossDirection.Minimize, 0.01f, LabelEncoding.Fourier)
            { Objective = ConvObjective.Competitive, BatchNorm = true }, new FFRandom(seed));

    private static Matrix Images(int n, int seed = 9) => TestUtil.RandomMatrix(n, Grey8.Features, new FFRandom(seed));

    [Fact]
    public void TheKernelsGradientsMatchFiniteDifferences()
    {
        var r = new FFRandom(4);
        int rows = 12, channels = 3;
        float[] Random(int n, float scale, float offset = 0) => Enumerable.Range(0, n).Select(_ => (r.NextSingle() - 0.5f) * scale + offset).ToArray();
        var h = Random(rows * channels, 2f, 0.3f);
        var (gamma, beta, w) = (Random(channels, 1f, 1f), Random(channels, 1f), Random(rows * channels, 2f));
        double Loss(float[] hh, float[] gg, float[] bb)
        {
            var (m, s, y) = (new float[channels], new float[channels], new float[rows * channels]);
            BatchNormKernels.Forward(hh, rows, channels, gg, bb, m, s, y);
            return Enumerable.Range(0, y.Length).Sum(i => (double)w[i] * y[i]);
        }
        var (mean, invStd, yOut) = (new float[channels], new float[channels], new float[rows * channels]);
        BatchNormKernels.Forward(h, rows, channels, gamma, beta, mean, invStd, yOut);
        // The normalised output has mean β and (biased) standard deviation |γ| per channel.
        for (int c = 0; c < channels; c++)
        {
            var col = Enumerable.Range(0, rows).Select(i => (double)yOut[i * channels + c]).ToArray();
            Assert.Equal(beta[c], col.Average(), 4);
            Assert.Equal(Math.Abs(gamma[c]), Math.Sqrt(col.Select(v => (v - col.Average()) * (v - col.Average())).Average()), 3);
        }
        var (dh, dGamma, dBeta) = (new float[h.Length], new float[channels], new float[channels]);
        BatchNormKernels.Backward(h, rows, channels, gamma, mean, invStd, w, dh, dGamma, dBeta);
        void Check(float[] x, float[] analytic, string what)
        {
            for (int i = 0; i < x.Length; i++)
            {
                float saved = x[i];
                const float eps = 1e-2f;
                x[i] = saved + eps; double up = Loss(h, gamma, beta);
                x[i] = saved - eps; double down = Loss(h, gamma, beta);
                x[i] = saved;
                double fd = (up - down) / (2 * eps);
                Assert.True(Math.Abs(fd - analytic[i]) <= 1e-2 * Math.Abs(fd) + 1e-3, $"{what}[{i}]: {analytic[i]} against finite differences {fd}");
            }
        }
        Check(h, dh, "dh");
        Check(gamma, dGamma, "dgamma");
        Check(beta, dBeta, "dbeta");
    }

    /// <summary>Layer 1's step gradient against central differences of the loss the step itself reports (batch statistics included).</summary>
    [Fact]
    public void TheLayerGradientMatchesFiniteDifferencesThroughTheNormalisation()
    {
        var images = Images(6);
        int[] labels = [0, 1, 2, 2, 1, 0];
        var net = Small();
        var steps = new List<Modules.TrainingStep>();
        net.StepObserver = steps.Add;
        net.TrainBatch(images, labels, new Matrix(6, 3), TrainingPhase.ForwardForward);
        Assert.Equal(4, steps[0].Gradients.Count); // kernel, bias, scale, shift
        string[] names = ["layers.0.weight", "layers.0.bias", "norms.0.weight", "norms.0.bias"];
        for (int p = 0; p < names.Length; p++)
        {
            int length = Small().GetParameter(names[p]).Data.Length, compared = 0;
            var misses = new List<string>();
            for (int i = 0; i < length; i++)
            {
                double LossWith(float delta)
                {
                    var probe = Small();
                    probe.GetParameter(names[p]).Data[i] += delta;
                    return probe.TrainBatch(images, labels, new Matrix(6, 3), TrainingPhase.ForwardForward)[0];
                }
                // A small step: the normalisation divides by the batch's spread, which makes the loss strongly curved.
                const float eps = 1e-3f;
                double fd = (LossWith(eps) - LossWith(-eps)) / (2 * eps);
                float analytic = steps[0].Gradients[p][i];
                if (Math.Abs(fd) < 1e-4) continue; // a ReLU kink or an unused tap
                compared++;
                if (Math.Abs(fd - analytic) > 5e-2 * Math.Abs(fd) + 1e-3) misses.Add($"{names[p]}[{i}]: step gradient {analytic}, finite differences {fd}");
            }
            Assert.True(compared > length / 2, $"{names[p]}: only {compared} of {length} entries compared");
            // The loss is float32: a few entries near a kink may miss by more than the tolerance.
            Assert.True(misses.Count <= Math.Max(1, compared / 8), string.Join("; ", misses));
        }
    }

    [Fact]
    public void PredictionUsesTheRunningStatisticsThatTrainingMoves()
    {
        var net = Small();
        var images = Images(8);
        var before = net.LabelScores(images).Data.ToArray();
        var (mean, variance) = (net.GetParameter("norms.0.running_mean").Data, net.GetParameter("norms.0.running_var").Data);
        Assert.All(mean, v => Assert.Equal(0f, v));
        Assert.All(variance, v => Assert.Equal(1f, v));
        net.TrainBatch(images, [0, 1, 2, 0, 1, 2, 0, 1], new Matrix(8, 3), TrainingPhase.ForwardForward);
        Assert.Contains(mean, v => v != 0f);
        Assert.Contains(variance, v => v != 1f);
        Assert.NotEqual(before, net.LabelScores(images).Data);
        // The running statistics are not trained: the optimiser steps scale and shift, never them.
        Assert.False(net.Parameters().Single(p => p.Name == "norms.0.running_mean").Trainable);
        Assert.True(net.Parameters().Single(p => p.Name == "norms.0.weight").Trainable);
    }

    [Fact]
    public void TheGpuKernelsGiveTheCpuStatisticsAndGradients()
    {
        // The GPU backend's own kernels (not the host default) against the CPU's loops, with dh written over dy.
        using var gpu = GpuBackend.CreateSimulator();
        var cpu = ComputeBackend.Cpu;
        const int rows = 37, channels = 5;
        var h = GemmTests.Random(rows * channels, 3).Select(v => 2 * v + 0.5f).ToArray();
        var dy = GemmTests.Random(rows * channels, 4);
        float[] gamma = [1.5f, -0.5f, 1f, 0.25f, 2f], beta = [0.1f, 0f, -0.3f, 1f, 0.5f];
        var results = new List<float[][]>();
        foreach (var be in new ComputeBackend[] { cpu, gpu })
        {
            var (hh, g, b) = (be.Attach((float[])h.Clone()), be.Attach(gamma), be.Attach(beta));
            var (mean, invStd, y) = (be.Allocate(channels), be.Allocate(channels), be.Allocate(rows * channels));
            be.BatchNormForward(hh.All, rows, channels, g.All, b.All, mean.All, invStd.All, y.All);
            var applied = be.Allocate(rows * channels);
            be.BatchNormApply(hh.All, rows, channels, g.All, b.All, mean.All, invStd.All, applied.All);
            var (dGamma, dBeta, d) = (be.Allocate(channels), be.Allocate(channels), be.Attach((float[])dy.Clone()));
            be.BatchNormBackward(hh.All, rows, channels, g.All, mean.All, invStd.All, d.All, d.All, dGamma.All, dBeta.All);
            results.Add([.. new[] { mean, invStd, y, applied, dGamma, dBeta, d }.Select(a => be.Read(a.All).ToArray())]);
        }
        string[] names = ["mean", "invStd", "y", "applied", "dGamma", "dBeta", "dh"];
        for (int i = 0; i < names.Length; i++) TestUtil.AssertClose(results[0][i], results[1][i], 1e-5, names[i]);
        Assert.Equal(results[0][2], results[0][3]); // applying the batch's own statistics gives the forward's output
    }

    [Fact]
    public void TheGpuBackendTrainsAndPredictsTheSameAsTheCpu()
    {
        using var gpu = GpuBackend.CreateSimulator();
        var images = Images(6);
        int[] labels = [0, 1, 2, 0, 1, 2];
        var (cpu, dev) = (Small(), Small());
        dev.Backend = gpu;
        var (gc, gd) = (new List<float[]>(), new List<float[]>());
        cpu.StepObserver = st => gc.AddRange(st.Gradients.Select(g => g.ToArray()));
        dev.StepObserver = st => gd.AddRange(st.Gradients.Select(g => g.ToArray()));
        for (int step = 0; step < 2; step++)
            TestUtil.AssertClose(cpu.TrainBatch(images, labels, new Matrix(6, 3), TrainingPhase.ForwardForward), dev.TrainBatch(images, labels, new Matrix(6, 3), TrainingPhase.ForwardForward), 1e-4, "losses");
        Assert.Equal(16, gd.Count);
        for (int i = 0; i < gc.Count; i++) TestUtil.AssertClose(gc[i], gd[i], 1e-3, $"gradient {i}");
        TestUtil.AssertClose(cpu.LabelScores(images).Data, dev.LabelScores(images).Data, 1e-4, "scores");
        TestUtil.AssertClose(cpu.GetParameter("norms.1.running_var").Data, dev.GetParameter("norms.1.running_var").Data, 1e-4, "running variance");
        dev.ReleaseDeviceMemory();
    }

    [Fact]
    public void ModelFilesKeepTheNormalisationAndPruningCutsIt()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-bn-").FullName;
        try
        {
            var images = Images(6);
            var net = Small();
            net.TrainBatch(images, [0, 1, 2, 0, 1, 2], new Matrix(6, 3), TrainingPhase.ForwardForward);
            string file = Path.Combine(dir, "m.safetensors");
            ModelCheckpoint.Save(file, net);
            var back = (FFConvNetwork)ModelCheckpoint.Load(file).Model;
            Assert.True(back.Config.BatchNorm);
            Assert.Equal(net.LabelScores(images).Data, back.LabelScores(images).Data);
            Assert.True(net.ConfigToJson().ContainsKey("batch_norm"));
            Assert.False(new FFConvNetwork(net.Config with { BatchNorm = false }, new FFRandom(1)).ConfigToJson().ContainsKey("batch_norm"));

            // Random channel pruning cuts each kept channel's normalisation entries with its kernel.
            var ranking = NeuronPruning.RandomRanking(net, new FFRandom(5));
            var pruned = (FFConvNetwork)NeuronPruning.Prune(net, ranking, 4);
            foreach (var name in new[] { "norms.0.weight", "norms.0.bias", "norms.0.running_mean", "norms.0.running_var", "norms.1.running_var" })
                Assert.Equal([4], pruned.GetParameter(name).Shape);
            var kept = ranking[0].Take(4).Order().ToArray();
            Assert.Equal(kept.Select(j => net.GetParameter("norms.0.running_var").Data[j]), pruned.GetParameter("norms.0.running_var").Data);
            Assert.Equal(6, pruned.Predict(images).Length);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void BatchNormalisationOutsideTheCompetitiveObjectiveIsRefused()
    {
        var config = new FFConvNetworkConfig(new ConvStack(Grey8, [6, 7], ConvStack.Parse("3p,3")), 3, 0.5f, LossDirection.Minimize, 0.01f, LabelEncoding.Fourier) { BatchNorm = true };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FFConvNetwork(config, new FFRandom(1)));
        Assert.Contains("competitive objective", e.Message);
    }
}
