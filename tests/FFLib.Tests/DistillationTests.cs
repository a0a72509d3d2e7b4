using FFLib.Compute;
using FFLib.Data;
using FFLib.ModelCompression;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Distillation: the teacher's first and second choices from its class scores (backprop) or label scores
/// (FF, lowest wins under L−), the relabelled data, given negatives reaching training, and the refusals.
/// </summary>
public sealed class DistillationTests
{
    private static ImageDataset Data => GpuPipelineTests.Synthetic(240);

    [Fact]
    public void ABackpropTeachersChoicesAreItsTwoHighestLogits()
    {
        var data = Data;
        var teacher = new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16], LearningRate = 0.01f }, new FFRandom(2));
        new Trainer().Train(teacher, data, null, new TrainingOptions { Epochs = 2, BatchSize = 40, ValidateEachEpoch = false }, new FFRandom(3));
        var signal = Distillation.Teach(teacher, data, chunk: 70); // several chunks, one short
        var logits = teacher.Logits(data.ToMatrix());
        Assert.Equal(teacher.Predict(data.ToMatrix()), signal.Labels);
        for (int i = 0; i < data.Count; i++)
        {
            var row = logits.Row(i).ToArray();
            int second = Enumerable.Range(0, 3).Where(c => c != signal.Labels[i]).OrderByDescending(c => row[c]).First();
            Assert.Equal(second, signal.Negatives[i]);
        }
        Assert.Equal(Evaluation.Accuracy(teacher, data), signal.Agreement, 12);
        var relabelled = Distillation.WithLabels(data, signal.Labels);
        Assert.Equal(signal.Labels, Enumerable.Range(0, data.Count).Select(relabelled.Label));
        Assert.True(relabelled.Pixels.Span.SequenceEqual(data.Pixels.Span));
    }

    [Fact]
    public void AnFFTeacherUnderLMinusPrefersItsLowestScores()
    {
        var data = Data;
        var teacher = new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [20, 20], Threshold = 1f }, new FFRandom(3));
        new Trainer().Train(teacher, data, null, new TrainingOptions { Epochs = 2, BatchSize = 40, ValidateEachEpoch = false }, new FFRandom(4));
        var signal = Distillation.Teach(teacher, data);
        var scores = teacher.LabelScores(data.ToMatrix());
        Assert.Equal(teacher.Predict(data.ToMatrix()), signal.Labels);
        for (int i = 0; i < data.Count; i++)
        {
            var row = scores.Row(i).ToArray();
            Assert.Equal(Enumerable.Range(0, 3).Where(c => c != signal.Labels[i]).OrderBy(c => row[c]).First(), signal.Negatives[i]);
        }
    }

    [Fact]
    public void GivenNegativesReachTrainingAndBadOnesAreRefused()
    {
        var data = Data;
        FFNetwork Net() => new(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [10] , Threshold = 1f }, new FFRandom(5));
        var options = new TrainingOptions { Epochs = 1, BatchSize = 40, ValidateEachEpoch = false };
        var (random, given, same) = (Net(), Net(), Net());
        new Trainer().Train(random, data, null, options, new FFRandom(6));
        // Every image's negative is (its label + 1) mod 3: another stream of negatives, so other weights.
        var negatives = Enumerable.Range(0, data.Count).Select(i => (data.Label(i) + 1) % 3).ToArray();
        new Trainer().Train(given, data, null, options with { GivenNegatives = negatives }, new FFRandom(6));
        Assert.NotEqual(random.Layers[0].Weight.Data, given.Layers[0].Weight.Data);
        // A given negative equal to the label is ignored (the random draw stands): all-equal gives the random run's bits.
        new Trainer().Train(same, data, null, options with { GivenNegatives = Enumerable.Range(0, data.Count).Select(data.Label).ToArray() }, new FFRandom(6));
        Assert.Equal(random.Layers[0].Weight.Data, same.Layers[0].Weight.Data);

        var e = Assert.Throws<ArgumentException>(() => new Trainer().Train(Net(), data, null, options with { GivenNegatives = new int[5] }, new FFRandom(6)));
        Assert.Contains("5 labels for 240 training images", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Trainer().Train(Net(), data, null, options with { GivenNegatives = Enumerable.Repeat(7, data.Count).ToArray() }, new FFRandom(6)));
        Assert.Contains("label 7", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Trainer().Train(Net(), data, null, options with { GivenNegatives = negatives, Negatives = NegativeMode.Hard }, new FFRandom(6)));
        Assert.Contains("cannot be combined with Hard", e.Message);
        Assert.Throws<ArgumentException>(() => Distillation.WithLabels(data, [1, 2]));
        Assert.Throws<ArgumentException>(() => Distillation.Teach(new FFNetwork(new FFNetworkConfig { ImageFeatures = 5, Classes = 3, HiddenSizes = [4] }, new FFRandom(1)), data));
    }

    [Fact]
    public void TheTeachersWrongClassesComeInItsOrderAndSampledNegativesFollowTheirWeights()
    {
        var data = Data;
        var teacher = new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16], LearningRate = 0.01f }, new FFRandom(2));
        new Trainer().Train(teacher, data, null, new TrainingOptions { Epochs = 2, BatchSize = 40, ValidateEachEpoch = false }, new FFRandom(3));
        var signal = Distillation.Teach(teacher, data, chunk: 70);
        var logits = teacher.Logits(data.ToMatrix());
        for (int i = 0; i < data.Count; i++)
        {
            var row = logits.Row(i).ToArray();
            Assert.Equal(Enumerable.Range(0, 3).OrderByDescending(c => row[c]).Skip(1), signal.WrongOrder.Skip(2 * i).Take(2));
            Assert.Equal(signal.Negatives[i], signal.WrongOrder[2 * i]);
        }

        // Ten classes, one image ranked 9, 8, …, 1 (0 is its label): rank r drawn with weight 0.5^r, and the draws
        // depend on the epoch but not on state (the same (image, epoch) draws the same label).
        var ranked = new RankedNegatives { Order = Enumerable.Range(1, 9).Reverse().ToArray(), Classes = 10, Decay = 0.5, Seed = 7 };
        ranked.Validate(1);
        var counts = new int[10];
        for (int epoch = 0; epoch < 40_000; epoch++) counts[ranked.Draw(0, epoch)]++;
        double total = (1 - Math.Pow(0.5, 9)) / 0.5;
        for (int r = 0; r < 9; r++)
            Assert.InRange(counts[9 - r] / 40_000.0, Math.Pow(0.5, r) / total - 0.01, Math.Pow(0.5, r) / total + 0.01);
        Assert.Equal(0, counts[0]);
        Assert.Equal(ranked.Draw(0, 123), ranked.Draw(0, 123));
        var uniform = ranked with { Decay = 1 };
        Array.Clear(counts);
        for (int epoch = 0; epoch < 45_000; epoch++) counts[uniform.Draw(0, epoch)]++;
        Assert.All(counts.Skip(1), c => Assert.InRange(c, 4500, 5500));

        // In training: sampled negatives change the weights, a decay near 0 gives the second-choice run's bits
        // (every draw is the first-ranked wrong class), and bad rankings are refused.
        FFNetwork Net() => new(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [10], Threshold = 1f }, new FFRandom(5));
        var options = new TrainingOptions { Epochs = 2, BatchSize = 40, ValidateEachEpoch = false };
        var (second, sampled, nearZero) = (Net(), Net(), Net());
        new Trainer().Train(second, data, null, options with { GivenNegatives = signal.Negatives }, new FFRandom(6));
        new Trainer().Train(sampled, data, null, options with { RankedNegatives = new RankedNegatives { Order = signal.WrongOrder, Classes = 3, Decay = 1 } }, new FFRandom(6));
        new Trainer().Train(nearZero, data, null, options with { RankedNegatives = new RankedNegatives { Order = signal.WrongOrder, Classes = 3, Decay = 1e-9 } }, new FFRandom(6));
        Assert.NotEqual(second.Layers[0].Weight.Data, sampled.Layers[0].Weight.Data);
        Assert.Equal(second.Layers[0].Weight.Data, nearZero.Layers[0].Weight.Data);
        var bad = Assert.Throws<ArgumentException>(() => new Trainer().Train(Net(), data, null, options with { RankedNegatives = new RankedNegatives { Order = new int[10], Classes = 3, Decay = 0.5 } }, new FFRandom(6)));
        Assert.Contains("holds 10 labels; 240 images × 2 wrong classes need 480", bad.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer().Train(Net(), data, null, options with { RankedNegatives = new RankedNegatives { Order = signal.WrongOrder, Classes = 3, Decay = 1.5 } }, new FFRandom(6)));
        Assert.Contains("cannot be combined with GivenNegatives", Assert.Throws<ArgumentException>(() => new Trainer().Train(Net(), data, null,
            options with { GivenNegatives = signal.Negatives, RankedNegatives = new RankedNegatives { Order = signal.WrongOrder, Classes = 3, Decay = 0.5 } }, new FFRandom(6))).Message);
    }

    [Fact]
    public void TheCommandRefusesBadInputInOneLineAndWritesNothing()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-distill-").FullName;
        try
        {
            string outDir = Path.Combine(dir, "out");
            foreach (var (args, expected) in new (string[], string)[]
            {
                (["--teacher", Path.Combine(dir, "none.safetensors")], "none.safetensors"),
                (["--teacher", "x", "--model", "lenet"], "--model lenet: no such architecture"),
                (["--teacher", "x", "--epochs", "0"], "--epochs must be at least 1, not 0"),
                (["--teacher", "x", "--negatives", "hard"], "--negatives must be teacher, sampled or random, not 'hard'"),
                (["--teacher", "x", "--negatives", "sampled", "--negative-decay", "0"], "--negative-decay must be in (0, 1], not 0"),
                (["--teacher", "x", "--negative-decay", "0.3"], "--negative-decay applies to --negatives sampled only"),
                (["--teacher", "x", "--lr", "-1"], "--lr must be a positive number, not -1"),
            })
            {
                var r = CliProcess.Run(dir, ["distill", .. args, "--out", outDir, "--no-download"]);
                Assert.True(r.Code is 2 or 3, $"{string.Join(' ', args)}: exit {r.Code}: {r.Err}");
                Assert.Contains(expected, r.Err);
                Assert.Single(r.Err.Trim().Split('\n'));
                Assert.False(Directory.Exists(outDir));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
