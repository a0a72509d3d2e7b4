using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FFLib.Compute;

/// <summary>The managed SIMD backend: host arrays, and the library's span kernels (<see cref="Kernels"/>, <see cref="Compute.Gemm"/>) unchanged.</summary>
internal sealed class CpuBackend : ComputeBackend
{
    private sealed class HostArray(ComputeBackend backend, float[] data) : DeviceArray(backend, data.Length)
    {
        public float[] Data { get; } = data;
    }

    public override string Name => "cpu";

    /// <summary>The host memory of a span of this backend.</summary>
    internal static Span<float> Host(DeviceSpan s) =>
        s.Array is HostArray h ? h.Data.AsSpan(s.Offset, s.Length) : throw new ArgumentException($"The array belongs to the {s.Array.Backend.Name} backend, not the CPU.");

    internal override DeviceArray Allocate(int length) => new HostArray(this, new float[length]);

    internal override DeviceArray Attach(float[] host) => new HostArray(this, host);

    internal override DeviceSpan Stage(float[] host, int length, ref DeviceArray? staging) => new HostArray(this, host).Slice(0, length);

    internal override ReadOnlySpan<float> Read(DeviceSpan source) => Host(source);

    internal override void Write(ReadOnlySpan<float> source, DeviceSpan destination) => source.CopyTo(Host(destination));

    internal override void Clear(DeviceSpan span) => Host(span).Clear();

    internal override void Gemm(bool transA, bool transB, int m, int n, int k, DeviceSpan a, int lda, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate) =>
        Compute.Gemm.Multiply(transA, transB, m, n, k, Host(a), lda, Host(b), ldb, Host(c), ldc, accumulate);

    internal override object? Prepare(bool transB, int k, int n, DeviceSpan b, int ldb, object? reuse) =>
        Compute.Gemm.Pack(transB, k, n, Host(b), ldb, reuse as PackedMatrix);

