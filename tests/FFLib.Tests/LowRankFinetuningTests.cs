using FFLib.Compute;
using FFLib.Data;
using FFLib.Gpu;
using FFLib.IO;
using FFLib.ModelCompression;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Rank-constrained fine-tuning of low-rank factors: the model ends holding exactly U·V at the rank it was
/// given, training lowers the loss below the one-shot factorisation's, the study stores the tuned factors
/// beside the one-shot ones, and the misuses are refused.
/// </summary>
public sealed class LowRankFinetuningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-lrft-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FFNetwork Trained(out ImageDataset train) => TrainedQuantizationTests.Trained(out train);

    [Fact]
    public void TheModelEndsHoldingTheTunedFactorsAtTheirRank()
    {
        var model = Trained(out var train);
        var factors = LowRank.Factor(model, 3);
        Assert.Equal(["layers.0.weight", "layers.1.weight"], factors.Select(f => f.Name)); // both matrices are smaller as rank-3 factors
        var copy = (FFNetwork)ModelCheckpoint.Clone(model);
        var tuned = LowRankFinetuning.Finetune(copy, factors, train, new TrainingOptions { Epochs = 2, BatchSize = 50 }, new FFRandom(5));
        var byName = copy.Parameters().ToDictionary(p => p.Name);
        foreach (var (before, after) in factors.Zip(tuned))
        {
            Assert.Equal((before.Name, before.Rows, before.Cols, before.Rank), (after.Name, after.Rows, after.Cols, after.Rank));
            Assert.NotEqual(before.V, after.V); // training moved the factors
            // The model holds U·V: what the compressed file will decode to.
            TestUtil.AssertClose(after.Reconstruct(), byName[after.Name].Data, 1e-5, after.Name);
            // U has orthonormal columns.
            for (int a = 0; a < after.Rank; a++)
                for (int b = 0; b < after.Rank; b++)
                {
                    double dot = 0;
                    for (int i = 0; i < after.Rows; i++) dot += (double)after.U[i * after.Rank + a] * after.U[i * after.Rank + b];
                    Assert.True(Math.Abs(dot - (a == b ? 1 : 0)) < 1e-4, $"UᵀU[{a},{b}] = {dot}");
                }
        }
    }

    [Fact]
    public void TuningTheFactorsLowersTheFFLossBelowTheOneShotFactorisation()
    {
        var model = Trained(out var train);
        var images = new Matrix(train.Count, 12, Enumerable.Range(0, train.Count * 12).Select(i => train.Pixels.Span[i] / 255f).ToArray());
        var labels = Enumerable.Range(0, train.Count).Select(i => (int)train.Labels.Span[i]).ToArray();
        var negatives = labels.Select(l => (l + 1) % 3).ToArray();
        float Loss(IClassifierModel m) => ((FFNetwork)ModelCheckpoint.Clone(m)).TrainBatch(images, labels, negatives).Sum();
        var factors = LowRank.Factor(model, 2);
        var oneShot = (FFNetwork)ModelCheckpoint.Clone(model);
        foreach (var f in factors) f.Reconstruct().CopyTo(oneShot.Parameters().Single(p => p.Name == f.Name).Data, 0);
        var tuned = (FFNetwork)ModelCheckpoint.Clone(model);
        foreach (var o in tuned.AllOptimizers) o.Settings = o.Settings with { LearningRate = 0.01f };
        LowRankFinetuning.Finetune(tuned, factors, train, new TrainingOptions { Epochs = 3, BatchSize = 50 }, new FFRandom(5));
        Assert.True(Loss(tuned) < Loss(oneShot) - 5e-3f, $"tuned {Loss(tuned)} vs one-shot {Loss(oneShot)}");
    }

    [Fact]
    public void TheStudyStoresTheTunedFactorsBesideTheOneShotOnes()
    {
        var model = Trained(out var train);
        var options = new CompressionOptions { Formats = [WeightFormat.Uniform(8, true)], Ranks = [0, 3], LowRankFinetuneEpochs = 2, FinetuneLearningRate = 0.01f };
        var records = CompressionStudy.Run(model, train, options, Path.Combine(_dir, "study"), finetuneData: train);
        Assert.Equal(["int8", "lowrank 3 → int8", "lowrank 3 → tuned 2 → int8"], records.Select(r => r.Method));
        Assert.Equal(records[1].Parameters, records[2].Parameters);
        // The stored file (read back from its rANS form) predicts as the record says.
        var reloaded = ModelCheckpoint.Load(Path.Combine(_dir, "study", "keepall-rank3-tuned-int8.rans.safetensors")).Model;
        Assert.Equal(records[2].Accuracy, Evaluation.Accuracy(reloaded, train));
        Assert.Equal(model.Parameters().Select(p => p.Data), Trained(out _).Parameters().Select(p => p.Data)); // the input model is left alone
    }

    [Fact]
    public void MisusesAreRefusedWithTheReason()
    {
        var model = Trained(out var train);
        var factors = LowRank.Factor(model, 3);
        var e = Assert.Throws<ArgumentException>(() => LowRankFinetuning.Finetune(model, [factors[0] with { Name = "layers.9.weight" }], train, new TrainingOptions { Epochs = 1 }, new FFRandom(1)));
        Assert.Contains("is not a parameter", e.Message);
        e = Assert.Throws<ArgumentException>(() => LowRankFinetuning.Finetune(model, [factors[1] with { Name = "layers.0.weight" }], train, new TrainingOptions { Epochs = 1 }, new FFRandom(1)));
        Assert.Contains("in its factors", e.Message);
        using var gpu = GpuBackend.CreateSimulator();
        model.Backend = gpu;
        e = Assert.Throws<ArgumentException>(() => LowRankFinetuning.Finetune(model, factors, train, new TrainingOptions { Epochs = 1 }, new FFRandom(1)));
        Assert.Contains("CPU backend", e.Message);
        model.Backend = ComputeBackend.Cpu;
        Assert.Throws<ArgumentOutOfRangeException>(() => CompressionStudy.Run(model, train, new CompressionOptions { LowRankFinetuneEpochs = -1 }, Path.Combine(_dir, "bad")));
        Assert.Throws<ArgumentException>(() => CompressionStudy.Run(model, train, new CompressionOptions { Ranks = [2], LowRankFinetuneEpochs = 1 }, Path.Combine(_dir, "bad2")));
    }
}
