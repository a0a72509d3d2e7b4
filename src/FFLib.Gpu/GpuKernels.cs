using ILGPU;

namespace FFLib.Gpu;

/// <summary>
/// The FF layer's element-wise kernels and reductions as ILGPU kernels: one thread per output
/// element (or per row / column for reductions, summed in the CPU kernels' order). They run on
/// CUDA and, for the tests, on ILGPU's CPU accelerator.
/// </summary>
internal static partial class GpuKernels
{
    public const float NormEpsilon = 1e-4f;

    /// <summary>Most threads per row of the row-reduction kernels (one group per row; a power of two, fewer where the accelerator allows fewer).</summary>
    public const int RowGroup = 128;

    /// <summary>Σ_j x_rj² over the group's row (strided over the threads, then a tree in shared memory); every thread gets the sum.</summary>
    private static float RowSumOfSquares(ArrayView<float> x, long offset, int cols)
    {
        var shared = SharedMemory.Allocate<float>(RowGroup);
        int t = Group.IdxX, n = Group.DimX;
        float s = 0;
        for (int j = t; j < cols; j += n) { float v = x[offset + j]; s += v * v; }
        shared[t] = s;
        Group.Barrier();
        for (int stride = n / 2; stride > 0; stride >>= 1)
        {
            if (t < stride) shared[t] += shared[t + stride];
            Group.Barrier();
        }
        float total = shared[0];
        Group.Barrier();
        return total;
    }

    /// <summary>Grouped: mode 0 invNorm[r] = 1/(‖x_r‖ + 1e-4); mode 1 meanSquares[r] = ‖x_r‖²/cols; mode 2 dst_r = x_r/(‖x_r‖ + 1e-4).</summary>
    public static void RowReduce(ArrayView<float> x, int cols, ArrayView<float> output, int mode)
    {
        int r = Grid.IdxX;
        long o = (long)r * cols;
        float s = RowSumOfSquares(x, o, cols);
        if (mode == 2)
        {
            float inv = 1f / (MathF.Sqrt(s) + NormEpsilon);
            for (int j = Group.IdxX; j < cols; j += Group.DimX) output[o + j] = x[o + j] * inv;
        }
        else if (Group.IdxX == 0) output[r] = mode == 0 ? 1f / (MathF.Sqrt(s) + NormEpsilon) : s / cols;
    }

    /// <summary>Grouped: invNorm[r] = 1/(√(‖image_(r mod n)‖² + ‖control_r‖²) + 1e-4).</summary>
    public static void ControlRowNormsGrouped(ArrayView<float> images, int n, int px, ArrayView<float> control, int k, ArrayView<float> invNorm)
    {
        int r = Grid.IdxX;
        float img = RowSumOfSquares(images, (long)(r % n) * px, px);
        if (Group.IdxX == 0)
        {
            float ctrl = 0;
            for (int c = 0; c < k; c++) { float v = control[(long)r * k + c]; ctrl += v * v; }
            invNorm[r] = 1f / (MathF.Sqrt(img + ctrl) + NormEpsilon);
        }
    }

    /// <summary>One row's softplus term of the FF loss and its gradient coefficient, with FFLoss.LossAndRowCoefficients's formulas.</summary>
    private static (float Term, float Coefficient) LossTermAndCoefficient(float meanSquare, bool positive, float threshold, int minimize, float scale)
    {
        float sign = positive == (minimize != 0) ? 1f : -1f;
        float arg = sign * (meanSquare - threshold);
        float e = MathF.Exp(-MathF.Abs(arg));
        float term = MathF.Max(arg, 0f) + (e < 1e-4f ? e - 0.5f * e * e : MathF.Log(1f + e));
        float sigmoid = arg >= 0 ? 1f / (1f + MathF.Exp(-arg)) : MathF.Exp(arg) / (1f + MathF.Exp(arg));
        return (term, sign * sigmoid * scale);
    }

    /// <summary>The FF loss's per-row coefficient and softplus term (see FFLoss.LossAndRowCoefficients).</summary>
    public static void FFLossRows(Index1D r, ArrayView<float> meanSquares, int positives, float threshold, int minimize, float scale, ArrayView<float> coefficient, ArrayView<float> terms)
    {
        (terms[r], coefficient[r]) = LossTermAndCoefficient(meanSquares[r], r < positives, threshold, minimize, scale);
    }

