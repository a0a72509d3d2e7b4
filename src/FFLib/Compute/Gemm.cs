using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FFLib.Compute;

// Longer than our ~400-line rule on purpose: the loop nest, the packing routines and both
// micro-kernels share the block-size constants and layout invariants, and are read together.

/// <summary>
/// Single-precision matrix product C = op(A)·op(B) (+ C), in managed code.
/// BLIS-style: C is cut into MC×NC tiles that run in parallel; inside a tile, K is walked in KC
/// blocks, A and B blocks are packed into contiguous micro-panels, and a register-blocked SIMD
/// micro-kernel (Vector512 8×32 or Vector256 6×16) does the arithmetic. An operand that several
/// tiles read is packed once per product, up front and in parallel; <see cref="Pack"/> packs a
/// right operand (a weight matrix) once for many products.
/// Every element of C is summed in the same order whatever the thread count, tile position or
/// packing, so results are bit-identical across thread counts and batch splits.
/// </summary>
internal static unsafe partial class Gemm
{
    // Block sizes chosen for ~48 KiB L1 / 1 MiB L2 per core: a KC×NR B micro-panel stays in L1,
    // the MC×KC A block (up to 2·MC rows for a short batch) and the KC×NC B block stay in L2.
    private const int KC = 256;
    private const int MC = 128;
    private const int NC = 512;

    // Below this many multiply-adds a single thread is faster than waking the pool.
    private const long ParallelThreshold = 1L << 18;

    internal static readonly bool Use512 = Vector512.IsHardwareAccelerated;
    internal static readonly bool Use256 = !Use512 && Vector256.IsHardwareAccelerated;
    internal static readonly int MR = Use512 ? 8 : 6;
    internal static readonly int NR = Use512 ? 32 : 16;

    internal static string SimdPath => Use512 ? "Vector512" : Use256 ? "Vector256" : "Scalar";

    [ThreadStatic] private static float[]? t_packA;
    [ThreadStatic] private static float[]? t_packB;

    /// <summary>
    /// C[m×n] = op(A)·op(B), or C += op(A)·op(B) when <paramref name="accumulate"/>.
    /// op(A) is m×k: A is stored m×k (row stride lda) or, when transA, k×m.
    /// op(B) is k×n: B is stored k×n (row stride ldb) or, when transB, n×k.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, int threads = 0)
    {
        Debug.Assert(m >= 0 && n >= 0 && k >= 0);
        Debug.Assert(ldc >= n);
        Debug.Assert(m == 0 || n == 0 || c.Length >= (long)(m - 1) * ldc + n);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }
        Debug.Assert(a.Length >= (transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k));
        Debug.Assert(b.Length >= (transB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n));

