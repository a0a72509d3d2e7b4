using FFLib.Compute;
using FFLib.Layers;
using Xunit;

namespace FFLib.Tests;

/// <summary>Each fast kernel against its plain reference, over many lengths.</summary>
public class KernelTests
{
    public static TheoryData<int> Lengths => new() { 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 100, 257, 1000, 4099 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void AdamMatchesScalarReference(int n)
    {
        // Same operations in the same order: the fused vector kernel must be bit-identical to the loop.
        var p1 = GemmTests.Random(n, n); var p2 = (float[])p1.Clone();
        var m1 = new float[n]; var v1 = new float[n]; var m2 = new float[n]; var v2 = new float[n];
        for (int step = 1; step <= 5; step++)
        {
            var g = GemmTests.Random(n, n * 10 + step);
            Kernels.AdamStep(p1, g, m1, v1, 0.02f, 0.9f, 0.999f, 1e-8f, step);
            Kernels.AdamStepReference(p2, g, m2, v2, 0.02f, 0.9f, 0.999f, 1e-8f, step);
        }
        Assert.Equal(p2, p1);
        Assert.Equal(m2, m1);
        Assert.Equal(v2, v1);
    }

    [Theory]
    [InlineData(1 << 15, 2)]
    [InlineData((1 << 17) + 5, 2)]
    [InlineData((1 << 17) + 5, 3)]
    [InlineData(250_003, 4)]
    public void AdamIsBitIdenticalAcrossThreadCounts(int n, int threads)
    {
        var p1 = GemmTests.Random(n, 5); var p2 = (float[])p1.Clone();
        var m1 = new float[n]; var v1 = new float[n]; var m2 = new float[n]; var v2 = new float[n];
        for (int step = 1; step <= 3; step++)
        {
            var g = GemmTests.Random(n, 100 + step);
            Kernels.AdamStep(p1, g, m1, v1, 0.02f, 0.9f, 0.999f, 1e-8f, step, threads);
            Kernels.AdamStepReference(p2, g, m2, v2, 0.02f, 0.9f, 0.999f, 1e-8f, step);
        }
        Assert.Equal(p2, p1);
        Assert.Equal(m2, m1);
        Assert.Equal(v2, v1);
    }

    [Fact]
    public void AdamFirstStepMovesEachWeightByLearningRate()
    {
        // With bias correction, step 1 gives m̂/√v̂ = g/|g| = ±1: every weight moves by lr against its gradient.
        float[] p = [0.5f, -0.25f, 1f], g = [3f, -0.001f, 1e3f];
        var m = new float[3]; var v = new float[3];
        Kernels.AdamStep(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 1);
        Assert.Equal(0.4f, p[0], 5);
        Assert.Equal(-0.15f, p[1], 4);
        Assert.Equal(0.9f, p[2], 5);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 5)]
    [InlineData(17, 794, 33)]
    [InlineData(64, 100, 200)]
    public void LayerForwardMatchesReference(int rows, int inF, int outF)
    {
        var layer = new FFDenseLayer(inF, outF, new FFRandom(rows + inF));
        var x = new Compute.Matrix(rows, inF, GemmTests.Random(rows * inF, 3));
        var h = layer.Forward(x);
        var expected = new float[rows * outF];
        Kernels.FFForwardReference(x.Data, rows, inF, layer.Weight.Data, layer.Bias, outF, expected);
        TestUtil.AssertClose(expected, h.Data, 1e-5, "h");
    }

    [Fact]
    public void SoftplusIsStableAndAccurate()
    {
        Assert.Equal(1000f, Kernels.Softplus(1000f));
        Assert.Equal(0f, Kernels.Softplus(-1000f));
        Assert.Equal(MathF.Log(2f), Kernels.Softplus(0f), 6);
        Assert.Equal(Math.Log(1 + Math.Exp(3.5)), Kernels.Softplus(3.5f), 5);
        Assert.Equal(Math.Log(1 + Math.Exp(-20)), Kernels.Softplus(-20f), 12);
        Assert.Equal(0.5f, Kernels.Sigmoid(0f));
        Assert.Equal(1f, Kernels.Sigmoid(200f));
        Assert.Equal(0f, Kernels.Sigmoid(-200f));
    }