    /// <summary>Grouped, one row per group: meanSquares[r], and the FF loss's coefficient and softplus term of the row (FFLossRows fused with the reduction).</summary>
    public static void GoodnessAndLossRows(ArrayView<float> h, int cols, ArrayView<float> meanSquares, int positives, float threshold, int minimize, float scale,
        ArrayView<float> coefficient, ArrayView<float> terms)
    {
        int r = Grid.IdxX;
        float s = RowSumOfSquares(h, (long)r * cols, cols);
        if (Group.IdxX != 0) return;
        float ms = s / cols;
        meanSquares[r] = ms;
        (terms[r], coefficient[r]) = LossTermAndCoefficient(ms, r < positives, threshold, minimize, scale);
    }

    /// <summary>
    /// One row's softmax cross-entropy with CrossEntropy.LossAndGradient's arithmetic: the max
    /// subtracted before exp, the term log Σ + max − z_label in double, the gradient
    /// (softmax − onehot)/rows. labels holds each row's class as a float.
    /// </summary>
    public static void CrossEntropyRows(Index1D r, ArrayView<float> logits, int classes, ArrayView<float> labels, ArrayView<float> gradient, ArrayView<float> terms)
    {
        long o = (long)(int)r * classes;
        int rows = (int)terms.Length;
        int label = (int)labels[r];
        float max = logits[o];
        for (int c = 1; c < classes; c++) max = MathF.Max(max, logits[o + c]);
        float s = 0;
        for (int c = 0; c < classes; c++)
        {
            float e = MathF.Exp(logits[o + c] - max);
            gradient[o + c] = e;
            s += e;
        }
        terms[r] = (float)(Math.Log(s) + max - logits[o + label]);
        float inv = 1f / (s * rows);
        for (int c = 0; c < classes; c++) gradient[o + c] *= inv;
        gradient[o + label] -= 1f / rows;
    }

    /// <summary>dst row r = src row indices[r] (the index stored as a float; i over rows × cols).</summary>
    public static void GatherIndexed(Index1D i, ArrayView<float> src, int cols, ArrayView<float> indices, ArrayView<float> dst)
    {
        int r = i / cols, j = i % cols;
        dst[i] = src[(long)indices[r] * cols + j];
    }

    // The in-order sums below (one thread walking rows) load eight rows before adding them, in the
    // same order: the same bits as a plain loop, with eight loads in flight instead of one (a plain
    // loop waits a memory round trip per row; these kernels have too few threads to hide it).

    /// <summary>loss[0] = mean of the terms, summed in row order in double (one thread).</summary>
    public static void MeanInOrder(Index1D i, ArrayView<float> terms, int rows, ArrayView<float> loss)
    {
        double sum = 0;
        int r = 0;
        for (; r + 8 <= rows; r += 8)
        {
            float t0 = terms[r], t1 = terms[r + 1], t2 = terms[r + 2], t3 = terms[r + 3], t4 = terms[r + 4], t5 = terms[r + 5], t6 = terms[r + 6], t7 = terms[r + 7];
            sum += t0; sum += t1; sum += t2; sum += t3; sum += t4; sum += t5; sum += t6; sum += t7;
        }
        for (; r < rows; r++) sum += terms[r];
        loss[0] = (float)(sum / rows);
    }

    /// <summary>z = max(z·invNorm[row] + b[col], 0).</summary>
    public static void ScaleBiasRelu(Index1D i, ArrayView<float> z, int cols, ArrayView<float> invNorm, ArrayView<float> bias)
    {
        int r = i / cols, j = i % cols;
        z[i] = MathF.Max(z[i] * invNorm[r] + bias[j], 0f);
    }

    /// <summary>z_rj += b_j, then ReLU when relu ≠ 0.</summary>
    public static void BiasActivation(Index1D i, ArrayView<float> z, int cols, ArrayView<float> bias, int relu)
    {
        float v = z[i] + bias[i % cols];
        z[i] = relu != 0 ? MathF.Max(v, 0f) : v;
    }

