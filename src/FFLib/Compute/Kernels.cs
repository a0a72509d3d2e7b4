using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FFLib.Compute;

/// <summary>
/// Span-based kernels of the FF layer, each beside a plain reference loop that the tests compare
/// with. Element-wise work and reductions go through <see cref="TensorPrimitives"/>.
/// </summary>
internal static class Kernels
{
    /// <summary>The constant the reference adds to the row norm before dividing.</summary>
    public const float NormEpsilon = 1e-4f;

    /// <summary>invNorm[r] = 1 / (‖x_r‖ + 1e-4) for each of the rows of a rows×cols matrix.</summary>
    public static void InverseRowNorms(ReadOnlySpan<float> x, int rows, int cols, Span<float> invNorm)
    {
        Debug.Assert(x.Length >= rows * cols && invNorm.Length >= rows);
        for (int r = 0; r < rows; r++)
            invNorm[r] = 1f / (TensorPrimitives.Norm(x.Slice(r * cols, cols)) + NormEpsilon);
    }

    /// <summary>In place: h_r = ReLU(z_r · invNorm[r] + b). That is ReLU(x̂Wᵀ + b) given z = xWᵀ.</summary>
    public static void ScaleBiasRelu(Span<float> z, int rows, int cols, ReadOnlySpan<float> invNorm, ReadOnlySpan<float> bias)
    {
        Debug.Assert(z.Length >= rows * cols && bias.Length == cols);
        for (int r = 0; r < rows; r++)
        {
            var row = z.Slice(r * cols, cols);
            TensorPrimitives.MultiplyAdd(row, invNorm[r], bias, row);
            TensorPrimitives.Max(row, 0f, row);
        }
    }

    /// <summary>goodness[r] = mean_j h_rj² (the threshold is subtracted by the loss).</summary>
    public static void MeanSquares(ReadOnlySpan<float> h, int rows, int cols, Span<float> meanSquares)
    {
        for (int r = 0; r < rows; r++)
            meanSquares[r] = TensorPrimitives.SumOfSquares(h.Slice(r * cols, cols)) / cols;
    }

    /// <summary>Numerically stable softplus log(1 + eˣ) = max(x, 0) + log1p(e^−|x|); never overflows.</summary>
    public static float Softplus(float x)
    {
        float e = MathF.Exp(-MathF.Abs(x));
        // log1p(e): for tiny e, 1 + e rounds to 1 in float32, so use the series e − e²/2.
        float log1p = e < 1e-4f ? e - 0.5f * e * e : MathF.Log(1f + e);
        return MathF.Max(x, 0f) + log1p;
    }

    /// <summary>Logistic sigmoid without overflow: the derivative of <see cref="Softplus"/>.</summary>
    public static float Sigmoid(float x)
    {
        if (x >= 0) return 1f / (1f + MathF.Exp(-x));
        float e = MathF.Exp(x);
        return e / (1f + e);
    }