    [Fact]
    public void LossMatchesDefinition()
    {
        // Rows: 2 positive then 2 negative; θ = 1.
        float[] ms = [0.5f, 3f, 0.2f, 4f];
        double sp(double z) => Math.Log(1 + Math.Exp(z));
        double minimize = (sp(0.5 - 1) + sp(3 - 1) + sp(1 - 0.2) + sp(1 - 4)) / 4;
        double maximize = (sp(1 - 0.5) + sp(1 - 3) + sp(0.2 - 1) + sp(4 - 1)) / 4;
        Assert.Equal(minimize, FFLoss.Compute(ms, 2, 1f, LossDirection.Minimize), 5);
        Assert.Equal(maximize, FFLoss.Compute(ms, 2, 1f, LossDirection.Maximize), 5);
    }

    [Fact]
    public void RandomIsDeterministicAndUnbiasedEnough()
    {
        var a = new FFRandom(42); var b = new FFRandom(42);
        for (int i = 0; i < 100; i++) Assert.Equal(a.NextUInt64(), b.NextUInt64());
        var counts = new int[9];
        var r = new FFRandom(1);
        for (int i = 0; i < 90_000; i++) counts[r.NextInt(9)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
        var s = new FFRandom(5); var state = s.GetState();
        ulong first = s.NextUInt64();
        s.SetState(state);
        Assert.Equal(first, s.NextUInt64());
    }

    [Fact]
    public void NegativeLabelsAreNeverTheTrueLabelAndCoverTheOthers()
    {
        var r = new FFRandom(3);
        var labels = Enumerable.Range(0, 10_000).Select(i => i % 10).ToArray();
        var neg = new int[labels.Length];
        Training.NegativeLabels.RandomWrong(r, labels, 10, neg);
        var seen = new HashSet<(int, int)>();
        for (int i = 0; i < labels.Length; i++)
        {
            Assert.NotEqual(labels[i], neg[i]);
            Assert.InRange(neg[i], 0, 9);
            seen.Add((labels[i], neg[i]));
        }
        Assert.Equal(90, seen.Count);
    }
    [Theory]
    [InlineData(50176, 40)]
    [InlineData(64, 2000)]
    [InlineData(7, 3)]
    public void ColumnSumsGiveTheReferenceBits(int rows, int cols)
    {
        var m = GemmTests.Random(rows * cols, rows + cols);
        var (fast, reference) = (new float[cols], new float[cols]);
        Kernels.ColumnSums(m, rows, cols, fast);
        Kernels.ColumnSumsReference(m, rows, cols, reference);
        Assert.Equal(reference.Select(BitConverter.SingleToInt32Bits), fast.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(3, 49, 40)]
    [InlineData(2, 9, 16)]
    [InlineData(2, 5, 7)]
    public void FusedMapScaleBiasReluGivesTheBitsOfItsParts(int images, int positions, int channels)
    {
        var z = GemmTests.Random(images * positions * channels, channels);
        z[3] = float.NaN; z[4] = -0f;
        var scale = GemmTests.Random(images, 2).Select(v => v + 2f).ToArray();
        var bias = GemmTests.Random(channels, 3);
        var fused = (float[])z.Clone();
        Kernels.ScaleBiasReluMaps(fused, images, positions, channels, scale, bias);
        var reference = (float[])z.Clone();
        Kernels.ScaleBiasReluMapsReference(reference, images, positions, channels, scale, bias);
        Assert.Equal(reference.Select(BitConverter.SingleToInt32Bits), fused.Select(BitConverter.SingleToInt32Bits));
        // The backend's default (scale the image rows, then add the bias and clamp) gives the same bits.
        var be = new PrimitivesOnlyBackend(ComputeBackend.Cpu);
        var parts = be.Attach((float[])z.Clone());
        be.ScaleBiasReluMaps(parts.All, images, positions, channels, be.Attach(scale).All, be.Attach(bias).All);
        Assert.Equal(reference.Select(BitConverter.SingleToInt32Bits), be.Read(parts.All).ToArray().Select(BitConverter.SingleToInt32Bits));
    }
}