    /// <summary>dx = 0 where a ≤ 0.</summary>
    public static void ReluBackward(Index1D i, ArrayView<float> dx, ArrayView<float> a)
    {
        if (a[i] <= 0f) dx[i] = 0f;
    }

    /// <summary>y[i] ·= x[i] (the competitive FF CNN's squares and δ).</summary>
    public static void Multiply(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] *= x[i];

    /// <summary>One thread per (row, class): goodness = weight[k]·Σ over the row's map of h² where the channel's class is k.</summary>
    public static void ClassGoodness(Index1D i, ArrayView<float> h, int rowSize, ArrayView<float> group, ArrayView<float> weight, ArrayView<float> goodness)
    {
        int classes = (int)weight.Length, channels = (int)group.Length;
        int r = i / classes, k = i % classes;
        long o = (long)r * rowSize;
        float s = 0;
        for (int c = 0; c < channels; c++)
        {
            if ((int)group[c] != k) continue;
            for (int q = c; q < rowSize; q += channels) { float v = h[o + q]; s += v * v; }
        }
        goodness[i] = s * weight[k];
    }

    /// <summary>One thread per value: delta = 2·h·dg[row, k]·weight[k] with k the value's channel's class (delta may be h).</summary>
    public static void ClassGoodnessBackward(Index1D i, ArrayView<float> h, int rowSize, ArrayView<float> group, ArrayView<float> weight, ArrayView<float> dg, ArrayView<float> delta)
    {
        int classes = (int)weight.Length, channels = (int)group.Length;
        int r = (int)(i / rowSize), k = (int)group[(int)(i % rowSize) % channels];
        delta[i] = h[i] * (2f * dg[(long)r * classes + k] * weight[k]);
    }

    /// <summary>dst[r·ld + offset + j] = src[r·cols + j] (i over rows × cols).</summary>
    public static void CopyColumns(Index1D i, ArrayView<float> src, int cols, ArrayView<float> dst, int ld, int offset)
    {
        int r = i / cols, j = i % cols;
        dst[(long)r * ld + offset + j] = src[i];
    }

    /// <summary>dst = src.</summary>
    public static void Copy(Index1D i, ArrayView<float> src, ArrayView<float> dst) => dst[i] = src[i];

    /// <summary>dst[r·cols + j] = row[j] (i over rows × cols).</summary>
    public static void BroadcastRow(Index1D i, ArrayView<float> row, int cols, ArrayView<float> dst) => dst[i] = row[i % cols];

    /// <summary>dst row r = src row ((r·multiplier)/divisor) mod modulo (i over rows × cols).</summary>
    public static void GatherRows(Index1D i, ArrayView<float> src, int cols, ArrayView<float> dst, int multiplier, int divisor, int modulo)
    {
        int r = i / cols, j = i % cols;
        long s = (long)r * multiplier / divisor % modulo;
        dst[i] = src[s * cols + j];
    }

    /// <summary>y = α·x + β·y; β = 0 ignores y (even NaN).</summary>
    public static void AddScaled(Index1D i, float alpha, ArrayView<float> x, float beta, ArrayView<float> y)
    {
        y[i] = beta == 0f ? alpha * x[i] : alpha == 0f ? beta * y[i] : alpha * x[i] + beta * y[i];
    }

    /// <summary>pre += b; result = β·max(pre, 0) + (1 − β)·old.</summary>
    public static void DampedRelu(Index1D i, ArrayView<float> pre, int cols, ArrayView<float> bias, ArrayView<float> old, float beta, ArrayView<float> result)
    {
        float p = pre[i] + bias[i % cols];
        pre[i] = p;
        result[i] = MathF.Max(p, 0f) * beta + old[i] * (1f - beta);
    }

    /// <summary>pre = pre &gt; 0 ? (coef[row]·β)·fresh : 0.</summary>
    public static void DampedReluBackward(Index1D i, ArrayView<float> pre, ArrayView<float> fresh, ArrayView<float> coefficient, float beta, int cols)
    {
        float c = coefficient[i / cols] * beta;
        pre[i] = pre[i] > 0f ? c * fresh[i] : 0f;
    }

