using FFLib.Compute;
using FFLib.Data;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

public class TrainerTests
{
    /// <summary>A small synthetic dataset: 60 images of 12 pixels, 3 classes.</summary>
    private static ImageDataset Synthetic()
    {
        var r = new FFRandom(9);
        var px = new byte[60 * 12];
        var labels = new byte[60];
        for (int i = 0; i < 60; i++)
        {
            labels[i] = (byte)(i % 3);
            for (int k = 0; k < 12; k++) px[i * 12 + k] = (byte)(k / 4 == labels[i] ? 200 + r.NextInt(50) : r.NextInt(40));
        }
        return new ImageDataset("synthetic", 60, 12, 3, px, labels);
    }

    [Fact]
    public void InverseControlSetsEveryWrongLabel()
    {
        var m = NegativeControl.Inverse([2, 0], 4);
        Assert.Equal(new float[] { 1, 1, 0, 1, 0, 1, 1, 1 }, m.Data);
    }

    [Fact]
    public void HardNegativesPickTheMostPlausibleWrongLabel()
    {
        var scores = Matrix.FromRows(new float[,] { { 0.1f, 5f, 0.2f, 3f }, { 9f, 1f, 2f, 0.5f } });
        // L−: lowest score is most plausible; the true label is excluded.
        Assert.Equal(new[] { 2, 3 }, NegativeControl.Hard(scores, [0, 1], LossDirection.Minimize));
        // L+: highest.
        Assert.Equal(new[] { 3, 0 }, NegativeControl.Hard(scores, [1, 2], LossDirection.Maximize));
    }

    [Fact]
    public void SampledHardNegativesFollowPlausibilityAndNeverHitTheTrueLabel()
    {
        // Plausibility under L+ = score; wrong labels 1, 2, 3 with scores 0, ln 2, ln 5 → probabilities 1:2:5.
        var scores = Matrix.FromRows(new float[,] { { 100f, 0f, MathF.Log(2), MathF.Log(5) } });
        var counts = new int[4];
        var r = new FFRandom(4);
        for (int i = 0; i < 16_000; i++) counts[NegativeControl.Hard(scores, [0], LossDirection.Maximize, r)[0]]++;
        Assert.Equal(0, counts[0]);
        Assert.InRange(counts[1], 1_700, 2_300);
        Assert.InRange(counts[2], 3_600, 4_400);
        Assert.InRange(counts[3], 9_400, 10_600);
    }

