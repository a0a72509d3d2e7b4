using FFLib.Compute;
using Xunit;

namespace FFLib.Tests;

public class GemmTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 7, 13, 5 }, { 8, 32, 1 }, { 9, 33, 257 }, { 17, 31, 300 }, { 129, 513, 64 },
        { 3, 1000, 20 }, { 200, 3, 7 }, { 64, 64, 64 }, { 130, 70, 520 },
        // Several row and column tiles and K blocks: both operands packed once, up front.
        { 300, 530, 270 }, { 257, 1100, 40 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FastMatchesReferenceForAllTransposes(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (bool acc in new[] { false, true })
                    foreach (int threads in new[] { 1, 2 })
                        Check(m, n, k, ta, tb, acc, threads, seed: m * 1000 + n * 10 + k);
    }

    [Fact]
    public void LayerShape128x794x2000MatchesReference()
    {
        // The FFNN's first-layer forward product x·Wᵀ and its weight-gradient product δᵀ·x.
        Check(128, 2000, 794, false, true, false, 2, 1);
        Check(2000, 794, 256, true, false, false, 2, 2);
    }

    [Fact]
    public void ResultDoesNotDependOnThreadCountOrRowSplit()
    {
        int m = 300, n = 700, k = 900;
        var (a, b) = (Random(m * k, 1), Random(n * k, 2));
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        Gemm.Multiply(false, true, m, n, k, a, k, b, k, c1, n, false, threads: 1);
        Gemm.Multiply(false, true, m, n, k, a, k, b, k, c2, n, false, threads: 2);
        Assert.Equal(c1, c2);
        // Rows computed as a separate, smaller product are bit-identical too.
        var c3 = new float[5 * n];
        Gemm.Multiply(false, true, 5, n, k, a.AsSpan(137 * k), k, b, k, c3, n, false, threads: 2);
        Assert.Equal(c1.AsSpan(137 * n, 5 * n).ToArray(), c3);
    }

    [Fact]
    public void PackingUpFrontOrPerTileGivesTheSameBits()
    {
        // Packing only moves numbers: with the shared up-front packing switched off, every tile
        // packs its own blocks, and the results must not change by a bit.
        int m = 300, n = 1030, k = 530;
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                var a = Random(m * k, 11); var b = Random(k * n, 12);
                int lda = ta ? m : k, ldb = tb ? k : n;
                var shared = new float[m * n];
                var perTile = new float[m * n];
                Gemm.Multiply(ta, tb, m, n, k, a, lda, b, ldb, shared, n, false, threads: 2);
                int saved = Gemm.PrepackLimit;
                try
                {
                    Gemm.PrepackLimit = 0;
                    Gemm.Multiply(ta, tb, m, n, k, a, lda, b, ldb, perTile, n, false, threads: 2);
                }
                finally { Gemm.PrepackLimit = saved; }
                Assert.Equal(shared, perTile);
                Check(m, n, k, ta, tb, false, 2, seed: 11);
            }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(37, 45, 300)]
    [InlineData(640, 2000, 794)]
    [InlineData(300, 1030, 530)]
    public void PackedOperandGivesTheSameBitsAsTheUnpackedProduct(int m, int n, int k)
    {
        foreach (bool tb in new[] { false, true })
        {
            var a = Random(m * k, 21); var b = Random(k * n, 22);
            int ldb = tb ? k : n;
            var plain = new float[m * n];
            Gemm.Multiply(false, tb, m, n, k, a, k, b, ldb, plain, n, false, threads: 2);
            var packed = Gemm.Pack(tb, k, n, b, ldb);
            var viaPack = new float[m * n];
            Gemm.Multiply(false, m, a, k, packed, viaPack, n, false, threads: 2);
            Assert.Equal(plain, viaPack);
            // Reused storage, another left operand, accumulating.
            var a2 = Random(m * k, 23);
            var c1 = Random(m * n, 24); var c2 = (float[])c1.Clone();
            Gemm.Multiply(false, tb, m, n, k, a2, k, b, ldb, c1, n, true, threads: 1);
            Gemm.Multiply(false, m, a2, k, Gemm.Pack(tb, k, n, b, ldb, reuse: packed), c2, n, true, threads: 1);
            Assert.Equal(c1, c2);
        }
    }

    [Theory]
    [InlineData(50176 / 8, 40, 25)]  // a conv layer's forward product: im2col rows · kernelᵀ
    [InlineData(1001, 80, 360)]      // several K blocks, a short last micro-panel of rows
    [InlineData(13, 256, 300)]       // the widest C read in place
    [InlineData(7, 5, 3)]
    public void ReadingAInPlaceGivesThePackedBits(int m, int n, int k)
    {
        // Rows of A read straight from memory (a few columns of C) against the same product with A packed: same bits.
        foreach (bool tb in new[] { false, true })
            foreach (bool acc in new[] { false, true })
            {
                var a = Random(m * k, m + n); var b = Random(k * n, k);
                int ldb = tb ? k : n;
                var c0 = Random(m * n, 3);
                var direct = (float[])c0.Clone(); var packed = (float[])c0.Clone();
                Gemm.Multiply(false, tb, m, n, k, a, k, b, ldb, direct, n, acc, threads: 2);
                int saved = Gemm.DirectAColumns;
                try
                {
                    Gemm.DirectAColumns = 0;
                    Gemm.Multiply(false, tb, m, n, k, a, k, b, ldb, packed, n, acc, threads: 2);
                }
                finally { Gemm.DirectAColumns = saved; }
                Assert.Equal(packed, direct);
                Check(Math.Min(m, 300), n, k, false, tb, acc, 2, seed: m + k);
            }
    }

    [Theory]
    [InlineData(40, 25, 5000)]   // a conv layer's weight gradient: 4-column tiles, one tail column, 3 vectors of rows
    [InlineData(17, 3, 2000)]    // only tail columns; 17 rows pad to 32
    [InlineData(160, 72, 3136)]  // 10 vectors: tiles of 4, 4 and 2
    [InlineData(33, 9, 1500)]    // 3 vectors: 2 + 1
    public void LongKTransposedProductMatchesReferenceAndThreadCount(int m, int n, int k)
    {
        if (!Gemm.Use512) return; // the path exists only with AVX-512; elsewhere the packed product runs (tested above)
        Assert.True(Gemm.UsesLongK(true, false, m, n, k));
        foreach (bool acc in new[] { false, true })
            foreach (int threads in new[] { 1, 2, 3 })
                Check(m, n, k, true, false, acc, threads, seed: m + n + k);
        var a = Random(m * k, 5); var b = Random(k * n, 6);
        var one = new float[m * n]; var two = new float[m * n];
        Gemm.Multiply(true, false, m, n, k, a, m, b, n, one, n, false, threads: 1);
        Gemm.Multiply(true, false, m, n, k, a, m, b, n, two, n, false, threads: 2);
        Assert.Equal(one, two);
    }

    [Fact]
    public void LongKProductHonoursRowStrides()
    {
        // A, B and C as the left parts of wider matrices (lda > m, ldb > n, ldc > n): the columns beyond stay untouched.
        int m = 20, n = 6, k = 3000, lda = 23, ldb = 11, ldc = 9;
        var a = Random(k * lda, 31); var b = Random(k * ldb, 32);
        var c = Random(m * ldc, 33); var before = (float[])c.Clone();
        Gemm.Multiply(true, false, m, n, k, a, lda, b, ldb, c, ldc, accumulate: true, threads: 2);
        var expected = (float[])before.Clone();
        GemmReference.Multiply(true, false, m, n, k, a, lda, b, ldb, expected, ldc, accumulate: true);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++)
            {
                if (j >= n) { Assert.Equal(before[i * ldc + j], c[i * ldc + j]); continue; }
                Assert.True(MathF.Abs(expected[i * ldc + j] - c[i * ldc + j]) <= (4e-7f * k + 1e-6f) * (1 + MathF.Abs(expected[i * ldc + j])), $"C[{i},{j}]");
            }
    }

    [Fact]
    public void ZeroKClearsOrKeepsC()
    {
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.Multiply(false, false, 2, 2, 0, [], 0, [], 2, c, 2, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, c);
        Gemm.Multiply(false, false, 2, 2, 0, [], 0, [], 2, c, 2, accumulate: false);
        Assert.Equal(new float[4], c);
    }

    [Fact]
    public void SmallKnownProduct()
    {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        var c = new float[4];
        Gemm.Multiply(false, false, 2, 2, 2, [1, 2, 3, 4], 2, [5, 6, 7, 8], 2, c, 2, false);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c);
    }

    private static void Check(int m, int n, int k, bool ta, bool tb, bool acc, int threads, int seed)
    {
        var a = Random(m * k, seed);
        var b = Random(k * n, seed + 1);
        var c0 = Random(m * n, seed + 2);
        int lda = ta ? m : k, ldb = tb ? k : n;
        var expected = (float[])c0.Clone();
        var actual = (float[])c0.Clone();
        GemmReference.Multiply(ta, tb, m, n, k, a, lda, b, ldb, expected, n, acc);
        Gemm.Multiply(ta, tb, m, n, k, a, lda, b, ldb, actual, n, acc, threads);
        // Error bound of a float dot product: ~k·ε·Σ|a||b|; entries are in [-1, 1].
        float tol = 4e-7f * k + 1e-6f;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tol * (1 + MathF.Abs(expected[i])),
                $"m={m} n={n} k={k} ta={ta} tb={tb} acc={acc} threads={threads}: C[{i / n},{i % n}] = {actual[i]}, reference {expected[i]}");
    }

    internal static float[] Random(int length, int seed)
    {
        var r = new FFRandom(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = 2 * r.NextSingle() - 1;
        return x;
    }
}