    /// <summary>m_rj *= scale[r].</summary>
    public static void ScaleRows(Index1D i, ArrayView<float> m, int cols, ArrayView<float> scale) => m[i] *= scale[i / cols];

    /// <summary>sums[j] = Σ_r m_rj, rows in order; one thread per column.</summary>
    public static void ColumnSums(Index1D j, ArrayView<float> m, int rows, int cols, ArrayView<float> sums)
    {
        float s = 0;
        int r = 0;
        for (; r + 8 <= rows; r += 8)
        {
            long o = (long)r * cols + j;
            float v0 = m[o], v1 = m[o + cols], v2 = m[o + 2 * cols], v3 = m[o + 3 * cols], v4 = m[o + 4 * cols], v5 = m[o + 5 * cols], v6 = m[o + 6 * cols], v7 = m[o + 7 * cols];
            s += v0; s += v1; s += v2; s += v3; s += v4; s += v5; s += v6; s += v7;
        }
        for (; r < rows; r++) s += m[(long)r * cols + j];
        sums[j] = s;
    }

    /// <summary>dst[c·rows + j] = w[j·ld + first + c] (i over count × rows).</summary>
    public static void TransposeColumns(Index1D i, ArrayView<float> w, int rows, int ld, int first, ArrayView<float> dst)
    {
        int c = i / rows, j = i % rows;
        dst[i] = w[(long)j * ld + first + c];
    }

    /// <summary>w[j·ld + first + c] = src[c·rows + j].</summary>
    public static void ScatterColumns(Index1D i, ArrayView<float> src, int rows, int ld, int first, ArrayView<float> w)
    {
        int c = i / rows, j = i % rows;
        w[(long)j * ld + first + c] = src[i];
    }

    /// <summary>dst[i] = Σ_b src[b·blockLength + i], blocks in order.</summary>
    public static void SumBlocks(Index1D i, ArrayView<float> src, int blockLength, int blocks, ArrayView<float> dst)
    {
        float s = src[i];
        for (int b = 1; b < blocks; b++) s += src[(long)b * blockLength + i];
        dst[i] = s;
    }

    /// <summary>dst row r = image_(r mod n) ⊕ control_r (i over rows × (px + k)).</summary>
    public static void EmbedControl(Index1D i, ArrayView<float> images, int n, int px, ArrayView<float> control, int k, ArrayView<float> dst)
    {
        int inF = px + k, r = i / inF, j = i % inF;
        dst[i] = j < px ? images[(long)(r % n) * px + j] : control[(long)r * k + j - px];
    }

    /// <summary>h_rj = ReLU((p_(r mod n), j + Σ_c control_rc·cw_cj)·invNorm_r + b_j) (i over rows × width; zero controls skipped).</summary>
    public static void ControlRowsForward(Index1D i, ArrayView<float> control, int k, int n, ArrayView<float> p, ArrayView<float> controlWeights,
        ArrayView<float> bias, int width, ArrayView<float> h, ArrayView<float> invNorm)
    {
        int r = i / width, j = i % width;
        float v = p[(long)(r % n) * width + j];
        for (int c = 0; c < k; c++)
        {
            float a = control[(long)r * k + c];
            if (a != 0f) v += a * controlWeights[(long)c * width + j];
        }
        h[i] = MathF.Max(v * invNorm[r] + bias[j], 0f);
    }