    [Theory]
    [InlineData(NegativeMode.Random)]
    [InlineData(NegativeMode.Inverse)]
    [InlineData(NegativeMode.Hard)]
    [InlineData(NegativeMode.HardSampled)]
    public void EveryNegativeModeTrainsAnFfnnAndAnFfrnn(NegativeMode mode)
    {
        var data = Synthetic();
        ITrainableModel[] models =
        [
            new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [10, 8], Threshold = 1f }, new FFRandom(1)),
            new FFRecurrentNetwork(new FFRecurrentConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [6], Threshold = 1f, TrainFrames = 2 }, new FFRandom(1)),
        ];
        foreach (var model in models)
        {
            var history = new Trainer().Train(model, data, data, new TrainingOptions { Epochs = 2, BatchSize = 20, Negatives = mode }, new FFRandom(2));
            Assert.Equal(2, history.Count);
            Assert.All(history.SelectMany(h => h.LayerLosses), l => Assert.True(double.IsFinite(l)));
        }
    }

    [Fact]
    public void HardNegativesNeedALabelScorer()
    {
        var bp = new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [5] }, new FFRandom(1));
        var e = Assert.Throws<ArgumentException>(() => new Trainer().Train(bp, Synthetic(), null, new TrainingOptions { Epochs = 1, Negatives = NegativeMode.Hard }, new FFRandom(1)));
        Assert.Contains("BPNN", e.Message);
    }

    [Fact]
    public void TheCosineScheduleFactorsAreKnownValues()
    {
        Assert.Equal(1f, LearningRateSchedules.Factor(LearningRateSchedule.Cosine, 0, 10));
        Assert.Equal(0.5f, LearningRateSchedules.Factor(LearningRateSchedule.Cosine, 5, 10), 6);
        Assert.Equal((float)(0.5 * (1 + Math.Cos(Math.PI * 0.25))), LearningRateSchedules.Factor(LearningRateSchedule.Cosine, 1, 4));
        Assert.Equal(0f, LearningRateSchedules.Factor(LearningRateSchedule.Cosine, 10, 10), 6);
        Assert.Equal(1f, LearningRateSchedules.Factor(LearningRateSchedule.Constant, 7, 10));
        Assert.Equal(LearningRateSchedule.Cosine, LearningRateSchedules.Parse(" Cosine "));
        Assert.Contains("constant or cosine", Assert.Throws<FormatException>(() => LearningRateSchedules.Parse("linear")).Message);
    }

    [Fact]
    public void AScaledRateStepsAsTheSameRateSetDirectly()
    {
        // lr 0.02 × 0.5 and lr 0.01 are the same float: the two optimisers must move their parameters identically (weight decay included).
        var (a, b) = (new float[] { 0.3f, -1.2f, 2f }, new float[] { 0.3f, -1.2f, 2f });
        var grad = new float[] { 0.5f, -0.25f, 1.5f };
        var scaled = new Optim.AdamOptimizer(new Optim.AdamSettings(0.02f, WeightDecay: 0.1f), a) { LearningRateScale = 0.5f };
        var direct = new Optim.AdamOptimizer(new Optim.AdamSettings(0.01f, WeightDecay: 0.1f), b);
        for (int i = 0; i < 3; i++) { scaled.Step([grad]); direct.Step([grad]); }
        Assert.Equal(b, a);
        Assert.NotEqual(0.3f, a[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => scaled.LearningRateScale = float.NaN);
    }

    [Fact]
    public void TheTrainerFollowsTheCosineScheduleOverEachPhaseAndRestoresTheRates()
    {
        var model = new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [10, 8], Threshold = 1f }, 1e-3f, new FFRandom(1));
        var seen = new List<(TrainingPhase Phase, float Scale)>();
        // Before batch g its optimisers still hold the factor of step g − 1 (the first batch: 1).
        var trainer = new Trainer { BeforeBatch = b => seen.Add((b.Phase, b.Model.AllOptimizers[0].LearningRateScale)) };
        var options = new TrainingOptions { Epochs = 4, BatchSize = 20, Schedule = LearningRateSchedule.Cosine };
        trainer.Train(model, Synthetic(), null, options, new FFRandom(3));
        // FFNN+C: two FF epochs then two classifier epochs, 3 batches each: each phase is 6 steps of cosine decay.
        var expected = new List<float> { 1f };
        for (int phase = 0; phase < 2; phase++)
            for (int k = 0; k < 6; k++) expected.Add(LearningRateSchedules.Factor(LearningRateSchedule.Cosine, k, 6));
        Assert.Equal(expected.Take(12), seen.Select(s => s.Scale));
        Assert.All(model.AllOptimizers, o => Assert.Equal(1f, o.LearningRateScale));
        Assert.All(model.AllOptimizers, o => Assert.True(o.Settings.LearningRate is 0.02f or 1e-3f, $"base rate {o.Settings.LearningRate} changed"));

        // And it changes training: the same run at a constant rate ends elsewhere.
        var constant = new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [10, 8], Threshold = 1f }, 1e-3f, new FFRandom(1));
        new Trainer().Train(constant, Synthetic(), null, options with { Schedule = LearningRateSchedule.Constant }, new FFRandom(3));
        Assert.NotEqual(constant.Parameters()[0].Data, model.Parameters()[0].Data);
    }

    [Fact]
    public void HooksSeeEveryEpochBatchAndLayerAndCanScheduleTheLearningRate()
    {
        var model = new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [10, 8], Threshold = 1f }, 1e-3f, new FFRandom(1));
        var epochs = new List<(int, TrainingPhase)>();
        int batches = 0;
        var layerWidths = new List<(int Layer, int Width, int Rows, int Positives)>();
        model.ActivationObserver = (in LayerActivation a) =>
        {
            layerWidths.Add((a.Layer, a.Width, a.Rows, a.Positives));
            Assert.Equal(a.Rows * a.Width, a.Activations.Length);
            Assert.Equal(a.Rows, a.MeanSquares.Length);
        };
        var trainer = new Trainer
        {
            BeforeEpoch = e =>
            {
                epochs.Add((e.Epoch, e.Phase));
                foreach (var o in e.Model.AllOptimizers) o.Settings = o.Settings with { LearningRate = o.Settings.LearningRate * 0.5f };
            },
            BeforeBatch = _ => batches++,
        };
        trainer.Train(model, Synthetic(), null, new TrainingOptions { Epochs = 4, BatchSize = 20 }, new FFRandom(3));
        Assert.Equal([(1, TrainingPhase.ForwardForward), (2, TrainingPhase.ForwardForward), (3, TrainingPhase.Classifier), (4, TrainingPhase.Classifier)], epochs);
        Assert.Equal(4 * 3, batches);
        // 2 FF epochs × 3 batches × 2 layers, 40 rows each (20 positive + 20 negative).
        Assert.Equal(12, layerWidths.Count);
        Assert.Contains((1, 8, 40, 20), layerWidths);
        Assert.Equal(0.02f / 16, model.Stack.Optimizers[0].Settings.LearningRate, 6);
        Assert.Equal(1e-3f / 16, model.ClassifierOptimizer.Settings.LearningRate, 8);
    }
}
