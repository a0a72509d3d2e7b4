using FFLib.Compute;
using FFLib.Models;
using FFLib.Optim;
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
    [InlineData(1e-8f)]
    [InlineData(0f)]
    public void RowSparseAdamIsBitIdenticalToDenseAdam(float eps)
    {
        int rows = 70, cols = 33;
        var p1 = GemmTests.Random(rows * cols, 1); var p2 = (float[])p1.Clone();
        var b1 = GemmTests.Random(rows, 2); var b2 = (float[])b1.Clone();
        var dense = new AdamOptimizer(new AdamSettings(0.02f, Epsilon: eps), p1, b1);
        var sparse = new AdamOptimizer(new AdamSettings(0.02f, Epsilon: eps), p2, b2);
        var r = new FFRandom(3);
        for (int step = 0; step < 6; step++)
        {
            // Rows 0–19 never active (their moments stay zero and are skipped); others come and go.
            var active = Enumerable.Range(20, rows - 20).Where(_ => r.NextSingle() < 0.5f).ToArray();
            var full = new float[rows * cols];
            var compact = new float[active.Length * cols];
            for (int i = 0; i < active.Length; i++)
                for (int c = 0; c < cols; c++)
                    full[active[i] * cols + c] = compact[i * cols + c] = 2 * r.NextSingle() - 1;
            var gb = GemmTests.Random(rows, 10 + step);
            dense.Step([full, gb]);
            sparse.StepRowSparse(0, cols, active, compact, [full, gb]);
            Assert.Equal(p1, p2);
            Assert.Equal(b1, b2);
            Assert.Equal(dense.FirstMoments[0], sparse.FirstMoments[0]);
            Assert.Equal(dense.SecondMoments[0], sparse.SecondMoments[0]);
        }
        // A dense step in between and a restore reset the bookkeeping of quiet rows.
        var g = GemmTests.Random(rows * cols, 99);
        dense.Step([g, new float[rows]]);
        sparse.Step([g, new float[rows]]);
        var again = new[] { 21, 40 };
        var ga = GemmTests.Random(2 * cols, 5);
        var gfull = new float[rows * cols];
        ga.AsSpan(0, cols).CopyTo(gfull.AsSpan(21 * cols)); ga.AsSpan(cols).CopyTo(gfull.AsSpan(40 * cols));
        dense.Step([gfull, new float[rows]]);
        sparse.StepRowSparse(0, cols, again, ga, [gfull, new float[rows]]);
        Assert.Equal(p1, p2);
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
        observed.StepObserver = (l, loss, ms, gw, gb) => observerCalls++;
        var r = new FFRandom(5);
        var images = new Matrix(24, 40);
        for (int i = 0; i < images.Length; i++) images.Data[i] = r.NextSingle();
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