    /// <summary>dst_cj = Σ_r control_rc·δ_rj, rows in order, zero controls skipped (i over k × width).</summary>
    public static void ControlGradient(Index1D i, ArrayView<float> control, int k, ArrayView<float> delta, int rows, int width, ArrayView<float> dst)
    {
        int c = i / width, j = i % width;
        float s = 0;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            long oc = (long)r * k + c, od = (long)r * width + j;
            float a0 = control[oc], a1 = control[oc + k], a2 = control[oc + 2 * k], a3 = control[oc + 3 * k];
            float d0 = delta[od], d1 = delta[od + width], d2 = delta[od + 2 * width], d3 = delta[od + 3 * width];
            if (a0 != 0f) s += a0 * d0;
            if (a1 != 0f) s += a1 * d1;
            if (a2 != 0f) s += a2 * d2;
            if (a3 != 0f) s += a3 * d3;
        }
        for (; r < rows; r++)
        {
            float a = control[(long)r * k + c];
            if (a != 0f) s += a * delta[(long)r * width + j];
        }
        dst[i] = s;
    }

    /// <summary>Adam with PyTorch's arithmetic (constants precomputed on the host as the CPU kernel does) over up to three parameters in one launch (i over n0 + n1 + the third's length): a layer's weight, bias (and recurrent weight) together.</summary>
    public static void Adam3(Index1D i, ArrayView<float> p0, ArrayView<float> g0, ArrayView<float> m0, ArrayView<float> v0,
        ArrayView<float> p1, ArrayView<float> g1, ArrayView<float> m1, ArrayView<float> v1,
        ArrayView<float> p2, ArrayView<float> g2, ArrayView<float> m2, ArrayView<float> v2, AdamScalars a)
    {
        int k = i;
        if (k < a.N0) AdamElement(k, p0, g0, m0, v0, a);
        else if (k < a.N0 + a.N1) AdamElement(k - a.N0, p1, g1, m1, v1, a);
        else AdamElement(k - a.N0 - a.N1, p2, g2, m2, v2, a);
    }

    private static void AdamElement(int i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamScalars a)
    {
        float gi = g[i];
        float mi = m[i] * a.Beta1 + gi * a.OneMinusBeta1;
        float vi = v[i] * a.Beta2 + gi * gi * a.OneMinusBeta2;
        m[i] = mi;
        v[i] = vi;
        p[i] += a.NegStepSize * (mi / (MathF.Sqrt(vi) / a.Bc2Sqrt + a.Eps));
    }

    /// <summary>
    /// x rounded to TF32 (10 explicit mantissa bits, to nearest, ties to even), as the products'
    /// inputs are on tensor cores; the simulator's stand-in for cuBLAS's TF32 mode.
    /// </summary>
    internal static float ToTf32(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7F800000u) == 0x7F800000u) return x; // infinity, NaN
        bits += 0x0FFFu + ((bits >> 13) & 1u);
        return Interop.IntAsFloat(bits & 0xFFFFE000u);
    }

    /// <summary>
    /// Plain product for a backend without cuBLAS (ILGPU's CPU accelerator in the tests):
    /// C[m×n] (=|+=) op(A)·op(B), one thread per element of C, k summed in order.
    /// </summary>
    public static void Gemm(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape s)
    {
        int row = i / s.N, col = i % s.N;
        float sum = 0;
        for (int p = 0; p < s.K; p++)
        {
            float x = s.TransA != 0 ? a[(long)p * s.Lda + row] : a[(long)row * s.Lda + p];
            float y = s.TransB != 0 ? b[(long)col * s.Ldb + p] : b[(long)p * s.Ldb + col];
            if (s.Tf32 != 0) (x, y) = (ToTf32(x), ToTf32(y));
            sum += x * y;
        }
        long o = (long)row * s.Ldc + col;
        c[o] = s.Accumulate != 0 ? c[o] + sum : sum;
    }
}

/// <summary>Adam's per-step scalars (computed on the host as the CPU kernel does) and the first two parameters' lengths of <see cref="GpuKernels.Adam3"/>.</summary>
internal readonly struct AdamScalars(float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float bc2Sqrt, float eps, float negStepSize, int n0, int n1)
{
    public readonly float Beta1 = beta1, OneMinusBeta1 = oneMinusBeta1, Beta2 = beta2, OneMinusBeta2 = oneMinusBeta2, Bc2Sqrt = bc2Sqrt, Eps = eps, NegStepSize = negStepSize;
    public readonly int N0 = n0, N1 = n1;
}

/// <summary>The shape of a <see cref="GpuKernels.Gemm"/> call.</summary>
internal readonly struct GemmShape(bool transA, bool transB, int n, int k, int lda, int ldb, int ldc, bool accumulate, bool tf32 = false)
{
    // ints, not bools: kernel arguments must be blittable.
    public readonly int TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Accumulate = accumulate ? 1 : 0, Tf32 = tf32 ? 1 : 0;
    public readonly int N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
}
