using FFLib.Compute;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;
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
        net.StepObserver = s => { var (loss, g) = (s.Loss, s.Gradients); lossF = loss; grads = g.Select(a => (float[])a.Clone()).ToArray(); };
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
        m.TrainBatch(RandomImages(10, 8, 2), Enumerable.Range(0, 10).Select(i => i % 3).ToArray(), NegativeControl.OneHot(new int[10].Select((_, i) => (i + 1) % 3).ToArray(), 3), TrainingPhase.Classifier);
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

public sealed class FfrnnTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-ffrnn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// The FFRNN layer loss of the first frame, as a function of (Wf, Wb, b) with the swept states
    /// held fixed (they are detached in the reference), against central differences in double.
    /// </summary>
    [Theory]
    [InlineData(LossDirection.Minimize)]
    [InlineData(LossDirection.Maximize)]
    public void LayerGradientMatchesFiniteDifferences(LossDirection dir)
    {
        var cfg = new FFRecurrentConfig { ImageFeatures = 7, Classes = 3, HiddenSizes = [5, 4], Threshold = 0.3f, Loss = dir, TrainFrames = 1, Beta = 0.7f };
        var net = new FFRecurrentNetwork(cfg, new FFRandom(31));
        var r = new FFRandom(32);
        var x = new Matrix(4, 7);
        for (int i = 0; i < x.Length; i++) x.Data[i] = r.NextSingle();
        float[][] swept = [];
        var grads = new Dictionary<int, (float Loss, float[] F, float[] B, float[] Bias)>();
        var p0 = net.Layers.Select(l => (F: l.ForwardWeight.Data.Select(v => (double)v).ToArray(), B: l.BackwardWeight.Data.Select(v => (double)v).ToArray(), Bias: l.Bias.Select(v => (double)v).ToArray())).ToArray();
        net.SweepObserver = s => swept = s;
        net.StepObserver = s => grads[s.Layer] = (s.Loss, (float[])s.Gradients[0].Clone(), (float[])s.Gradients[1].Clone(), (float[])s.Gradients[2].Clone());
        net.TrainBatch(x, [0, 1, 2, 0], NegativeControl.OneHot([1, 2, 0, 2], 3), TrainingPhase.ForwardForward);

        var d = cfg.Dimensions;
        for (int li = 0; li < 2; li++)
        {
            int i = li + 1;
            double L(double[] f, double[] b, double[] bias) => LayerLoss(swept[i - 1], swept[i], swept[i + 1], f, b, bias, d[i - 1], d[i], d[i + 1], 4, cfg);
            Assert.Equal(L(p0[li].F, p0[li].B, p0[li].Bias), grads[li].Loss, 5);
            double maxG = grads[li].F.Concat(grads[li].B).Concat(grads[li].Bias).Max(v => Math.Abs(v));
            Assert.True(maxG > 1e-5);
            foreach (var (which, analytic) in new[] { (0, grads[li].F), (1, grads[li].B), (2, grads[li].Bias) })
                for (int k = 0; k < analytic.Length; k++)
                {
                    double[] P(double delta)
                    {
                        var src = which == 0 ? p0[li].F : which == 1 ? p0[li].B : p0[li].Bias;
                        var copy = (double[])src.Clone();
                        copy[k] += delta;
                        return copy;
                    }
                    double up = which == 0 ? L(P(1e-6), p0[li].B, p0[li].Bias) : which == 1 ? L(p0[li].F, P(1e-6), p0[li].Bias) : L(p0[li].F, p0[li].B, P(1e-6));
                    double dn = which == 0 ? L(P(-1e-6), p0[li].B, p0[li].Bias) : which == 1 ? L(p0[li].F, P(-1e-6), p0[li].Bias) : L(p0[li].F, p0[li].B, P(-1e-6));
                    double num = (up - dn) / 2e-6;
                    Assert.True(Math.Abs(num - analytic[k]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-9,
                        $"layer {i} param {which} [{k}]: analytic {analytic[k]}, numeric {num}");
                }
        }
    }

    private static double LayerLoss(float[] below, float[] self, float[] above, double[] wf, double[] wb, double[] bias, int dIn, int w, int dUp, int batch, FFRecurrentConfig cfg)
    {
        int rows = 2 * batch;
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            double nb = Math.Sqrt(Enumerable.Range(0, dIn).Sum(k => (double)below[r * dIn + k] * below[r * dIn + k])) + 1e-4;
            double na = Math.Sqrt(Enumerable.Range(0, dUp).Sum(k => (double)above[r * dUp + k] * above[r * dUp + k])) + 1e-4;
            double g = 0;
            for (int j = 0; j < w; j++)
            {
                double pre = bias[j];
                for (int k = 0; k < dIn; k++) pre += below[r * dIn + k] / nb * wf[j * dIn + k];
                for (int k = 0; k < dUp; k++) pre += above[r * dUp + k] / na * wb[j * dUp + k];
                double h = cfg.Beta * Math.Max(pre, 0) + (1 - cfg.Beta) * self[r * w + j];
                g += h * h / w;
            }
            double sign = (r < batch) == (cfg.Loss == LossDirection.Minimize) ? 1 : -1;
            double a = sign * (g - cfg.Threshold);
            sum += Math.Max(a, 0) + Math.Log(1 + Math.Exp(-Math.Abs(a)));
        }
        return sum / rows;
    }

    [Fact]
    public void PredictionIsReproducibleAndSurvivesACheckpoint()
    {
        var cfg = new FFRecurrentConfig { ImageFeatures = 6, Classes = 3, HiddenSizes = [5, 4], Threshold = 0.5f, TrainFrames = 2 };
        var net = new FFRecurrentNetwork(cfg, new FFRandom(1));
        var r = new FFRandom(2);
        var x = new Matrix(9, 6);
        for (int i = 0; i < x.Length; i++) x.Data[i] = r.NextSingle();
        net.TrainBatch(x, Enumerable.Range(0, 9).Select(i => i % 3).ToArray(), NegativeControl.OneHot(Enumerable.Range(0, 9).Select(i => (i + 1) % 3).ToArray(), 3), TrainingPhase.ForwardForward);
        var s1 = net.LabelScores(x);
        Assert.Equal(s1.Data, net.LabelScores(x).Data);
        string p = Path.Combine(_dir, "rnn.safetensors");
        ModelCheckpoint.Save(p, net);
        var loaded = (FFRecurrentNetwork)ModelCheckpoint.Load(p).Model;
        Assert.Equal(cfg.Beta, loaded.Config.Beta);
        Assert.Equal(s1.Data, loaded.LabelScores(x).Data);
        // An image's scores do not depend on the batch it is scored in.
        var single = new Matrix(1, 6, x.Row(4).ToArray());
        Assert.Equal(s1.Row(4).ToArray(), loaded.LabelScores(single).Data);
    }
}