    /// <summary>In place, row by row: rows_r *= scale[r].</summary>
    public static void ScaleRows(Span<float> m, int rows, int cols, ReadOnlySpan<float> scale)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = m.Slice(r * cols, cols);
            TensorPrimitives.Multiply(row, scale[r], row);
        }
    }

    /// <summary>
    /// sum[j] = Σ_r m[r, j], summed in row order (deterministic): 16 columns at a time in a register down all
    /// the rows, so a narrow matrix (a conv layer's 40 channels over 50,000 positions) costs no call per row.
    /// </summary>
    public static unsafe void ColumnSums(ReadOnlySpan<float> m, int rows, int cols, Span<float> sum)
    {
        if (m.Length < (long)rows * cols || sum.Length < cols) throw new ArgumentException($"ColumnSums needs {rows}×{cols} values and {cols} sums.");
        if (!Vector512.IsHardwareAccelerated)
        {
            // Without AVX-512: a vector add per row over all columns (the same sums in the same order).
            sum.Slice(0, cols).Clear();
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(sum.Slice(0, cols), m.Slice(r * cols, cols), sum.Slice(0, cols));
            return;
        }
        fixed (float* pm = m, ps = sum)
        {
            int j = 0;
            for (; j + 16 <= cols; j += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int r = 0; r < rows; r++) acc += Vector512.Load(pm + (long)r * cols + j);
                acc.Store(ps + j);
            }
            for (; j < cols; j++)
            {
                float acc = 0f;
                for (int r = 0; r < rows; r++) acc += pm[(long)r * cols + j];
                ps[j] = acc;
            }
        }
    }

    /// <summary>Plain reference for <see cref="ColumnSums"/>: the same sums in the same order, one value at a time.</summary>
    public static void ColumnSumsReference(ReadOnlySpan<float> m, int rows, int cols, Span<float> sum)
    {
        sum.Slice(0, cols).Clear();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) sum[j] += m[r * cols + j];
    }

    /// <summary>
    /// In place on NHWC maps: z[n, p, c] = ReLU(z[n, p, c]·scale[n] + bias[c]), the product and the sum rounded
    /// apart (the same bits as scaling the image's row, then adding the bias and clamping).
    /// </summary>
    public static unsafe void ScaleBiasReluMaps(Span<float> z, int images, int positions, int channels, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        long size = (long)positions * channels;
        if (z.Length < images * size || scale.Length < images || bias.Length < channels)
            throw new ArgumentException($"ScaleBiasReluMaps needs {images}×{size} values, {images} scales and {channels} biases.");
        if (!Vector512.IsHardwareAccelerated)
        {
            for (int n = 0; n < images; n++)
            {
                var image = z.Slice((int)(n * size), (int)size);
                TensorPrimitives.Multiply(image, scale[n], image);
                for (int p = 0; p < positions; p++) TensorPrimitives.Add(image.Slice(p * channels, channels), bias.Slice(0, channels), image.Slice(p * channels, channels));
                TensorPrimitives.Max(image, 0f, image);
            }
            return;
        }
        int full = channels / 16 * 16;
        fixed (float* pz = z, pb = bias)
        {
            for (int n = 0; n < images; n++)
            {
                var s = Vector512.Create(scale[n]);
                float ss = scale[n];
                for (int p = 0; p < positions; p++)
                {
                    float* v = pz + n * size + (long)p * channels;
                    int c = 0;
                    for (; c < full; c += 16)
                        Vector512.Max(Vector512.Load(v + c) * s + Vector512.Load(pb + c), Vector512<float>.Zero).Store(v + c);
                    for (; c < channels; c++) v[c] = MathF.Max(v[c] * ss + pb[c], 0f);
                }
            }
        }
    }

    /// <summary>Plain reference for <see cref="ScaleBiasReluMaps"/>.</summary>
    public static void ScaleBiasReluMapsReference(Span<float> z, int images, int positions, int channels, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias)
    {
        for (int n = 0; n < images; n++)
            for (int p = 0; p < positions; p++)
                for (int c = 0; c < channels; c++)
                {
                    int i = (n * positions + p) * channels + c;
                    z[i] = MathF.Max(z[i] * scale[n] + bias[c], 0f);
                }
    }

    /// <summary>
    /// Lists, ascending, the columns of a rows×cols matrix that hold a value other than ±0 (NaN counts
    /// as nonzero); returns how many. <paramref name="scratch"/> needs cols entries.
    /// </summary>
    public static int NonzeroColumns(ReadOnlySpan<float> m, int rows, int cols, Span<int> columns, Span<uint> scratch)
    {
        Debug.Assert(m.Length >= rows * cols && columns.Length >= cols && scratch.Length >= cols);
        // OR the bit patterns down each column, then drop the sign bit: nonzero iff some entry had a nonzero magnitude.
        var acc = scratch.Slice(0, cols);
        acc.Clear();
        var bits = MemoryMarshal.Cast<float, uint>(m);
        for (int r = 0; r < rows; r++) TensorPrimitives.BitwiseOr(acc, bits.Slice(r * cols, cols), acc);
        int count = 0;
        for (int j = 0; j < cols; j++)
            if ((acc[j] & 0x7FFF_FFFFu) != 0) columns[count++] = j;
        return count;
    }

    /// <summary>Scalar reference for <see cref="NonzeroColumns"/>.</summary>
    public static int NonzeroColumnsReference(ReadOnlySpan<float> m, int rows, int cols, Span<int> columns)
    {
        int count = 0;
        for (int j = 0; j < cols; j++)
            for (int r = 0; r < rows; r++)
                if (m[r * cols + j] != 0f || float.IsNaN(m[r * cols + j])) { columns[count++] = j; break; }
        return count;
    }

    /// <summary>dst (rows × count) = the listed columns of src (rows × cols), in list order.</summary>
    public static unsafe void GatherColumns(ReadOnlySpan<float> src, int rows, int cols, ReadOnlySpan<int> columns, Span<float> dst)
    {
        int count = columns.Length;
        Debug.Assert(src.Length >= rows * cols && dst.Length >= rows * count);
        fixed (float* ps = src) fixed (int* pi = columns) fixed (float* pd = dst)
        {
            for (int r = 0; r < rows; r++)
            {
                float* row = ps + (long)r * cols;
                float* d = pd + (long)r * count;
                int i = 0;
                if (Avx2.IsSupported)
                    for (; i + 8 <= count; i += 8)
                        Avx.Store(d + i, Avx2.GatherVector256(row, Avx.LoadVector256(pi + i), 4));
                for (; i < count; i++) d[i] = row[pi[i]];
            }
        }
    }

    /// <summary>Scalar reference for <see cref="GatherColumns"/>.</summary>
    public static void GatherColumnsReference(ReadOnlySpan<float> src, int rows, int cols, ReadOnlySpan<int> columns, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < columns.Length; i++) dst[r * columns.Length + i] = src[r * cols + columns[i]];
    }

    /// <summary>
    /// In place: moves row i of a compact (listed.Length × cols) matrix to row listed[i] of a
    /// rows × cols matrix and zeroes the rows not listed (the inverse of gathering the rows).
    /// </summary>
    public static void SpreadRows(Span<float> m, ReadOnlySpan<int> listed, int cols, int rows)
    {
        Debug.Assert(m.Length >= rows * cols);
        // Destinations are ≥ sources (the list ascends), so walking backwards never overwrites a row still to move.
        int next = rows;
        for (int i = listed.Length - 1; i >= 0; i--)
        {
            int j = listed[i];
            m.Slice((j + 1) * cols, (next - j - 1) * cols).Clear();
            if (j != i) m.Slice(i * cols, cols).CopyTo(m.Slice(j * cols, cols));
            next = j;
        }
        m.Slice(0, next * cols).Clear();
    }

    /// <summary>
    /// One Adam step with PyTorch's arithmetic (torch.optim.Adam, no weight decay, no amsgrad):
    /// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + ε).
    /// One fused pass (each element read and written once, not once per operation: Adam is
    /// memory-bound, 28 bytes per parameter), split over up to <paramref name="threads"/> threads.
    /// Every operation is the scalar reference's, in the same order and unfused, so the result is
    /// bit-identical to <see cref="AdamStepReference"/> for any thread count.
    /// </summary>
    public static unsafe void AdamStep(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, int step, int threads = 1, float keep = 1f)
    {
        Debug.Assert(p.Length == g.Length && m.Length == p.Length && v.Length == p.Length);
        var c = new AdamConstants(lr, beta1, beta2, eps, step, keep);
        int n = p.Length;
        fixed (float* pp = p) fixed (float* pg = g) fixed (float* pm = m) fixed (float* pv = v)
        {
            const int chunk = 1 << 15; // 128 KiB per array: big enough to amortise the hand-off, small enough to balance.
            int chunks = (n + chunk - 1) / chunk;
            if (threads <= 1 || chunks < 2)
            {
                AdamRange(pp, pg, pm, pv, n, c);
                return;
            }
            var job = new AdamJob(pp, pg, pm, pv, n, chunk, c);
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, job.Run);
        }
    }

    /// <summary>The per-step scalars of Adam, computed once as the reference does.</summary>
    /// <summary>Adam's per-step constants; <c>keep</c> = 1 − lr·λ multiplies the parameter first (AdamW's decoupled decay; 1: none).</summary>
    internal readonly struct AdamConstants(float lr, float beta1, float beta2, float eps, int step, float keep = 1f)
    {
        public readonly float Keep = keep;
        public readonly float Beta1 = beta1, OneMinusBeta1 = 1f - beta1, Beta2 = beta2, OneMinusBeta2 = 1f - beta2, Eps = eps;
        public readonly float Bc2Sqrt = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        public readonly float NegStepSize = -(lr / (1f - MathF.Pow(beta1, step)));
    }

    private sealed unsafe class AdamJob(float* p, float* g, float* m, float* v, int n, int chunk, AdamConstants c)
    {
        public void Run(int i)
        {
            int start = i * chunk, len = Math.Min(chunk, n - start);
            AdamRange(p + start, g + start, m + start, v + start, len, c);
        }
    }

    /// <summary>Fused Adam over n contiguous elements (Vector512, Vector256 or scalar).</summary>
    internal static unsafe void AdamRange(float* p, float* g, float* m, float* v, int n, in AdamConstants c)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b1 = Vector512.Create(c.Beta1); var a1 = Vector512.Create(c.OneMinusBeta1);
            var b2 = Vector512.Create(c.Beta2); var a2 = Vector512.Create(c.OneMinusBeta2);
            var bc = Vector512.Create(c.Bc2Sqrt); var e = Vector512.Create(c.Eps); var ss = Vector512.Create(c.NegStepSize);
            var kp = Vector512.Create(c.Keep);
            bool decay = c.Keep != 1f;
            for (; i <= n - 16; i += 16)
            {
                var gi = Vector512.Load(g + i);
                var mi = Vector512.Load(m + i) * b1 + gi * a1;
                var vi = Vector512.Load(v + i) * b2 + gi * gi * a2;
                var denom = Vector512.Sqrt(vi) / bc + e;
                mi.Store(m + i);
                vi.Store(v + i);
                var pi = Vector512.Load(p + i);
                if (decay) pi *= kp; // AdamW: the decay first, then the step (torch.optim.AdamW's order)
                (pi + ss * (mi / denom)).Store(p + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var b1 = Vector256.Create(c.Beta1); var a1 = Vector256.Create(c.OneMinusBeta1);
            var b2 = Vector256.Create(c.Beta2); var a2 = Vector256.Create(c.OneMinusBeta2);
            var bc = Vector256.Create(c.Bc2Sqrt); var e = Vector256.Create(c.Eps); var ss = Vector256.Create(c.NegStepSize);
            var kp = Vector256.Create(c.Keep);
            bool decay = c.Keep != 1f;
            for (; i <= n - 8; i += 8)
            {
                var gi = Vector256.Load(g + i);
                var mi = Vector256.Load(m + i) * b1 + gi * a1;
                var vi = Vector256.Load(v + i) * b2 + gi * gi * a2;
                var denom = Vector256.Sqrt(vi) / bc + e;
                mi.Store(m + i);
                vi.Store(v + i);
                var pi = Vector256.Load(p + i);
                if (decay) pi *= kp;
                (pi + ss * (mi / denom)).Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            float mi = m[i] * c.Beta1 + g[i] * c.OneMinusBeta1;
            float vi = v[i] * c.Beta2 + g[i] * g[i] * c.OneMinusBeta2;
            m[i] = mi;
            v[i] = vi;
            float pi = c.Keep != 1f ? p[i] * c.Keep : p[i];
            p[i] = pi + c.NegStepSize * (mi / (MathF.Sqrt(vi) / c.Bc2Sqrt + c.Eps));
        }
    }

    /// <summary>Scalar reference for <see cref="AdamStep"/>: the formula written out, one element at a time.</summary>
    public static void AdamStepReference(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, int step)
    {
        float bc1 = 1f - MathF.Pow(beta1, step);
        float bc2Sqrt = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        float stepSize = lr / bc1;
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = m[i] * beta1 + g[i] * (1f - beta1);
            v[i] = v[i] * beta2 + g[i] * g[i] * (1f - beta2);
            float denom = MathF.Sqrt(v[i]) / bc2Sqrt + eps;
            p[i] += -stepSize * (m[i] / denom);
        }
    }

    /// <summary>Scalar reference of the FF layer forward pass: h = ReLU(x/(‖x‖+1e-4) · Wᵀ + b), x̂ materialised.</summary>
    public static void FFForwardReference(ReadOnlySpan<float> x, int rows, int inF, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int outF, Span<float> h)
    {
        var xhat = new float[inF];
        for (int r = 0; r < rows; r++)
        {
            double ss = 0;
            for (int k = 0; k < inF; k++) ss += (double)x[r * inF + k] * x[r * inF + k];
            float s = (float)Math.Sqrt(ss) + NormEpsilon;
            for (int k = 0; k < inF; k++) xhat[k] = x[r * inF + k] / s;
            for (int j = 0; j < outF; j++)
            {
                float z = b[j];
                for (int k = 0; k < inF; k++) z += xhat[k] * w[j * inF + k];
                h[r * outF + j] = MathF.Max(z, 0f);
            }
        }
    }
}
