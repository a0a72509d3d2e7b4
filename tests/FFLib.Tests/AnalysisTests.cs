using System.Diagnostics;
using FFLib.Analysis;
using FFLib.Compute;
using FFLib.Models;
using FFLib.Plotting;
using FFLib.Training;
using SkiaSharp;
using Xunit;

namespace FFLib.Tests;

public sealed class AnalysisTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-analysis-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(2000)]
    public void OneHotIsMaximallySparse(int n)
    {
        var x = new float[n];
        x[n / 3] = -2.5f;
        var s = Sparsity.All(x);
        Assert.Equal(1.0, s.L1NegativeEntropy, 12);
        Assert.Equal(1.0, s.L2NegativeEntropy, 12);
        Assert.Equal(1.0, s.Hoyer, 12);
        Assert.Equal(1.0 - 1.0 / n, s.Gini, 12); // the Gini formula's own maximum
    }

    [Theory]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(4096)]
    public void ConstantIsNotSparse(int n)
    {
        var x = Enumerable.Repeat(0.3f, n).ToArray();
        var s = Sparsity.All(x);
        Assert.Equal(0.0, s.L1NegativeEntropy, 6);
        Assert.Equal(0.5, s.L2NegativeEntropy, 6); // log₂ n² in the reference's denominator
        Assert.Equal(0.0, s.Hoyer, 6);
        Assert.Equal(0.0, s.Gini, 6);
    }

    [Fact]
    public void HandComputedSmallVector()
    {
        // x = (3, −1, 0, 0): ‖x‖₁ = 4, ‖x‖₂ = √10, n = 4.
        float[] x = [3, -1, 0, 0];
        var s = Sparsity.All(x);
        // L1: p = (3/4, 1/4): 1 + (¾log₂¾ + ¼log₂¼)/2
        Assert.Equal(1 + (0.75 * Math.Log2(0.75) + 0.25 * Math.Log2(0.25)) / 2, s.L1NegativeEntropy, 10);
        // L2: q = (9/10, 1/10): 1 + (…)/log₂16
        Assert.Equal(1 + (0.9 * Math.Log2(0.9) + 0.1 * Math.Log2(0.1)) / 4, s.L2NegativeEntropy, 10);
        Assert.Equal((2 - 4 / Math.Sqrt(10)) / (2 - 1), s.Hoyer, 10);
        // Gini: sorted c = (0, 0, 1, 3); 1 − 2/4·[(1/4)(4−3+½) + (3/4)(4−4+½)] = 1 − ½·(0.375 + 0.375)
        Assert.Equal(0.625, s.Gini, 10);
    }

    [Fact]
    public void ZeroAndSingleElementConventions()
    {
        var zero = Sparsity.All(new float[5]);
        Assert.Equal(new SparsityValues(0, 0, 0, 0), zero);
        var one = Sparsity.All([-4f]);
        Assert.Equal(1.0, one.L1NegativeEntropy);
        Assert.Equal(1.0, one.L2NegativeEntropy);
        Assert.Equal(1.0, one.Hoyer);
        Assert.Equal(0.0, one.Gini, 12); // 1 − 1/n with n = 1
    }

    [Fact]
    public void InvariantToScaleSignAndPermutation()
    {
        var r = new FFRandom(3);
        var x = Enumerable.Range(0, 1000).Select(_ => (2 * r.NextSingle() - 1) * (r.NextSingle() < 0.3f ? 5 : 0.1f)).ToArray();
        var s = Sparsity.All(x);
        var scaled = x.Select(v => -7.5f * v).ToArray();
        var shuffled = (float[])x.Clone();
        r.Shuffle(shuffled.AsSpan());
        foreach (var other in new[] { Sparsity.All(scaled), Sparsity.All(shuffled) })
            foreach (var m in Sparsity.Metrics)
                Assert.Equal(s[m], other[m], 5);
    }

    [Fact]
    public void MatchesAPlainDoublePrecisionReference()
    {
        var r = new FFRandom(4);
        foreach (int n in new[] { 3, 17, 100, 5000 })
        {
            var x = Enumerable.Range(0, n).Select(_ => r.NextSingle() < 0.2f ? 0f : 2 * r.NextSingle() - 1).ToArray();
            var d = x.Select(v => Math.Abs((double)v)).ToArray();
            double l1 = d.Sum(), l2 = Math.Sqrt(d.Sum(v => v * v));
            double e1 = 1 + d.Where(v => v > 0).Sum(v => v / l1 * Math.Log2(v / l1)) / Math.Log2(n);
            double e2 = 1 + d.Where(v => v > 0).Sum(v => v * v / (l2 * l2) * Math.Log2(v * v / (l2 * l2))) / Math.Log2((double)n * n);
            double hoyer = (Math.Sqrt(n) - l1 / l2) / (Math.Sqrt(n) - 1);
            var c = d.OrderBy(v => v).ToArray();
            double gini = 1 - 2.0 / n * Enumerable.Range(1, n).Sum(i => c[i - 1] / l1 * (n - i + 0.5));
            var s = Sparsity.All(x);
            Assert.Equal(e1, s.L1NegativeEntropy, 6);
            Assert.Equal(e2, s.L2NegativeEntropy, 6);
            Assert.Equal(hoyer, s.Hoyer, 6);
            Assert.Equal(gini, s.Gini, 6);
        }
    }

    [Fact]
    public void FourMillionUniformWeightsGiveTheDistributionsKnownValues()
    {
        // Speed is the benchmarks' business (a wall-clock limit failed here under load); this checks the values.
        var r = new FFRandom(5);
        var w = new float[4_000_000];
        for (int i = 0; i < w.Length; i++) w[i] = 2 * r.NextSingle() - 1;
        var s = Sparsity.All(w);
        // |w| uniform on [0, 1): Hoyer → 1 − (E|w|/√E w²)·… = 1 − √3/2 ≈ 0.134, Gini → 1/3 for large n.
        Assert.Equal(1 - Math.Sqrt(3) / 2, s.Hoyer, 2);
        Assert.Equal(1.0 / 3, s.Gini, 2);
    }

    [Fact]
    public void StatsAreBesselCorrected()
    {
        var st = TensorStats.Of([1f, 2f, 3f, 4f]);
        Assert.Equal((1.0, 4.0, 2.5), (st.Min, st.Max, st.Mean));
        Assert.Equal(Math.Sqrt(5.0 / 3), st.Std, 10);
    }

    [Fact]
    public void HsvOfClassSelectiveNeuronsIsFullySaturatedWithTheRightHues()
    {
        // 4 classes, 8 neurons: neuron j fires only for class j % 4, with strength 1 + j.
        int classes = 4, w = 8, rows = 40;
        var acts = new Matrix(rows, w);
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            labels[r] = r % classes;
            for (int j = 0; j < w; j++) acts[r, j] = j % classes == labels[r] ? 1 + j : 0;
        }
        var map = FunctionalMaps.Hsv("layer 1", acts, labels, classes);
        for (int j = 0; j < w; j++)
        {
            Assert.Equal(j % classes, map.Neurons[j].Class);
            Assert.Equal(90.0 * (j % classes), map.Neurons[j].Hue, 9);
            Assert.Equal(1.0, map.Neurons[j].Saturation, 12);
            Assert.Equal(j / 7.0, map.Neurons[j].Value, 12); // strengths 1..8 min–max normalised
        }
        // A neuron responding equally to all classes has saturation 1/classes.
        var flat = new Matrix(rows, 1);
        flat.Data.AsSpan().Fill(2f);
        Assert.Equal(0.25, FunctionalMaps.Hsv("l", flat, labels, classes).Neurons[0].Saturation, 12);
    }

    [Fact]
    public void GridShapesAreNearSquare()
    {
        Assert.Equal((50, 40), FunctionalMaps.GridShape(2000));
        Assert.Equal((25, 20), FunctionalMaps.GridShape(500));
        Assert.Equal((4, 4), FunctionalMaps.GridShape(16));
        var (w, h) = FunctionalMaps.GridShape(13);
        Assert.True(w * h >= 13);
    }

    private static SKColor Pixel(string png, int x, int y)
    {
        using var bmp = SKBitmap.Decode(png);
        Assert.NotNull(bmp);
        return bmp.GetPixel(x, y);
    }

    [Fact]
    public void HsvPngHasTheNeuronColoursWhereExpected()
    {
        var neurons = new[]
        {
            new NeuronColour(0, 0, 1, 1),     // pure red
            new NeuronColour(1, 120, 1, 1),   // pure green
            new NeuronColour(2, 240, 1, 1),   // pure blue
            new NeuronColour(0, 0, 0, 0),     // black (silent)
        };
        string path = Path.Combine(_dir, "hsv.png");
        Plots.HsvMaps(path, [new LayerHsvMap("layer 1", neurons)], ["a", "b", "c"], "test", cell: 10);
        // Grid 2×2 starting at (16, 30 + 22); cell 10: sample each cell's centre.
        Assert.Equal(new SKColor(255, 0, 0), Pixel(path, 16 + 5, 52 + 5));
        Assert.Equal(new SKColor(0, 255, 0), Pixel(path, 16 + 15, 52 + 5));
        Assert.Equal(new SKColor(0, 0, 255), Pixel(path, 16 + 5, 52 + 15));
        Assert.Equal(new SKColor(0, 0, 0), Pixel(path, 16 + 15, 52 + 15));
    }

    [Fact]
    public void ActivationPngNormalisesEachLayer()
    {
        // Layer of 4 neurons (2×2 grid) with activations 0, 5, 10, 2.5 → grey levels 0, 128, 255, 64.
        var input = new Plots.InputImage(new float[4], 2, 2, 1);
        string path = Path.Combine(_dir, "act.png");
        Plots.ActivationMaps(path, input, [new Plots.ActivationRow("row", [new float[] { 0, 5, 10, 2.5f }])], "t", cell: 10);
        // Input 2×2 at x=16, layer grid at x = 16 + 20 + 16 = 52; y = 30 + 42 = 72.
        Assert.Equal(new SKColor(0, 0, 0), Pixel(path, 52 + 5, 72 + 5));
        Assert.Equal(new SKColor(128, 128, 128), Pixel(path, 52 + 15, 72 + 5));
        Assert.Equal(new SKColor(255, 255, 255), Pixel(path, 52 + 5, 72 + 15));
        Assert.Equal(new SKColor(64, 64, 64), Pixel(path, 52 + 15, 72 + 15));
    }

    [Fact]
    public void TrackerRecordsEveryNBatchesAndItsPlotsHaveLines()
    {
        var r = new FFRandom(1);
        var px = new byte[100 * 12];
        var lab = new byte[100];
        for (int i = 0; i < 100; i++) { lab[i] = (byte)(i % 3); for (int k = 0; k < 12; k++) px[i * 12 + k] = (byte)r.NextInt(256); }
        var data = new Data.ImageDataset("t", 100, 12, 3, px, lab);
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [10, 6], Threshold = 1f }, new FFRandom(2));
        var tracker = new SparsityTracker(3);
        new Trainer { BeforeBatch = tracker.BeforeBatch }.Train(model, data, null, new TrainingOptions { Epochs = 2, BatchSize = 20 }, new FFRandom(3));
        tracker.RecordFinal(model);
        // 10 batches: records before batches 1, 4, 7, 10 (steps 0, 3, 6, 9) and after the last (step 10); 2 layers each.
        Assert.Equal(new long[] { 0, 3, 6, 9, 10 }, tracker.Samples.Select(s => s.Step).Distinct());
        Assert.Equal(10, tracker.Samples.Count);
        Assert.Equal(2.0, tracker.Samples[^1].Progress, 9);
        Assert.Equal(Sparsity.Hoyer(model.Layers[1].Weight.Data), tracker.Samples[^1].Sparsity.Hoyer, 12);
        string csv = Path.Combine(_dir, "sparsity.csv");
        tracker.WriteCsv(csv);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("step,epoch,layer,parameter,l1_entropy,l2_entropy,hoyer,gini", lines[0]);
        Assert.Equal(11, lines.Length);
        var pngs = Plots.SparsityOverTraining(tracker.Samples, _dir, "test");
        Assert.Equal(4, pngs.Count);
        foreach (var p in pngs)
        {
            using var bmp = SKBitmap.Decode(p);
            Assert.Equal((900, 560), (bmp.Width, bmp.Height));
            // Lines are drawn in colour: some pixels are clearly not grey.
            int coloured = 0;
            for (int y = 0; y < bmp.Height; y += 2)
                for (int x = 0; x < bmp.Width; x += 2)
                {
                    var c = bmp.GetPixel(x, y);
                    if (Math.Max(Math.Abs(c.Red - c.Green), Math.Max(Math.Abs(c.Green - c.Blue), Math.Abs(c.Red - c.Blue))) > 60) coloured++;
                }
            Assert.True(coloured > 50, $"{p}: only {coloured} coloured pixels");
        }
    }

    [Fact]
    public void ReportCoversEveryArchitectureParameter()
    {
        var rnn = new FFRecurrentNetwork(new FFRecurrentConfig { ImageFeatures = 6, Classes = 3, HiddenSizes = [5, 4] }, new FFRandom(1));
        var rep = ModelAnalysis.Analyze(rnn);
        Assert.Equal(["forward", "backward", "bias", "forward+bias"], rep.Parameters.Where(p => p.Layer == "layer 1").Select(p => p.Parameter));
        Assert.Equal(5 * 6 + 5, rep.Parameters.Single(p => p.Layer == "layer 1" && p.Parameter == "forward+bias").Count);
        var bp = new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 6, Classes = 3, HiddenSizes = [5, 4] }, new FFRandom(1));
        Assert.Equal(["layer 1", "layer 2", "output"], ModelAnalysis.Analyze(bp).Parameters.Select(p => p.Layer).Distinct());
        var json = ModelAnalysis.Analyze(bp).ToJson();
        Assert.Equal("bpnn", json["architecture"]!.GetValue<string>());
        Assert.Equal(6, json["parameters"]!.AsArray().Count);
    }
}