        if (!Use512 && !Use256)
        {
            GemmReference.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            if (UsesLongK(transA, transB, m, n, k)) MultiplyLongK(m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, threads);
            else Run(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, threads, null);
        }
    }

    /// <summary>
    /// Packs op(B) (k×n; B stored k×n, or n×k when <paramref name="transB"/>) once, for several
    /// products with the same right operand: a weight matrix applied to every chunk of a test set.
    /// <paramref name="reuse"/> is refilled when given (and large enough). The packed copy does not
    /// follow later changes to B.
    /// </summary>
    public static PackedMatrix Pack(bool transB, int k, int n, ReadOnlySpan<float> b, int ldb, PackedMatrix? reuse = null, int threads = 0)
    {
        Debug.Assert(k > 0 && n > 0);
        Debug.Assert(b.Length >= (transB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n));
        if (threads <= 0) threads = ComputeSettings.Threads;
        int tilesN = (n + NC - 1) / NC, blocksK = (k + KC - 1) / KC;
        // Without SIMD the reference product runs on a plain k×n copy.
        long size = Use512 || Use256 ? (long)tilesN * blocksK * NC * KC : (long)k * n;
        var packed = reuse is not null && reuse.Capacity >= size ? reuse : new PackedMatrix(size);
        packed.K = k;
        packed.N = n;
        fixed (float* pb = b)
        {
            float* dst = packed.Pointer;
            if (!Use512 && !Use256)
            {
                for (int p = 0; p < k; p++)
                    for (int j = 0; j < n; j++) dst[(long)p * n + j] = transB ? pb[(long)j * ldb + p] : pb[(long)p * ldb + j];
                return packed;
            }
            var job = new Job(false, transB, 0, n, k, null, 0, pb, ldb, null, 0, false, MR, tilesN, blocksK) { SharedB = dst };
            int jobs = tilesN * blocksK;
            if (threads > 1 && jobs > 1 && (long)n * k >= ParallelThreshold / 16)
                Parallel.For(0, jobs, new ParallelOptions { MaxDegreeOfParallelism = threads }, job.Prepack);
            else
                for (int i = 0; i < jobs; i++) job.Prepack(i);
        }
        return packed;
    }

    /// <summary>C[m×n] = op(A)·B (or C += …) with B packed by <see cref="Pack"/>; same bits as the unpacked product.</summary>
    public static void Multiply(bool transA, int m, ReadOnlySpan<float> a, int lda, PackedMatrix b, Span<float> c, int ldc, bool accumulate, int threads = 0)
    {
        int n = b.N, k = b.K;
        Debug.Assert(m >= 0 && ldc >= n);
        Debug.Assert(m == 0 || c.Length >= (long)(m - 1) * ldc + n);
        Debug.Assert(m == 0 || a.Length >= (transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k));
        if (m == 0) return;
        fixed (float* pa = a)
        fixed (float* pc = c)
        {
            if (!Use512 && !Use256)
            {
                GemmReference.Multiply(transA, false, m, n, k, new ReadOnlySpan<float>(pa, a.Length), lda,
                    new ReadOnlySpan<float>(b.Pointer, k * n), n, c, ldc, accumulate);
                return;
            }
            Run(transA, false, m, n, k, pa, lda, null, 0, pc, ldc, accumulate, threads, b.Pointer);
        }
    }

    private static void Run(bool transA, bool transB, int m, int n, int k, float* pa, int lda, float* pb, int ldb,
        float* pc, int ldc, bool accumulate, int threads, float* packedB)
    {
        if (threads <= 0) threads = ComputeSettings.Threads;
        // A short op(A) (a batch of ≤ 256 rows) is one row tile: then op(B), usually a weight
        // matrix, is packed exactly once, block by block while it is hot in L2.
        // Row tiles are whole micro-panels: a packed tile of mcTile rows fills mcTile·KC floats exactly
        // (MC = 128 is not a multiple of the AVX2 kernel's 6 rows; its tiles are 126 rows).
        int mcTile = m <= 2 * MC ? (m + MR - 1) / MR * MR : MC / MR * MR;
        int tilesM = (m + mcTile - 1) / mcTile, tilesN = (n + NC - 1) / NC, blocksK = (k + KC - 1) / KC;
        int tiles = tilesM * tilesN;
        bool parallel = threads > 1 && tiles > 1 && (long)m * n * k >= ParallelThreshold;
        var po = parallel ? new ParallelOptions { MaxDegreeOfParallelism = threads } : null;
        var job = new Job(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, mcTile, tilesN, blocksK);
        // An operand that several tiles read is packed once, up front, instead of once per tile
        // (the δᵀ·x gradient of a 2000-wide layer would otherwise pack its x 16 times).
        // Packing only moves numbers: the sums, and so the results, are the same either way.
        long sizeA = (long)tilesM * blocksK * mcTile * KC, sizeB = (long)tilesN * blocksK * NC * KC;
        if (tilesN > 1 && sizeA <= PrepackLimit) job.SharedA = Buffer(ref t_sharedA, (int)sizeA + 64);
        if (packedB != null) job.SharedB = packedB;
        else if (tilesM > 1 && sizeB <= PrepackLimit) job.SharedB = Buffer(ref t_sharedB, (int)sizeB + 64);
        int aJobs = job.SharedA != null ? tilesM * blocksK : 0;
        int packJobs = aJobs + (job.SharedB != null && packedB == null ? tilesN * blocksK : 0);
        if (packJobs > 0)
        {
            if (parallel && packJobs > 1) Parallel.For(0, packJobs, po!, job.Prepack);
            else for (int i = 0; i < packJobs; i++) job.Prepack(i);
        }
        if (parallel) Parallel.For(0, tiles, po!, job.RunTile);
        else for (int t = 0; t < tiles; t++) job.RunTile(t);
    }

    // Largest operand packed up front (floats); beyond it tiles pack their own blocks.
    // Settable so the tests can force either path (results are the same bits either way).
    internal static int PrepackLimit = 1 << 22;

    // Widest C (columns) whose rows of A are read in place rather than packed (8 panels of 32).
    internal static int DirectAColumns = 256;

    [ThreadStatic] private static float[]? t_edgeA;
    [ThreadStatic] private static float[]? t_sharedA;
    [ThreadStatic] private static float[]? t_sharedB;

    /// <summary>The state of one product, shared by its tiles (raw pointers stay valid: the caller pins).</summary>
    private sealed class Job(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int mcTile, int tilesN, int blocksK)
    {
        /// <summary>op(A) packed for every (row tile, K block), or null when each tile packs its own.</summary>
        public float* SharedA;

        /// <summary>op(B) packed for every (column tile, K block), or null when each tile packs its own.</summary>
        public float* SharedB;

        private int TilesM => (m + mcTile - 1) / mcTile;

        /// <summary>Packs one (tile, K block) of the shared operands: A blocks first, then B blocks.</summary>
        public void Prepack(int job)
        {
            int aJobs = SharedA != null ? TilesM * blocksK : 0;
            if (job < aJobs)
            {
                int ti = job / blocksK, q = job % blocksK, ic = ti * mcTile, pc = q * KC;
                PackA(transA, a, lda, ic, pc, Math.Min(mcTile, m - ic), Math.Min(KC, k - pc), MR, SharedA + (long)job * mcTile * KC);
            }
            else
            {
                job -= aJobs;
                int tj = job / blocksK, q = job % blocksK, jc = tj * NC, pc = q * KC;
                PackB(transB, b, ldb, pc, jc, Math.Min(KC, k - pc), Math.Min(NC, n - jc), NR, SharedB + (long)job * NC * KC);
            }
        }

        public void RunTile(int tile)
        {
            int ti = tile / tilesN, tj = tile % tilesN;
            int ic = ti * mcTile, jc = tj * NC;
            int mc = Math.Min(mcTile, m - ic), nc = Math.Min(NC, n - jc);
            int mr = MR, nr = NR;
            // Packed blocks hold whole micro-panels: they must fit the mcTile·KC and NC·KC slots.
            Debug.Assert((mc + mr - 1) / mr * mr <= mcTile && (nc + nr - 1) / nr * nr <= NC);
            int mPanels = (mc + mr - 1) / mr, nPanels = (nc + nr - 1) / nr;
            float* packA = SharedA != null ? null : Buffer(ref t_packA, mcTile * KC + 64);
            float* packB = SharedB != null ? null : Buffer(ref t_packB, NC * KC + 64);
            float* edge = stackalloc float[8 * 32 + 16];
            // A few columns of C (a conv layer's 40–160 channels): each row of A meets at most 8 B panels, too few
            // to repay packing it; the kernel reads whole 8-row micro-panels straight from A (same sums, same bits).
            bool direct = Use512 && !transA && SharedA == null && n <= DirectAColumns;
            float* edgeA = direct ? Buffer(ref t_edgeA, 8 * KC + 64) : null;
            for (int q = 0, pc = 0; pc < k; q++, pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                bool acc = accumulate || pc > 0;
                float* blockA, blockB;
                if (SharedA != null) blockA = SharedA + ((long)ti * blocksK + q) * mcTile * KC;
                else if (direct) blockA = null;
                else { PackA(transA, a, lda, ic, pc, mc, kc, mr, packA); blockA = packA; }
                if (SharedB != null) blockB = SharedB + ((long)tj * blocksK + q) * NC * KC;
                else { PackB(transB, b, ldb, pc, jc, kc, nc, nr, packB); blockB = packB; }
                for (int jp = 0; jp < nPanels; jp++)
                {
                    int j0 = jp * nr, nw = Math.Min(nr, nc - j0);
                    float* bp = blockB + (long)jp * nr * kc;
                    for (int ip = 0; ip < mPanels; ip++)
                    {
                        int i0 = ip * mr, mw = Math.Min(mr, mc - i0);
                        float* ap = blockA + (long)ip * mr * kc;
                        int aStride = 0;
                        if (direct)
                        {
                            // Whole micro-panels in place; the last, short one packed (zero rows beyond m).
                            if (mw == mr) { ap = a + (long)(ic + i0) * lda + pc; aStride = lda; }
                            else { PackA(false, a, lda, ic + i0, pc, mw, kc, mr, edgeA); ap = edgeA; }
                        }
                        float* cp = c + (long)(ic + i0) * ldc + jc + j0;
                        if (mw == mr && nw == nr)
                        {
                            if (aStride != 0) Kernel8x32Direct(kc, ap, aStride, bp, cp, ldc, acc);
                            else Kernel(kc, ap, bp, cp, ldc, acc);
                        }
                        else
                        {
                            // Edge tile: compute the full register tile into scratch, copy the valid part.
                            if (aStride != 0) Kernel8x32Direct(kc, ap, aStride, bp, edge, nr, false);
                            else Kernel(kc, ap, bp, edge, nr, false);
                            for (int i = 0; i < mw; i++)
                            {
                                float* dst = cp + (long)i * ldc;
                                float* src = edge + i * nr;
                                if (acc) for (int j = 0; j < nw; j++) dst[j] += src[j];
                                else for (int j = 0; j < nw; j++) dst[j] = src[j];
                            }
                        }
                    }
                }
            }
        }
    }

    private static float* Buffer(ref float[]? slot, int length)
    {
        if (slot is null || slot.Length < length) slot = GC.AllocateUninitializedArray<float>(length, pinned: true);
        // Pinned arrays never move: align the start to 64 bytes for full-width loads.
        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(slot));
        return (float*)(((nint)p + 63) & ~(nint)63);
    }

    /// <summary>Packs op(A)[ic.., pc..] (mc×kc) into MR-row micro-panels, kc×MR each, zero-padded.</summary>
    private static void PackA(bool transA, float* a, int lda, int ic, int pc, int mc, int kc, int mr, float* dst)
    {
        for (int i0 = 0; i0 < mc; i0 += mr)
        {
            int mw = Math.Min(mr, mc - i0);
            float* panel = dst + (long)i0 * kc;
            if (transA)
            {
                // A stored k×m: row p of storage holds op(A)[.., p] contiguously.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(pc + p) * lda + ic + i0;
                    float* d = panel + p * mr;
                    int i = 0;
                    for (; i < mw; i++) d[i] = src[i];
                    for (; i < mr; i++) d[i] = 0f;
                }
            }
            else if (mr == 8 && mw == 8 && Avx.IsSupported)
            {
                // A stored m×k: the panel is a transpose of 8 rows; 8×8 blocks go through AVX registers.
                float* src = a + (long)(ic + i0) * lda + pc;
                int p = 0;
                for (; p + 8 <= kc; p += 8) Transpose8x8(src + p, lda, panel + (long)p * 8, 8);
                for (; p < kc; p++)
                    for (int i = 0; i < 8; i++) panel[p * 8 + i] = src[(long)i * lda + p];
            }
            else
            {
                for (int i = 0; i < mw; i++)
                {
                    float* src = a + (long)(ic + i0 + i) * lda + pc;
                    for (int p = 0; p < kc; p++) panel[p * mr + i] = src[p];
                }
                for (int i = mw; i < mr; i++)
                    for (int p = 0; p < kc; p++) panel[p * mr + i] = 0f;
            }
        }
    }

    /// <summary>Packs op(B)[pc.., jc..] (kc×nc) into NR-column micro-panels, kc×NR each, zero-padded.</summary>
    private static void PackB(bool transB, float* b, int ldb, int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int nw = Math.Min(nr, nc - j0);
            float* panel = dst + (long)j0 * kc;
            if (transB)
            {
                // B stored n×k: row j of storage holds op(B)[.., j] contiguously. Packing is a
                // transpose; 8×8 blocks go through AVX registers, which matters when M is small
                // (the forward product x·Wᵀ of a 128-row batch) and packing rivals the arithmetic.
                int j = 0;
                if (Avx.IsSupported)
                    for (; j + 8 <= nw; j += 8)
                    {
                        float* src = b + (long)(jc + j0 + j) * ldb + pc;
                        int p = 0;
                        for (; p + 8 <= kc; p += 8) Transpose8x8(src + p, ldb, panel + (long)p * nr + j, nr);
                        for (; p < kc; p++)
                            for (int jj = 0; jj < 8; jj++) panel[p * nr + j + jj] = src[(long)jj * ldb + p];
                    }
                for (; j < nw; j++)
                {
                    float* src = b + (long)(jc + j0 + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) panel[p * nr + j] = src[p];
                }
                for (j = nw; j < nr; j++)
                    for (int p = 0; p < kc; p++) panel[p * nr + j] = 0f;
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)(pc + p) * ldb + jc + j0;
                    float* d = panel + p * nr;
                    if (nw == nr)
                    {
                        if (nr == 32) { Vector512.Store(Vector512.Load(src), d); Vector512.Store(Vector512.Load(src + 16), d + 16); }
                        else { Vector256.Store(Vector256.Load(src), d); Vector256.Store(Vector256.Load(src + 8), d + 8); }
                    }
                    else
                    {
                        int j = 0;
                        for (; j < nw; j++) d[j] = src[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>dst[k·dstStride + r] = src[r·srcStride + k] for an 8×8 block (the classic AVX unpack/shuffle/permute transpose).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, int srcStride, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride); var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride); var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride); var r7 = Avx.LoadVector256(src + 7 * srcStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        if (Use512) Kernel8x32(kc, a, b, c, ldc, accumulate);
        else Kernel6x16(kc, a, b, c, ldc, accumulate);
    }

    /// <summary>8×32 register tile: 16 Vector512 accumulators, two B loads and eight broadcasts per k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a += 8;
            b += 32;
        }
        Store512(c, c00, c01, accumulate); c += ldc;
        Store512(c, c10, c11, accumulate); c += ldc;
        Store512(c, c20, c21, accumulate); c += ldc;
        Store512(c, c30, c31, accumulate); c += ldc;
        Store512(c, c40, c41, accumulate); c += ldc;
        Store512(c, c50, c51, accumulate); c += ldc;
        Store512(c, c60, c61, accumulate); c += ldc;
        Store512(c, c70, c71, accumulate);
    }

    /// <summary>
    /// <see cref="Kernel8x32"/> reading its 8 rows of A in place (row stride lda) instead of from a packed panel:
    /// the same multiply-adds in the same order, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32Direct(int kc, float* a, int lda, float* b, float* c, int ldc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        float* a0 = a, a1 = a + lda, a2 = a + 2 * (long)lda, a3 = a + 3 * (long)lda;
        float* a4 = a + 4 * (long)lda, a5 = a + 5 * (long)lda, a6 = a + 6 * (long)lda, a7 = a + 7 * (long)lda;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a0[p]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[p]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[p]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[p]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[p]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[p]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a6[p]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a7[p]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            b += 32;
        }
        Store512(c, c00, c01, accumulate); c += ldc;
        Store512(c, c10, c11, accumulate); c += ldc;
        Store512(c, c20, c21, accumulate); c += ldc;
        Store512(c, c30, c31, accumulate); c += ldc;
        Store512(c, c40, c41, accumulate); c += ldc;
        Store512(c, c50, c51, accumulate); c += ldc;
        Store512(c, c60, c61, accumulate); c += ldc;
        Store512(c, c70, c71, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> v0, Vector512<float> v1, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c);
            v1 += Vector512.Load(c + 16);
        }
        Vector512.Store(v0, c);
        Vector512.Store(v1, c + 16);
    }

    /// <summary>6×16 register tile for AVX2 machines: 12 Vector256 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += 6;
            b += 16;
        }
        Store256(c, c00, c01, accumulate); c += ldc;
        Store256(c, c10, c11, accumulate); c += ldc;
        Store256(c, c20, c21, accumulate); c += ldc;
        Store256(c, c30, c31, accumulate); c += ldc;
        Store256(c, c40, c41, accumulate); c += ldc;
        Store256(c, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> v0, Vector256<float> v1, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + 8);
        }
        Vector256.Store(v0, c);
        Vector256.Store(v1, c + 8);
    }
}

/// <summary>op(B) of a product packed once into the micro-panel layout, for reuse (see <see cref="Gemm.Pack"/>). Pinned, 64-byte aligned.</summary>
internal sealed unsafe class PackedMatrix
{
    private readonly float[] _storage;

    internal PackedMatrix(long size)
    {
        if (size + 16 > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(size), size, "The packed operand is too large.");
        _storage = GC.AllocateUninitializedArray<float>((int)size + 16, pinned: true);
        Capacity = size;
    }

    /// <summary>Floats the storage can hold.</summary>
    public long Capacity { get; }

    /// <summary>Inner dimension of the packed operand.</summary>
    public int K { get; internal set; }

    /// <summary>Columns of the packed operand (and of the products' results).</summary>
    public int N { get; internal set; }

    internal float* Pointer
    {
        get
        {
            // Pinned arrays never move.
            float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
            return (float*)(((nint)p + 63) & ~(nint)63);
        }
    }
}

/// <summary>The plain triple-loop product the fast kernel is tested against. Same contract as Gemm.Multiply.</summary>
internal static class GemmReference
{
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0f;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
        }
    }
}
