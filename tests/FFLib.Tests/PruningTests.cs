using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

public sealed class PruningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-prune-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Matrix Images(int rows, int cols, int seed)
    {
        var r = new FFRandom(seed);
        var m = new Matrix(rows, cols);
        for (int i = 0; i < m.Length; i++) m.Data[i] = r.NextSingle();
        return m;
    }

    private static IClassifierModel[] Models() =>
    [
        new FFNetwork(new FFNetworkConfig { ImageFeatures = 10, Classes = 3, HiddenSizes = [12, 9], Threshold = 1f }, new FFRandom(1)),
        new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 10, Classes = 3, HiddenSizes = [12, 9], Threshold = 1f }, 1e-3f, new FFRandom(2)),
        new FFRecurrentNetwork(new FFRecurrentConfig { ImageFeatures = 10, Classes = 3, HiddenSizes = [12, 9], Threshold = 1f, TrainFrames = 2 }, new FFRandom(3)),
        new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 10, Classes = 3, HiddenSizes = [12, 9] }, new FFRandom(4)),
    ];

    private static float[] Scores(IClassifierModel m, Matrix x) => m switch
    {
        FFNetwork f => f.LabelScores(x).Data,
        FFClassifierNetwork c => c.ClassScores(x).Data,
        FFRecurrentNetwork r => r.LabelScores(x).Data,
        BackpropNetwork b => b.Logits(x).Data,
        _ => throw new InvalidOperationException(),
    };

    [Fact]
    public void KeepingEveryNeuronLeavesPredictionsUnchanged()
    {
        var x = Images(15, 10, 9);
        foreach (var model in Models())
        {
            var ranking = NeuronPruning.RandomRanking(model, new FFRandom(5));
            var pruned = NeuronPruning.Prune(model, ranking, 1000);
            Assert.Equal(model.Architecture, pruned.Architecture);
            Assert.Equal(Scores(model, x), Scores(pruned, x));
            Assert.Equal(model.Predict(x), pruned.Predict(x));
        }
    }

    [Fact]
    public void FfnnKeepsThePermutationsFirstNeuronsAndTheirColumns()
    {
        var model = (FFNetwork)Models()[0];
        var ranking = NeuronPruning.RandomRanking(model, new FFRandom(7));
        var pruned = (FFNetwork)NeuronPruning.Prune(model, ranking, 4);
        var k1 = ranking[0].Take(4).OrderBy(i => i).ToArray();
        var k2 = ranking[1].Take(4).OrderBy(i => i).ToArray();
        Assert.Equal([4, 4], pruned.Config.HiddenSizes);
        for (int r = 0; r < 4; r++)
        {
            Assert.Equal(model.Layers[0].Weight.Row(k1[r]).ToArray(), pruned.Layers[0].Weight.Row(r).ToArray());
            Assert.Equal(model.Layers[0].Bias[k1[r]], pruned.Layers[0].Bias[r]);
            for (int c = 0; c < 4; c++) Assert.Equal(model.Layers[1].Weight[k2[r], k1[c]], pruned.Layers[1].Weight[r, c]);
        }
    }

    [Fact]
    public void FfrnnAndFfcAndBpnnRemoveTheMatchingDownstreamColumns()
    {
        var models = Models();
        var rnn = (FFRecurrentNetwork)models[2];
        var rk = NeuronPruning.RandomRanking(rnn, new FFRandom(8));
        var prnn = (FFRecurrentNetwork)NeuronPruning.Prune(rnn, rk, 5);
        var a = rk[0].Take(5).OrderBy(i => i).ToArray();
        var b = rk[1].Take(5).OrderBy(i => i).ToArray();
        Assert.Equal((5, 10), (prnn.Layers[0].ForwardWeight.Rows, prnn.Layers[0].ForwardWeight.Cols));
        Assert.Equal((5, 5), (prnn.Layers[0].BackwardWeight.Rows, prnn.Layers[0].BackwardWeight.Cols));
        Assert.Equal((5, 3), (prnn.Layers[1].BackwardWeight.Rows, prnn.Layers[1].BackwardWeight.Cols));
        // Layer 1's backward weights see only layer 2's kept neurons; layer 2's forward weights only layer 1's.
        Assert.Equal(rnn.Layers[0].BackwardWeight[a[2], b[3]], prnn.Layers[0].BackwardWeight[2, 3]);
        Assert.Equal(rnn.Layers[1].ForwardWeight[b[1], a[4]], prnn.Layers[1].ForwardWeight[1, 4]);

        var ffc = (FFClassifierNetwork)models[1];
        var ck = NeuronPruning.RandomRanking(ffc, new FFRandom(9));
        var pffc = (FFClassifierNetwork)NeuronPruning.Prune(ffc, ck, 3);
        var c1 = ck[0].Take(3).OrderBy(i => i).ToArray();
        var c2 = ck[1].Take(3).OrderBy(i => i).ToArray();
        Assert.Equal(6, pffc.Classifier.InFeatures);
        Assert.Equal(ffc.Classifier.Weight[1, c1[2]], pffc.Classifier.Weight[1, 2]);
        Assert.Equal(ffc.Classifier.Weight[2, 12 + c2[0]], pffc.Classifier.Weight[2, 3]);

        var bp = (BackpropNetwork)models[3];
        var bk = NeuronPruning.RandomRanking(bp, new FFRandom(10));
        var pbp = (BackpropNetwork)NeuronPruning.Prune(bp, bk, 2);
        Assert.Equal(3, pbp.Layers.Count);
        Assert.Equal((3, 2), (pbp.Layers[2].OutFeatures, pbp.Layers[2].InFeatures));
        Assert.Equal(bp.Layers[2].Weight[1, bk[1].Take(2).Min()], pbp.Layers[2].Weight[1, 0]);
    }

    [Fact]
    public void KeptSetsAreNested()
    {
        var model = Models()[0];
        foreach (var ranking in new[] { NeuronPruning.RandomRanking(model, new FFRandom(3)), NeuronPruning.WeightNormRanking(model) })
            for (int small = 1; small < 9; small++)
                for (int l = 0; l < ranking.Length; l++)
                    Assert.Subset(ranking[l].Take(small + 1).ToHashSet(), ranking[l].Take(small).ToHashSet());
    }

    [Fact]
    public void SavedSizeShrinksWithTheParameterCount()
    {
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 30, Classes = 4, HiddenSizes = [40, 40] }, new FFRandom(1));
        var ranking = NeuronPruning.RandomRanking(model, new FFRandom(2));
        long? headerBytes = null;
        foreach (int t in new[] { 40, 20, 10, 5 })
        {
            var pruned = NeuronPruning.Prune(model, ranking, t);
            long parameters = (34L * t + t) + ((long)t * t + t);
            Assert.Equal(parameters, NeuronPruning.ParameterCount(pruned));
            string path = Path.Combine(_dir, $"p{t}.safetensors");
            ModelCheckpoint.Save(path, pruned);
            long header = new FileInfo(path).Length - 4 * parameters;
            headerBytes ??= header;
            Assert.InRange(header, headerBytes.Value - 16, headerBytes.Value + 16); // same JSON header up to digits of the shapes
        }
    }

    [Fact]
    public void RankingsFollowTheirCriterion()
    {
        var model = (FFNetwork)Models()[0];
        var norm = NeuronPruning.WeightNormRanking(model);
        var norms = Enumerable.Range(0, 12).Select(r => System.Numerics.Tensors.TensorPrimitives.Norm(model.Layers[0].Weight.Row(r))).ToArray();
        Assert.Equal(Array.IndexOf(norms, norms.Max()), norm[0][0]);
        Assert.Equal(Array.IndexOf(norms, norms.Min()), norm[0][^1]);

        var x = Images(30, 10, 4);
        var labels = Enumerable.Range(0, 30).Select(i => i % 3).ToArray();
        var act = NeuronPruning.ActivationRanking(model, x, labels);
        var sums = new double[9];
        var acts = Analysis.FunctionalMaps.ActivationsWithLabels(model, x, labels, 3);
        for (int r = 0; r < 30; r++) for (int j = 0; j < 9; j++) sums[j] += acts[1][r, j];
        Assert.Equal(Array.IndexOf(sums, sums.Max()), act[1][0]);
    }

    [Fact]
    public void Int8FileIsAboutAQuarterAndPredictsLikeTheFloatModel()
    {
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 64, Classes = 5, HiddenSizes = [80, 60], Threshold = 1f }, new FFRandom(1));
        var x = Images(200, 64, 2);
        var labels = Enumerable.Range(0, 200).Select(i => i % 5).ToArray();
        for (int s = 0; s < 10; s++) model.TrainBatch(x, labels, labels.Select(l => (l + 1) % 5).ToArray());
        string f32 = Path.Combine(_dir, "m.safetensors"), i8 = Path.Combine(_dir, "m.int8.safetensors");
        ModelCheckpoint.Save(f32, model);
        ModelCheckpoint.SaveInt8(i8, model);
        double ratio = (double)new FileInfo(f32).Length / new FileInfo(i8).Length;
        Assert.InRange(ratio, 3.0, 4.0);
        var q = (FFNetwork)ModelCheckpoint.Load(i8).Model;
        // Each weight is within half a quantisation step of the original.
        for (int l = 0; l < 2; l++)
        {
            var w = model.Layers[l].Weight;
            for (int r = 0; r < w.Rows; r++)
            {
                float step = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(w.Row(r))) / 127f;
                for (int c = 0; c < w.Cols; c++) Assert.True(MathF.Abs(w[r, c] - q.Layers[l].Weight[r, c]) <= step * 0.5f + 1e-7f);
            }
            Assert.Equal(model.Layers[l].Bias, q.Layers[l].Bias);
        }
        var agree = model.Predict(x).Zip(q.Predict(x)).Count(p => p.First == p.Second);
        Assert.True(agree >= 190, $"{agree}/200 predictions agree");
    }

    [Fact]
    public void MagnitudePruningZeroesTheSmallestWeightsAndReportsTheSparseSize()
    {
        var model = (FFNetwork)Models()[0];
        var pruned = (FFNetwork)Compression.MagnitudePrune(model, 0.25);
        var w = pruned.Layers[0].Weight.Data;
        int nnz = w.Count(v => v != 0);
        Assert.Equal((int)Math.Ceiling(w.Length * 0.25), nnz);
        float smallestKept = w.Where(v => v != 0).Min(MathF.Abs);
        Assert.All(model.Layers[0].Weight.Data.Where((v, i) => w[i] == 0), v => Assert.True(MathF.Abs(v) <= smallestKept));
        Assert.Equal(model.Layers[0].Bias, pruned.Layers[0].Bias);
        Assert.NotSame(model.Layers[0].Weight.Data, w); // the original is untouched
        long expected = 0;
        foreach (var layer in pruned.Layers)
            expected += 8L * layer.Weight.Data.Count(v => v != 0) + 4L * (layer.OutFeatures + 1) + 4L * layer.OutFeatures;
        Assert.Equal(expected, Compression.SparseBytes(pruned));
    }

    [Fact]
    public void FineTuningTrainsOnlyThePrunedCopy()
    {
        var r = new FFRandom(5);
        var px = new byte[90 * 10];
        var lab = new byte[90];
        for (int i = 0; i < 90; i++) { lab[i] = (byte)(i % 3); for (int k = 0; k < 10; k++) px[i * 10 + k] = (byte)r.NextInt(256); }
        var data = new ImageDataset("t", 90, 10, 3, px, lab);
        var model = (FFNetwork)Models()[0];
        var before = model.Layers.SelectMany(l => l.Weight.Data.Concat(l.Bias)).ToArray();
        var pruned = (FFNetwork)NeuronPruning.Prune(model, NeuronPruning.RandomRanking(model, new FFRandom(1)), 5);
        var prunedBefore = pruned.Layers.SelectMany(l => l.Weight.Data).ToArray();
        new Trainer().Train(pruned, data, null, new TrainingOptions { Epochs = 1, BatchSize = 30 }, new FFRandom(2));
        Assert.Equal(before, model.Layers.SelectMany(l => l.Weight.Data.Concat(l.Bias)).ToArray());
        Assert.Equal([5, 5], pruned.Config.HiddenSizes);
        Assert.Equal(prunedBefore.Length, pruned.Layers.Sum(l => l.Weight.Length));
        Assert.NotEqual(prunedBefore, pruned.Layers.SelectMany(l => l.Weight.Data).ToArray());
    }

    [Fact]
    public void PruneCsvRoundTripsAndRejectsMalformedLines()
    {
        var records = new[]
        {
            new PruneRecord("ffnn", "random", 0, 10, 100, 500, 2.5, 0.9, 400, 420, null, 150, 0.89, null),
            new PruneRecord("ffnn", "magnitude", 0, 5, 50, 300, 4.0, 0.8, 200, 210, 300, null, null, 0.85),
        };
        string path = Path.Combine(_dir, "prune.csv");
        PruneExperiment.WriteCsv(path, records);
        Assert.Equal(records, PruneExperiment.ReadCsv(path));
        File.AppendAllText(path, "ffnn,random,x,1\n");
        var e = Assert.Throws<InvalidDataException>(() => PruneExperiment.ReadCsv(path));
        Assert.Contains("line 4", e.Message);
        File.WriteAllText(path, "a,b\n");
        Assert.Throws<InvalidDataException>(() => PruneExperiment.ReadCsv(path));
    }
}
