using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FFLib.Compute;

// C = Aᵀ·B when the shared dimension k is long and m, n are short: a convolution's weight gradient
// δᵀ·columns sums over every position of a batch (k = 50,176 for 28×28 maps of 64 images, m = 40
// channels, n = 25 taps). The packed path spends most of its time packing both operands there; this
// path packs nothing: each row p of A (m values) and of B (n values) is already what a register tile
// needs, m along the vector lanes and n broadcast.
internal static unsafe partial class Gemm
{
    /// <summary>Rows of A and B swept per block (A's padded block then stays in L1/L2 while every tile reads it).</summary>
    private const int LongKBlockFloats = 16384;

    /// <summary>Whether Multiply takes the long-k path for Aᵀ·B of this shape.</summary>
    internal static bool UsesLongK(bool transA, bool transB, int m, int n, int k) =>
        Use512 && transA && !transB && k >= 1024 && k >= 4L * Math.Max(m, n);

    /// <summary>
    /// C[m×n] (+)= Aᵀ·B with A stored k×m (row stride lda) and B stored k×n (row stride ldb).
    /// Each C element is one running sum over p = 0 … k−1 in order (fused multiply-adds), whatever the
    /// thread count: threads own disjoint columns of C.
    /// </summary>
    private static void MultiplyLongK(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads)
    {
        int mPad = (m + 15) / 16 * 16;
        int groups = (n + 3) / 4;
        threads = Math.Clamp(threads <= 0 ? ComputeSettings.Threads : threads, 1, groups);
        if (threads == 1 || (long)m * n * k < ParallelThreshold)
        {
            LongKColumns(m, n, k, a, lda, b, ldb, c, ldc, accumulate, mPad, 0, n);
            return;
        }
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int j0 = (int)((long)groups * t / threads) * 4, j1 = Math.Min(n, (int)((long)groups * (t + 1) / threads) * 4);
            if (j1 > j0) LongKColumns(m, n, k, (float*)pa, lda, (float*)pb, ldb, (float*)pc, ldc, accumulate, mPad, j0, j1);
        });
    }

    [ThreadStatic] private static float[]? t_longKA;
    [ThreadStatic] private static float[]? t_longKAcc;

    /// <summary>Columns j0 … j1−1 of C: k is walked in blocks; each block of A is copied with its rows padded to mPad (zeros), then every tile sweeps it.</summary>
    private static void LongKColumns(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int mPad, int j0, int j1)
    {
        int blockRows = Math.Clamp(LongKBlockFloats / mPad, 16, 1024);
        int width = j1 - j0;
        float* block = Buffer(ref t_longKA, blockRows * mPad + 64);
        float* acc = Buffer(ref t_longKAcc, width * mPad + 64);
        new Span<float>(acc, width * mPad).Clear();
        int vectors = mPad / 16;
        for (int p0 = 0; p0 < k; p0 += blockRows)
        {
            int rows = Math.Min(blockRows, k - p0);
            for (int r = 0; r < rows; r++)
            {
                float* src = a + (long)(p0 + r) * lda, dst = block + r * mPad;
                new ReadOnlySpan<float>(src, m).CopyTo(new Span<float>(dst, m));
                new Span<float>(dst + m, mPad - m).Clear();
            }
            float* bBlock = b + (long)p0 * ldb + j0;
            int j = 0;
            for (; j + 4 <= width; j += 4)
                for (int v = 0; v < vectors;)
                {
                    int take = vectors - v >= 4 ? 4 : vectors - v >= 2 ? 2 : 1;
                    float* tileA = block + v * 16, tileAcc = acc + j * mPad + v * 16;
                    if (take == 4) Tile4x4(rows, tileA, mPad, bBlock + j, ldb, tileAcc, mPad);
                    else if (take == 2) Tile4x2(rows, tileA, mPad, bBlock + j, ldb, tileAcc, mPad);
                    else Tile4x1(rows, tileA, mPad, bBlock + j, ldb, tileAcc, mPad);
                    v += take;
                }
            for (; j < width; j++)
                for (int v = 0; v < vectors; v++)
                    Tile1x1(rows, block + v * 16, mPad, bBlock + j, ldb, acc + j * mPad + v * 16);
        }
        for (int j = 0; j < width; j++)
            for (int i = 0; i < m; i++)
            {
                float* dst = c + (long)i * ldc + j0 + j;
                *dst = accumulate ? *dst + acc[j * mPad + i] : acc[j * mPad + i];
            }
    }

    /// <summary>4 columns of C × 64 rows: 16 accumulators, four A loads and four broadcasts per p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(int rows, float* a, int lda, float* b, int ldb, float* acc, int ldacc)
    {
        float* q0 = acc, q1 = acc + ldacc, q2 = acc + 2 * ldacc, q3 = acc + 3 * ldacc;
        Vector512<float> c00 = Vector512.Load(q0), c01 = Vector512.Load(q0 + 16), c02 = Vector512.Load(q0 + 32), c03 = Vector512.Load(q0 + 48);
        Vector512<float> c10 = Vector512.Load(q1), c11 = Vector512.Load(q1 + 16), c12 = Vector512.Load(q1 + 32), c13 = Vector512.Load(q1 + 48);
        Vector512<float> c20 = Vector512.Load(q2), c21 = Vector512.Load(q2 + 16), c22 = Vector512.Load(q2 + 32), c23 = Vector512.Load(q2 + 48);
        Vector512<float> c30 = Vector512.Load(q3), c31 = Vector512.Load(q3 + 16), c32 = Vector512.Load(q3 + 32), c33 = Vector512.Load(q3 + 48);
        for (int r = 0; r < rows; r++)
        {
            var a0 = Vector512.Load(a); var a1 = Vector512.Load(a + 16); var a2 = Vector512.Load(a + 32); var a3 = Vector512.Load(a + 48);
            var x = Vector512.Create(b[0]);
            c00 = Vector512.FusedMultiplyAdd(a0, x, c00); c01 = Vector512.FusedMultiplyAdd(a1, x, c01); c02 = Vector512.FusedMultiplyAdd(a2, x, c02); c03 = Vector512.FusedMultiplyAdd(a3, x, c03);
            x = Vector512.Create(b[1]);
            c10 = Vector512.FusedMultiplyAdd(a0, x, c10); c11 = Vector512.FusedMultiplyAdd(a1, x, c11); c12 = Vector512.FusedMultiplyAdd(a2, x, c12); c13 = Vector512.FusedMultiplyAdd(a3, x, c13);
            x = Vector512.Create(b[2]);
            c20 = Vector512.FusedMultiplyAdd(a0, x, c20); c21 = Vector512.FusedMultiplyAdd(a1, x, c21); c22 = Vector512.FusedMultiplyAdd(a2, x, c22); c23 = Vector512.FusedMultiplyAdd(a3, x, c23);
            x = Vector512.Create(b[3]);
            c30 = Vector512.FusedMultiplyAdd(a0, x, c30); c31 = Vector512.FusedMultiplyAdd(a1, x, c31); c32 = Vector512.FusedMultiplyAdd(a2, x, c32); c33 = Vector512.FusedMultiplyAdd(a3, x, c33);
            a += lda;
            b += ldb;
        }
        c00.Store(q0); c01.Store(q0 + 16); c02.Store(q0 + 32); c03.Store(q0 + 48);
        c10.Store(q1); c11.Store(q1 + 16); c12.Store(q1 + 32); c13.Store(q1 + 48);
        c20.Store(q2); c21.Store(q2 + 16); c22.Store(q2 + 32); c23.Store(q2 + 48);
        c30.Store(q3); c31.Store(q3 + 16); c32.Store(q3 + 32); c33.Store(q3 + 48);
    }

    /// <summary>4 columns × 32 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2(int rows, float* a, int lda, float* b, int ldb, float* acc, int ldacc)
    {
        float* q0 = acc, q1 = acc + ldacc, q2 = acc + 2 * ldacc, q3 = acc + 3 * ldacc;
        Vector512<float> c00 = Vector512.Load(q0), c01 = Vector512.Load(q0 + 16), c10 = Vector512.Load(q1), c11 = Vector512.Load(q1 + 16);
        Vector512<float> c20 = Vector512.Load(q2), c21 = Vector512.Load(q2 + 16), c30 = Vector512.Load(q3), c31 = Vector512.Load(q3 + 16);
        for (int r = 0; r < rows; r++)
        {
            var a0 = Vector512.Load(a); var a1 = Vector512.Load(a + 16);
            var x = Vector512.Create(b[0]); c00 = Vector512.FusedMultiplyAdd(a0, x, c00); c01 = Vector512.FusedMultiplyAdd(a1, x, c01);
            x = Vector512.Create(b[1]); c10 = Vector512.FusedMultiplyAdd(a0, x, c10); c11 = Vector512.FusedMultiplyAdd(a1, x, c11);
            x = Vector512.Create(b[2]); c20 = Vector512.FusedMultiplyAdd(a0, x, c20); c21 = Vector512.FusedMultiplyAdd(a1, x, c21);
            x = Vector512.Create(b[3]); c30 = Vector512.FusedMultiplyAdd(a0, x, c30); c31 = Vector512.FusedMultiplyAdd(a1, x, c31);
            a += lda;
            b += ldb;
        }
        c00.Store(q0); c01.Store(q0 + 16); c10.Store(q1); c11.Store(q1 + 16);
        c20.Store(q2); c21.Store(q2 + 16); c30.Store(q3); c31.Store(q3 + 16);
    }

    /// <summary>4 columns × 16 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(int rows, float* a, int lda, float* b, int ldb, float* acc, int ldacc)
    {
        float* q0 = acc, q1 = acc + ldacc, q2 = acc + 2 * ldacc, q3 = acc + 3 * ldacc;
        Vector512<float> c0 = Vector512.Load(q0), c1 = Vector512.Load(q1), c2 = Vector512.Load(q2), c3 = Vector512.Load(q3);
        for (int r = 0; r < rows; r++)
        {
            var a0 = Vector512.Load(a);
            c0 = Vector512.FusedMultiplyAdd(a0, Vector512.Create(b[0]), c0);
            c1 = Vector512.FusedMultiplyAdd(a0, Vector512.Create(b[1]), c1);
            c2 = Vector512.FusedMultiplyAdd(a0, Vector512.Create(b[2]), c2);
            c3 = Vector512.FusedMultiplyAdd(a0, Vector512.Create(b[3]), c3);
            a += lda;
            b += ldb;
        }
        c0.Store(q0); c1.Store(q1); c2.Store(q2); c3.Store(q3);
    }

    /// <summary>One column × 16 rows (the last columns when n is not a multiple of 4).</summary>
    private static void Tile1x1(int rows, float* a, int lda, float* b, int ldb, float* acc)
    {
        var c0 = Vector512.Load(acc);
        for (int r = 0; r < rows; r++)
        {
            c0 = Vector512.FusedMultiplyAdd(Vector512.Load(a), Vector512.Create(b[0]), c0);
            a += lda;
            b += ldb;
        }
        c0.Store(acc);
    }
}
