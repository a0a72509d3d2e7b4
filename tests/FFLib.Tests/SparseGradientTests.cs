using FFLib.Compute;
using FFLib.Models;
using FFLib.Optim;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The dead-neuron shortcut: a neuron silent on every row of a batch has a zero row in dW, so the
/// product runs over the active neurons only and Adam skips rows whose moments are still zero.
/// All of it must be bit-identical to the dense path.
/// </summary>
public class SparseGradientTests
{
    public static TheoryData<int, int> Shapes => new() { { 1, 1 }, { 3, 7 }, { 5, 16 }, { 9, 17 }, { 256, 31 }, { 2, 100 }, { 64, 2000 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void NonzeroColumnsAndGatherMatchReferences(int rows, int cols)
    {
        var m = GemmTests.Random(rows * cols, rows + cols);
        var r = new FFRandom(7);
        // Zero out most columns, some with −0, and plant a NaN and a lone nonzero in otherwise-zero columns.
        for (int j = 0; j < cols; j++)
            if (r.NextSingle() < 0.6f)
                for (int i = 0; i < rows; i++) m[i * cols + j] = r.NextSingle() < 0.5f ? 0f : -0f;
        if (cols > 3) { m[(rows - 1) * cols + 2] = float.NaN; m[1] = 0; m[(rows / 2) * cols + 1] = 1e-40f; }
        var fast = new int[cols]; var reference = new int[cols];
        int nf = Kernels.NonzeroColumns(m, rows, cols, fast, new uint[cols]);
        int nr = Kernels.NonzeroColumnsReference(m, rows, cols, reference);
        Assert.Equal(nr, nf);
        Assert.Equal(reference.AsSpan(0, nr).ToArray(), fast.AsSpan(0, nf).ToArray());
        if (cols > 3) Assert.Contains(2, fast.AsSpan(0, nf).ToArray()); // the NaN column counts as active
        if (cols > 3 && rows > 1) Assert.Contains(1, fast.AsSpan(0, nf).ToArray()); // a denormal is not zero

        var dstFast = new float[rows * nf]; var dstRef = new float[rows * nf];
        Kernels.GatherColumns(m, rows, cols, fast.AsSpan(0, nf), dstFast);
        Kernels.GatherColumnsReference(m, rows, cols, fast.AsSpan(0, nf), dstRef);
        Assert.Equal(dstRef, dstFast);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SpreadRowsUndoesARowGather(int rows, int cols)
    {
        var m = GemmTests.Random(rows * cols, rows * 3 + cols);
        var r = new FFRandom(11);
        var listed = Enumerable.Range(0, rows).Where(_ => r.NextSingle() < 0.6f).ToArray();
        var buffer = GemmTests.Random(rows * cols, 5); // garbage outside the compact rows must be cleared
        for (int i = 0; i < listed.Length; i++) m.AsSpan(listed[i] * cols, cols).CopyTo(buffer.AsSpan(i * cols));
        Kernels.SpreadRows(buffer, listed, cols, rows);
        var expected = new float[rows * cols];
        foreach (int j in listed) m.AsSpan(j * cols, cols).CopyTo(expected.AsSpan(j * cols));
        Assert.Equal(expected, buffer);
    }

    [Theory]
    [InlineData(1e-8f)]
    [InlineData(0f)]
    public void RowSparseAdamIsBitIdenticalToDenseAdam(float eps)
    {
        // Two row-sparse matrices sharing the active rows (an FFRNN layer's forward and backward
        // weights) and a dense bias.
        int rows = 70, cols = 33, cols2 = 5;
        var p1 = GemmTests.Random(rows * cols, 1); var p2 = (float[])p1.Clone();
        var q1 = GemmTests.Random(rows * cols2, 3); var q2 = (float[])q1.Clone();
        var b1 = GemmTests.Random(rows, 2); var b2 = (float[])b1.Clone();
        var dense = new AdamOptimizer(new AdamSettings(0.02f, Epsilon: eps), p1, q1, b1);
        var sparse = new AdamOptimizer(new AdamSettings(0.02f, Epsilon: eps), p2, q2, b2);
        var r = new FFRandom(3);
        (float[] Full, float[] Compact) Grad(int[] active, int width)
        {
            var full = new float[rows * width];
            var compact = new float[active.Length * width];
            for (int i = 0; i < active.Length; i++)
                for (int c = 0; c < width; c++)
                    full[active[i] * width + c] = compact[i * width + c] = 2 * r.NextSingle() - 1;
            return (full, compact);
        }
        void Check()
        {
            Assert.Equal(p1, p2);
            Assert.Equal(q1, q2);
            Assert.Equal(b1, b2);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(dense.FirstMoments[i], sparse.FirstMoments[i]);
                Assert.Equal(dense.SecondMoments[i], sparse.SecondMoments[i]);
            }
        }
        for (int step = 0; step < 6; step++)
        {
            // Rows 0–19 never active (their moments stay zero and are skipped); others come and go.
            var active = Enumerable.Range(20, rows - 20).Where(_ => r.NextSingle() < 0.5f).ToArray();
            var (fullP, compactP) = Grad(active, cols);
            var (fullQ, compactQ) = Grad(active, cols2);
            var gb = GemmTests.Random(rows, 10 + step);
            dense.Step([fullP, fullQ, gb]);
            sparse.StepRowSparse(rows, active, [compactP, compactQ, gb], [0, 1]);
            Check();
        }
        // A dense step in between resets the bookkeeping of quiet rows (row 3 wakes up).
        var g = GemmTests.Random(rows * cols, 99); var gq = GemmTests.Random(rows * cols2, 98);
        dense.Step([g, gq, new float[rows]]);
        sparse.Step([g, gq, new float[rows]]);
        var again = new[] { 3, 21, 40 };
        var (fp, cp) = Grad(again, cols);
        var (fq, cq) = Grad(again, cols2);
        dense.Step([fp, fq, new float[rows]]);
        sparse.StepRowSparse(rows, again, [cp, cq, new float[rows]], [0, 1]);
        Check();
        if (eps == 0) Assert.Contains(p1, float.IsNaN); // 0/0 with ε = 0, as in PyTorch: skipping would have hidden it
    }

    [Fact]
    public void NetworkWithDeadNeuronsTrainsBitIdenticallyWithAndWithoutTheShortcut()
    {
        var cfg = new FFNetworkConfig { ImageFeatures = 40, Classes = 5, HiddenSizes = [30, 30, 20], Threshold = 0.5f };
        FFNetwork Make(bool sparse)
        {
            var net = new FFNetwork(cfg, new FFRandom(4)) { UseSparseGradient = sparse };
            // Kill a third of layers 2 and 3 for good, as FF training does to ~40% of a wide layer 2.
            for (int j = 0; j < 10; j++) { net.Layers[1].Bias[j] = -1e3f; net.Layers[2].Bias[j] = -1e3f; }
            return net;
        }
        var on = Make(true); var off = Make(false); var observed = Make(true);
        int observerCalls = 0;
        observed.StepObserver = s => observerCalls++;
        var r = new FFRandom(5);
        var images = TestUtil.RandomMatrix(24, 40, r);
        var labels = Enumerable.Range(0, 24).Select(i => i % 5).ToArray();
        var neg = labels.Select(l => (l + 2) % 5).ToArray();
        for (int step = 0; step < 5; step++)
        {
            // Silence three more layer-2 neurons after the first step: their moments are nonzero by then.
            if (step == 1)
                foreach (var net in new[] { on, off, observed })
                    for (int j = 10; j < 13; j++) net.Layers[1].Bias[j] = -1e3f;
            Assert.Equal(off.TrainBatch(images, labels, neg), on.TrainBatch(images, labels, neg));
            observed.TrainBatch(images, labels, neg);
        }
        Assert.True(on.SparseGradientSteps >= 10, $"only {on.SparseGradientSteps} sparse steps");
        Assert.Equal(0, off.SparseGradientSteps);
        Assert.Equal(15, observerCalls);
        for (int l = 0; l < 3; l++)
        {
            Assert.Equal(off.Layers[l].Weight.Data, on.Layers[l].Weight.Data);
            Assert.Equal(off.Layers[l].Bias, on.Layers[l].Bias);
            Assert.Equal(off.Optimizers[l].FirstMoments[0], on.Optimizers[l].FirstMoments[0]);
            Assert.Equal(off.Optimizers[l].SecondMoments[0], on.Optimizers[l].SecondMoments[0]);
            Assert.Equal(off.Layers[l].Weight.Data, observed.Layers[l].Weight.Data);
        }
    }
}

/// <summary>The same shortcut in the FFRNN: forward and backward weight gradients share the active neurons.</summary>
public class RecurrentSparseGradientTests
{
    [Fact]
    public void RecurrentNetworkWithDeadNeuronsTrainsBitIdenticallyWithAndWithoutTheShortcut()
    {
        var cfg = new FFRecurrentConfig { ImageFeatures = 12, Classes = 4, HiddenSizes = [30, 20], Threshold = 0.3f, TrainFrames = 3 };
        FFRecurrentNetwork Make(bool sparse)
        {
            var net = new FFRecurrentNetwork(cfg, new FFRandom(6)) { UseSparseGradient = sparse };
            for (int j = 0; j < 8; j++) { net.Layers[0].Bias[j] = -1e3f; net.Layers[1].Bias[j] = -1e3f; }
            return net;
        }
        var on = Make(true); var off = Make(false); var observed = Make(true);
        int observerCalls = 0;
        observed.StepObserver = s => observerCalls++;
        var r = new FFRandom(7);
        var images = TestUtil.RandomMatrix(10, 12, r);
        var labels = Enumerable.Range(0, 10).Select(i => i % 4).ToArray();
        var neg = Training.NegativeControl.OneHot(labels.Select(l => (l + 1) % 4).ToArray(), 4);
        for (int step = 0; step < 3; step++)
        {
            Assert.Equal(off.TrainBatch(images, labels, neg, TrainingPhase.ForwardForward), on.TrainBatch(images, labels, neg, TrainingPhase.ForwardForward));
            observed.TrainBatch(images, labels, neg, TrainingPhase.ForwardForward);
        }
        Assert.True(on.SparseGradientSteps >= 12, $"only {on.SparseGradientSteps} sparse steps of 18");
        Assert.Equal(0, off.SparseGradientSteps);
        Assert.Equal(18, observerCalls);
        for (int l = 0; l < 2; l++)
        {
            Assert.Equal(off.Layers[l].ForwardWeight.Data, on.Layers[l].ForwardWeight.Data);
            Assert.Equal(off.Layers[l].BackwardWeight.Data, on.Layers[l].BackwardWeight.Data);
            Assert.Equal(off.Layers[l].Bias, on.Layers[l].Bias);
            Assert.Equal(off.Layers[l].ForwardWeight.Data, observed.Layers[l].ForwardWeight.Data);
            Assert.Equal(off.Layers[l].BackwardWeight.Data, observed.Layers[l].BackwardWeight.Data);
        }
        Assert.Equal(off.LabelScores(images).Data, on.LabelScores(images).Data);
    }
}

/// <summary>FFRNN prediction packs its weights once per call and keeps them for the next: same bits, never stale.</summary>
public class RecurrentPackedPredictionTests
{
    [Fact]
    public void PackedPredictionMatchesThePlainProductsAndFollowsWeightChanges()
    {
        var cfg = new FFRecurrentConfig { ImageFeatures = 40, Classes = 5, HiddenSizes = [300, 270], Threshold = 0.3f, TrainFrames = 2 };
        var net = new FFRecurrentNetwork(cfg, new FFRandom(8));
        var r = new FFRandom(9);
        var images = TestUtil.RandomMatrix(70, 40, r);
        float[] Scores(bool packed)
        {
            net.PackWeightsForPrediction = packed;
            return net.LabelScores(images).Data;
        }
        var before = Scores(true);
        Assert.Equal(Scores(false), before);
        // Train a step: the kept packed weights must be refreshed, not reused.
        var labels = Enumerable.Range(0, 70).Select(i => i % 5).ToArray();
        net.TrainBatch(images, labels, Training.NegativeControl.OneHot(labels.Select(l => (l + 2) % 5).ToArray(), 5), TrainingPhase.ForwardForward);
        var after = Scores(true);
        Assert.Equal(Scores(false), after);
        Assert.NotEqual(before, after); // the step changed the scores, so stale packed weights would have shown
    }
}

/// <summary>Prediction keeps buffers and packed weights between calls; concurrent calls on one model must still agree.</summary>
public class ConcurrentPredictionTests
{
    [Fact]
    public void ConcurrentScoringOnOneModelGivesTheSequentialResults()
    {
        var ff = new FFNetwork(new FFNetworkConfig { ImageFeatures = 30, Classes = 4, HiddenSizes = [80, 60] }, new FFRandom(1));
        var bp = new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 30, Classes = 4, HiddenSizes = [80, 60] }, new FFRandom(2));
        var r = new FFRandom(3);
        var sets = Enumerable.Range(0, 8).Select(k => TestUtil.RandomMatrix(300 + 17 * k, 30, r)).ToArray();
        var ffExpected = sets.Select(m => ff.LabelScores(m).Data).ToArray();
        var bpExpected = sets.Select(m => bp.Logits(m).Data).ToArray();
        var ffActual = new float[sets.Length][];
        var bpActual = new float[sets.Length][];
        Parallel.For(0, sets.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            int k = i % sets.Length;
            var a = ff.LabelScores(sets[k]).Data;
            var b = bp.Logits(sets[k]).Data;
            if (i >= sets.Length * 3) { ffActual[k] = a; bpActual[k] = b; }
            Assert.Equal(ffExpected[k], a);
            Assert.Equal(bpExpected[k], b);
        });
        Assert.All(ffActual, a => Assert.NotNull(a));
    }

    [Fact]
    public void ConcurrentRecurrentScoringOnOneModelGivesTheSequentialResults()
    {
        // The FFRNN keeps its state buffers, sweep scratch and packed weights between calls.
        var rnn = new FFRecurrentNetwork(new FFRecurrentConfig { ImageFeatures = 20, Classes = 3, HiddenSizes = [40, 30] }, new FFRandom(4));
        var r = new FFRandom(5);
        var sets = Enumerable.Range(0, 6).Select(k => TestUtil.RandomMatrix(20 + 13 * k, 20, r)).ToArray();
        var expected = sets.Select(m => rnn.LabelScores(m).Data).ToArray();
        Parallel.For(0, sets.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            i => Assert.Equal(expected[i % sets.Length], rnn.LabelScores(sets[i % sets.Length]).Data));
    }
}

