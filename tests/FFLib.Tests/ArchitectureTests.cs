using FFLib.Compute;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

public sealed class ArchitectureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-arch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Matrix RandomImages(int rows, int cols, int seed)
    {
        var r = new FFRandom(seed);
        var m = new Matrix(rows, cols);
        for (int i = 0; i < m.Length; i++) m.Data[i] = r.NextSingle();
        return m;
    }

    /// <summary>BPNN backprop against central differences of the cross-entropy computed in double precision.</summary>
    [Fact]
    public void BackpropGradientMatchesFiniteDifferences()
    {
        var cfg = new BackpropNetworkConfig { ImageFeatures = 6, Classes = 3, HiddenSizes = [5, 4] };
        var net = new BackpropNetwork(cfg, new FFRandom(21));
        var x = RandomImages(4, 6, 22);
        int[] labels = [0, 2, 1, 2];
        var p0 = net.Layers.SelectMany(l => new[] { l.Weight.Data.Select(v => (double)v).ToArray(), l.Bias.Select(v => (double)v).ToArray() }).ToArray();
        float[][] grads = [];
        float lossF = 0;
        net.StepObserver = (loss, g) => { lossF = loss; grads = g.Select(a => (float[])a.Clone()).ToArray(); };
        net.TrainBatch(x, labels);

        Assert.Equal(Loss(p0, x, labels, cfg), lossF, 5);
        double maxG = grads.SelectMany(g => g).Max(v => Math.Abs(v));
        for (int t = 0; t < p0.Length; t++)
            for (int i = 0; i < p0[t].Length; i++)
            {
                var up = p0.Select(a => (double[])a.Clone()).ToArray(); up[t][i] += 1e-6;
                var dn = p0.Select(a => (double[])a.Clone()).ToArray(); dn[t][i] -= 1e-6;
                double num = (Loss(up, x, labels, cfg) - Loss(dn, x, labels, cfg)) / 2e-6;
                Assert.True(Math.Abs(num - grads[t][i]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-9,
                    $"parameter {t} entry {i}: analytic {grads[t][i]}, numeric {num}");
            }
    }

    private static double Loss(double[][] p, Matrix x, int[] labels, BackpropNetworkConfig cfg)
    {
        int[] widths = [cfg.ImageFeatures, .. cfg.HiddenSizes, cfg.Classes];
        double total = 0;
        for (int r = 0; r < x.Rows; r++)
        {
            double[] a = Enumerable.Range(0, x.Cols).Select(k => (double)x[r, k]).ToArray();
            for (int l = 0; l < widths.Length - 1; l++)
            {
                var z = new double[widths[l + 1]];
                for (int j = 0; j < z.Length; j++)
                {
                    z[j] = p[2 * l + 1][j];
                    for (int k = 0; k < a.Length; k++) z[j] += p[2 * l][j * a.Length + k] * a[k];
                    if (l < widths.Length - 2) z[j] = Math.Max(z[j], 0);
                }
                a = z;
            }
            double max = a.Max();
            total += Math.Log(a.Sum(v => Math.Exp(v - max))) + max - a[labels[r]];
        }
        return total / x.Rows;
    }

    [Fact]
    public void BackpropLearnsASeparableProblem()
    {
        // Class = which third of the features holds the bright pixels.
        var r = new FFRandom(3);
        var x = new Matrix(90, 9);
        var y = new int[90];
        for (int i = 0; i < 90; i++)
        {
            y[i] = i % 3;
            for (int k = 0; k < 9; k++) x[i, k] = (k / 3 == y[i] ? 0.8f : 0.1f) + 0.1f * r.NextSingle();
        }
        var net = new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 9, Classes = 3, HiddenSizes = [16], LearningRate = 0.01f }, new FFRandom(4));
        float first = net.TrainBatch(x, y), last = first;
        for (int s = 0; s < 200; s++) last = net.TrainBatch(x, y);
        Assert.True(last < first * 0.2, $"loss {first} → {last}");
        Assert.Equal(y, net.Predict(x));
    }

    [Fact]
    public void FfcPlansHalfFfThenHalfClassifier()
    {
        var m = new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 4, Classes = 2, HiddenSizes = [3] }, 1e-4f, new FFRandom(1));
        Assert.Equal([TrainingPhase.ForwardForward, TrainingPhase.Classifier], m.PlanEpochs(1));
        Assert.Equal(2, m.PlanEpochs(4).Count(p => p == TrainingPhase.ForwardForward));
        Assert.Equal(30, m.PlanEpochs(60).Count(p => p == TrainingPhase.Classifier));
        Assert.Equal(3, m.PlanEpochs(5).Count(p => p == TrainingPhase.ForwardForward));
    }

    [Fact]
    public void FfcClassifierTrainingLeavesTheStackFrozen()
    {
        var m = new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 8, Classes = 3, HiddenSizes = [6, 5] }, 1e-2f, new FFRandom(1));
        var before = m.Stack.Layers.SelectMany(l => l.Weight.Data.Concat(l.Bias)).ToArray();
        var cls = m.Classifier.Weight.Data.ToArray();
        m.TrainBatch(RandomImages(10, 8, 2), Enumerable.Range(0, 10).Select(i => i % 3).ToArray(), new int[10].Select((_, i) => (i + 1) % 3).ToArray(), TrainingPhase.Classifier);
        Assert.Equal(before, m.Stack.Layers.SelectMany(l => l.Weight.Data.Concat(l.Bias)).ToArray());
        Assert.NotEqual(cls, m.Classifier.Weight.Data);
        Assert.Equal(11, m.Classifier.InFeatures);
    }

    [Fact]
    public void FfcAndBpnnRoundTripThroughCheckpoints()
    {
        var x = RandomImages(12, 8, 5);
        IClassifierModel[] models =
        [
            new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 8, Classes = 3, HiddenSizes = [6, 5] }, 1e-3f, new FFRandom(1)),
            new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 8, Classes = 3, HiddenSizes = [7, 6] }, new FFRandom(2)),
        ];
        foreach (var model in models)
        {
            string p = Path.Combine(_dir, model.Architecture + ".safetensors");
            ModelCheckpoint.Save(p, model);
            var loaded = ModelCheckpoint.Load(p);
            Assert.Equal(model.Architecture, loaded.Architecture);
            Assert.Equal(model.Predict(x), loaded.Model.Predict(x));
            if (model is BackpropNetwork bp) Assert.Equal(bp.Logits(x).Data, ((BackpropNetwork)loaded.Model).Logits(x).Data);
            if (model is FFClassifierNetwork fc) Assert.Equal(fc.ClassScores(x).Data, ((FFClassifierNetwork)loaded.Model).ClassScores(x).Data);
        }
    }

    [Fact]
    public void CrossEntropyMatchesDefinitionAndIsStable()
    {
        float[] logits = [1f, 2f, 3f, 1000f, -1000f, 0f];
        var g = new float[6];
        float loss = CrossEntropy.LossAndGradient(logits, 2, 3, [2, 0], g);
        // Row 1: log Σ e^z − z_2. Row 2: logits (1000, −1000, 0) with label 0: loss ≈ 0, no overflow.
        double l0 = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3;
        Assert.Equal(l0 / 2, loss, 4);
        Assert.True(g.All(float.IsFinite));
        Assert.Equal(0f, g[0] + g[1] + g[2], 6);
    }
}