    internal override void Gemm(int m, int n, int k, DeviceSpan a, int lda, object? prepared, bool transB, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate)
    {
        if (prepared is PackedMatrix packed) Compute.Gemm.Multiply(false, m, Host(a), lda, packed, Host(c), ldc, accumulate);
        else Gemm(false, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    internal override void BiasActivation(DeviceSpan z, int rows, int cols, DeviceSpan bias, bool relu)
    {
        var zz = Host(z).Slice(0, rows * cols);
        var b = Host(bias);
        for (int r = 0; r < rows; r++)
        {
            var row = zz.Slice(r * cols, cols);
            TensorPrimitives.Add(row, b, row);
        }
        if (relu) TensorPrimitives.Max(zz, 0f, zz);
    }

    internal override void ReluBackward(DeviceSpan dx, DeviceSpan a)
    {
        var d = Host(dx);
        var x = Host(a);
        for (int i = 0; i < d.Length; i++) if (x[i] <= 0f) d[i] = 0f;
    }

    internal override void CrossEntropyLossAndGradient(DeviceSpan logits, int rows, int classes, DeviceSpan labels, DeviceSpan gradient, DeviceSpan loss)
    {
        var floats = Host(labels);
        int[] classOf = System.Buffers.ArrayPool<int>.Shared.Rent(rows);
        for (int r = 0; r < rows; r++) classOf[r] = (int)floats[r];
        Host(loss)[0] = LossKernels.CrossEntropyLossAndGradient(Host(logits), rows, classes, classOf.AsSpan(0, rows), Host(gradient));
        System.Buffers.ArrayPool<int>.Shared.Return(classOf);
    }

    internal override void GatherIndexed(DeviceSpan src, int cols, DeviceSpan indices, int rows, DeviceSpan dst)
    {
        var s = Host(src);
        var d = Host(dst);
        var idx = Host(indices);
        for (int r = 0; r < rows; r++) s.Slice((int)idx[r] * cols, cols).CopyTo(d.Slice(r * cols, cols));
    }

    internal override void CopyColumns(DeviceSpan src, int rows, int cols, DeviceSpan dst, int ldDst, int offset)
    {
        var s = Host(src);
        var d = Host(dst);
        for (int r = 0; r < rows; r++) s.Slice(r * cols, cols).CopyTo(d.Slice(r * ldDst + offset, cols));
    }

    internal override void Copy(DeviceSpan src, DeviceSpan dst) => Host(src).CopyTo(Host(dst));

    internal override void BroadcastRow(ReadOnlySpan<float> row, DeviceSpan dst, int rows)
    {
        var d = Host(dst);
        for (int r = 0; r < rows; r++) row.CopyTo(d.Slice(r * row.Length));
    }

    internal override void GatherRows(DeviceSpan src, int cols, DeviceSpan dst, int rows, int multiplier, int divisor, int modulo)
    {
        var s = Host(src);
        var d = Host(dst);
        for (int r = 0; r < rows; r++) s.Slice((int)((long)r * multiplier / divisor % modulo) * cols, cols).CopyTo(d.Slice(r * cols, cols));
    }

    internal override void NormalizeRows(DeviceSpan x, int rows, int cols, DeviceSpan dst)
    {
        var s = Host(x);
        var d = Host(dst);
        for (int r = 0; r < rows; r++)
        {
            var src = s.Slice(r * cols, cols);
            float inv = 1f / (TensorPrimitives.Norm(src) + Kernels.NormEpsilon);
            TensorPrimitives.Multiply(src, inv, d.Slice(r * cols, cols));
        }
    }

    internal override void DampedRelu(DeviceSpan pre, int rows, int cols, DeviceSpan bias, DeviceSpan old, float beta, DeviceSpan result)
    {
        var p = Host(pre);
        var b = Host(bias);
        var o = Host(old);
        var res = Host(result);
        for (int r = 0; r < rows; r++)
        {
            var pr = p.Slice(r * cols, cols);
            TensorPrimitives.Add(pr, b, pr);
            var rr = res.Slice(r * cols, cols);
            TensorPrimitives.Max(pr, 0f, rr);
            TensorPrimitives.Multiply(rr, beta, rr);
            TensorPrimitives.MultiplyAdd(o.Slice(r * cols, cols), 1f - beta, rr, rr);
        }
    }

    internal override void DampedReluBackward(DeviceSpan pre, DeviceSpan fresh, DeviceSpan coefficient, float beta, int rows, int cols)
    {
        var p = Host(pre);
        var n = Host(fresh);
        var coef = Host(coefficient);
        for (int r = 0; r < rows; r++)
        {
            float c = coef[r] * beta;
            var pr = p.Slice(r * cols, cols);
            var nr = n.Slice(r * cols, cols);
            // SIMD select of the same products: bit-identical to the scalar loop below.
            int j = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var cv = new Vector<float>(c);
                var pv = MemoryMarshal.Cast<float, Vector<float>>(pr);
                var nv = MemoryMarshal.Cast<float, Vector<float>>(nr);
                for (int v = 0; v < pv.Length; v++) pv[v] = Vector.ConditionalSelect(Vector.GreaterThan(pv[v], Vector<float>.Zero), cv * nv[v], Vector<float>.Zero);
                j = pv.Length * Vector<float>.Count;
            }
            for (; j < cols; j++) pr[j] = pr[j] > 0f ? c * nr[j] : 0f;
        }
    }

    internal override void EmbedControl(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows, DeviceSpan dst)
    {
        var img = Host(images);
        var ctrl = Host(control);
        var d = Host(dst);
        int inF = px + k;
        for (int r = 0; r < rows; r++)
        {
            img.Slice(r % n * px, px).CopyTo(d.Slice(r * inF, px));
            ctrl.Slice(r * k, k).CopyTo(d.Slice(r * inF + px, k));
        }
    }

    internal override void InverseRowNorms(DeviceSpan x, int rows, int cols, DeviceSpan invNorm) => Kernels.InverseRowNorms(Host(x), rows, cols, Host(invNorm));

    internal override void ScaleBiasRelu(DeviceSpan z, int rows, int cols, DeviceSpan invNorm, DeviceSpan bias) => Kernels.ScaleBiasRelu(Host(z), rows, cols, Host(invNorm), Host(bias));

    internal override void MeanSquares(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares) => Kernels.MeanSquares(Host(h), rows, cols, Host(meanSquares));

    internal override void ScaleRows(DeviceSpan m, int rows, int cols, DeviceSpan scale) => Kernels.ScaleRows(Host(m), rows, cols, Host(scale));

    internal override void ColumnSums(DeviceSpan m, int rows, int cols, DeviceSpan sums) => Kernels.ColumnSums(Host(m), rows, cols, Host(sums));

    internal override void FFLossAndCoefficients(DeviceSpan meanSquares, int positives, float threshold, bool minimize, int width, DeviceSpan coefficient, DeviceSpan loss) =>
        Host(loss)[0] = LossKernels.FFLossAndRowCoefficients(Host(meanSquares), positives, threshold, minimize, width, Host(coefficient));

    internal override void TransposeColumns(DeviceSpan w, int rows, int ld, int first, int count, DeviceSpan dst)
    {
        var src = Host(w);
        var d = Host(dst);
        for (int j = 0; j < rows; j++)
            for (int c = 0; c < count; c++) d[c * rows + j] = src[j * ld + first + c];
    }

    internal override void ScatterColumns(DeviceSpan src, int rows, int ld, int first, int count, DeviceSpan w)
    {
        var s = Host(src);
        var d = Host(w);
        for (int j = 0; j < rows; j++)
            for (int c = 0; c < count; c++) d[j * ld + first + c] = s[c * rows + j];
    }

    internal override void SumBlocks(DeviceSpan src, int blockLength, int blocks, DeviceSpan dst)
    {
        var s = Host(src);
        var d = Host(dst).Slice(0, blockLength);
        s.Slice(0, blockLength).CopyTo(d);
        for (int b = 1; b < blocks; b++) TensorPrimitives.Add(d, s.Slice(b * blockLength, blockLength), d);
    }

    internal override unsafe void ControlRowsForward(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows,
        DeviceSpan p, DeviceSpan controlWeights, DeviceSpan bias, int width, DeviceSpan h, DeviceSpan invNorm, bool computeNorms)
    {
        // Row by row while the row is in L1; rows are independent, so they are split over the
        // threads (same bits for any split).
        fixed (float* pi = Host(images)) fixed (float* pc = Host(control)) fixed (float* ph = Host(h)) fixed (float* pn = Host(invNorm))
        fixed (float* pp = Host(p)) fixed (float* pw = Host(controlWeights)) fixed (float* pb = Host(bias))
        {
            var job = new ControlRowsJob(pi, pc, ph, pn, pp, pw, pb, n, width, px, k, computeNorms);
            int blocks = (rows + 15) / 16;
            if (ComputeSettings.Threads > 1 && blocks > 1)
                Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = ComputeSettings.Threads }, i => job.Run(i * 16, Math.Min(rows, i * 16 + 16)));
            else job.Run(0, rows);
        }
    }

    internal override void ControlGradient(DeviceSpan control, int k, DeviceSpan delta, int rows, int width, DeviceSpan dst)
    {
        var ctrl = Host(control);
        var dl = Host(delta);
        var gc = Host(dst).Slice(0, k * width);
        gc.Clear();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < k; c++)
            {
                float v = ctrl[r * k + c];
                if (v != 0f) TensorPrimitives.MultiplyAdd(dl.Slice(r * width, width), v, gc.Slice(c * width, width), gc.Slice(c * width, width));
            }
    }

    internal override void AdamStep(DeviceSpan p, DeviceSpan g, DeviceSpan m, DeviceSpan v, float lr, float beta1, float beta2, float eps, int step) =>
        Kernels.AdamStep(Host(p), Host(g), Host(m), Host(v), lr, beta1, beta2, eps, step, ComputeSettings.Threads);

    internal override void SyncToHost(DeviceArray attached, float[] host) { }

    internal override ActiveNeurons? CreateActiveNeurons(int rows, int width) => new(rows, width);

    /// <summary>The per-row part of <see cref="ControlRowsForward"/> over a range of rows (pointers pinned by the caller).</summary>
    private sealed unsafe class ControlRowsJob(float* images, float* control, float* h, float* invNorm, float* p,
        float* controlWeights, float* bias, int n, int outF, int px, int k, bool computeNorms)
    {
        public void Run(int from, int to)
        {
            var b = new ReadOnlySpan<float>(bias, outF);
            for (int r = from; r < to; r++)
            {
                int img = r % n;
                var hr = new Span<float>(h + (long)r * outF, outF);
                new ReadOnlySpan<float>(p + (long)img * outF, outF).CopyTo(hr);
                float ctrlSq = 0;
                for (int c = 0; c < k; c++)
                {
                    float v = control[(long)r * k + c];
                    if (v == 0f) continue;
                    ctrlSq += v * v;
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(controlWeights + (long)c * outF, outF), v, hr, hr);
                }
                if (computeNorms)
                    invNorm[r] = 1f / (MathF.Sqrt(TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(images + (long)img * px, px)) + ctrlSq) + Kernels.NormEpsilon);
                TensorPrimitives.MultiplyAdd(hr, invNorm[r], b, hr);
                TensorPrimitives.Max(hr, 0f, hr);
            }
        }
    }
}