/// <summary>FFRNN layer 1's image product shared by the rows holding the same image and reused across frames: same bits.</summary>
public class RecurrentImageProductTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SharedImageProductTrainsAndScoresBitIdentically(bool inverseNegatives)
    {
        var cfg = new FFRecurrentConfig { ImageFeatures = 40, Classes = 5, HiddenSizes = [300, 40], Threshold = 0.3f, TrainFrames = 3 };
        var shared = new FFRecurrentNetwork(cfg, new FFRandom(12));
        var plain = new FFRecurrentNetwork(cfg, new FFRandom(12)) { ShareImageProduct = false };
        var r = new FFRandom(13);
        var labels = Enumerable.Range(0, 37).Select(i => i % 5).ToArray();
        var neg = inverseNegatives ? Training.NegativeControl.Inverse(labels, 5) : Training.NegativeControl.OneHot(labels.Select(l => (l + 1) % 5).ToArray(), 5);
        for (int step = 0; step < 3; step++)
        {
            var images = TestUtil.RandomMatrix(37, 40, r);
            Assert.Equal(plain.TrainBatch(images, labels, neg, TrainingPhase.ForwardForward), shared.TrainBatch(images, labels, neg, TrainingPhase.ForwardForward));
        }
        for (int l = 0; l < 2; l++)
        {
            Assert.Equal(plain.Layers[l].ForwardWeight.Data, shared.Layers[l].ForwardWeight.Data);
            Assert.Equal(plain.Layers[l].BackwardWeight.Data, shared.Layers[l].BackwardWeight.Data);
            Assert.Equal(plain.Layers[l].Bias, shared.Layers[l].Bias);
        }
        var test = TestUtil.RandomMatrix(45, 40, r);
        Assert.Equal(plain.LabelScores(test).Data, shared.LabelScores(test).Data);
    }
}
