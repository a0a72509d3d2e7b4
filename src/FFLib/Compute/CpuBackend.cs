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

    public override DeviceArray Allocate(int length) => new HostArray(this, new float[length]);

    public override DeviceArray Attach(float[] host) => new HostArray(this, host);

    internal override DeviceSpan Stage(float[] host, int length, ref DeviceArray? staging) => new HostArray(this, host).Slice(0, length);

    public override ReadOnlySpan<float> Read(DeviceSpan source) => Host(source);

    public override void Write(ReadOnlySpan<float> source, DeviceSpan destination) => source.CopyTo(Host(destination));

    public override void Clear(DeviceSpan span) => Host(span).Clear();

    public override void Gemm(bool transA, bool transB, int m, int n, int k, DeviceSpan a, int lda, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate) =>
        Compute.Gemm.Multiply(transA, transB, m, n, k, Host(a), lda, Host(b), ldb, Host(c), ldc, accumulate);

    internal override object? Prepare(bool transB, int k, int n, DeviceSpan b, int ldb, object? reuse) =>
        Compute.Gemm.Pack(transB, k, n, Host(b), ldb, reuse as PackedMatrix);

    internal override void Gemm(int m, int n, int k, DeviceSpan a, int lda, object? prepared, bool transB, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate)
    {
        if (prepared is PackedMatrix packed) Compute.Gemm.Multiply(false, m, Host(a), lda, packed, Host(c), ldc, accumulate);
        else Gemm(false, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    public override void BiasActivation(DeviceSpan z, int rows, int cols, DeviceSpan bias, bool relu)
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

    public override void ReluBackward(DeviceSpan dx, DeviceSpan a)
    {
        var d = Host(dx);
        var x = Host(a);
        for (int i = 0; i < d.Length; i++) if (x[i] <= 0f) d[i] = 0f;
    }

    public override void CrossEntropyLossAndGradient(DeviceSpan logits, int rows, int classes, DeviceSpan labels, DeviceSpan gradient, DeviceSpan loss)
    {
        var floats = Host(labels);
        int[] classOf = System.Buffers.ArrayPool<int>.Shared.Rent(rows);
        for (int r = 0; r < rows; r++) classOf[r] = (int)floats[r];
        Host(loss)[0] = LossKernels.CrossEntropyLossAndGradient(Host(logits), rows, classes, classOf.AsSpan(0, rows), Host(gradient));
        System.Buffers.ArrayPool<int>.Shared.Return(classOf);
    }

    public override void GatherIndexed(DeviceSpan src, int cols, DeviceSpan indices, int rows, DeviceSpan dst)
    {
        var s = Host(src);
        var d = Host(dst);
        var idx = Host(indices);
        for (int r = 0; r < rows; r++) s.Slice((int)idx[r] * cols, cols).CopyTo(d.Slice(r * cols, cols));
    }

    public override void CopyColumns(DeviceSpan src, int rows, int cols, DeviceSpan dst, int ldDst, int offset)
    {
        var s = Host(src);
        var d = Host(dst);
        for (int r = 0; r < rows; r++) s.Slice(r * cols, cols).CopyTo(d.Slice(r * ldDst + offset, cols));
    }

    public override void Copy(DeviceSpan src, DeviceSpan dst) => Host(src).CopyTo(Host(dst));

    // Rows split across threads: each row's arithmetic is the same whatever the split.
    public override void ClassGoodness(DeviceSpan h, int rows, DeviceSpan group, DeviceSpan weight, DeviceSpan goodness)
    {
        if (rows == 0) return;
        int size = h.Length / rows, k = weight.Length;
        ForImages(rows, (first, count) => ClassGoodnessKernels.Forward(Host(h).Slice(first * size, count * size), count, Host(group), Host(weight), Host(goodness).Slice(first * k, count * k)));
    }

    public override void ClassGoodnessBackward(DeviceSpan h, int rows, DeviceSpan group, DeviceSpan weight, DeviceSpan dg, DeviceSpan delta)
    {
        if (rows == 0) return;
        int size = h.Length / rows, k = weight.Length;
        ForImages(rows, (first, count) => ClassGoodnessKernels.Backward(Host(h).Slice(first * size, count * size), count, Host(group), Host(weight),
            Host(dg).Slice(first * k, count * k), Host(delta).Slice(first * size, count * size)));
    }

    // Batch normalisation straight on the host arrays (the defaults copy through Read and Write).
    public override void BatchNormForward(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan beta, DeviceSpan mean, DeviceSpan invStd, DeviceSpan y) =>
        BatchNormKernels.Forward(Host(h), rows, channels, Host(gamma), Host(beta), Host(mean), Host(invStd), Host(y));

    public override void BatchNormApply(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan beta, DeviceSpan mean, DeviceSpan invStd, DeviceSpan y) =>
        BatchNormKernels.Affine(Host(h), rows, channels, Host(gamma), Host(beta), Host(mean), Host(invStd), Host(y));

    public override void BatchNormBackward(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan mean, DeviceSpan invStd, DeviceSpan dy,
        DeviceSpan dh, DeviceSpan dGamma, DeviceSpan dBeta) =>
        BatchNormKernels.Backward(Host(h), rows, channels, Host(gamma), Host(mean), Host(invStd), Host(dy), Host(dh), Host(dGamma), Host(dBeta));

    public override void Multiply(DeviceSpan x, DeviceSpan y)
    {
        var xs = Host(x);
        TensorPrimitives.Multiply(xs, Host(y).Slice(0, xs.Length), Host(y).Slice(0, xs.Length));
    }

    public override void AddScaled(float alpha, DeviceSpan x, float beta, DeviceSpan y)
    {
        var xs = Host(x);
        var ys = Host(y).Slice(0, xs.Length);
        if (beta == 0f) TensorPrimitives.Multiply(xs, alpha, ys);
        else if (alpha == 0f) TensorPrimitives.Multiply(ys, beta, ys);
        else if (xs.Overlaps(ys)) for (int i = 0; i < ys.Length; i++) ys[i] = alpha * xs[i] + beta * ys[i];
        else
        {
            // α·x + β·y with both products rounded, then the sum: the scalar formula's bits, vectorised.
            if (beta != 1f) TensorPrimitives.Multiply(ys, beta, ys);
            TensorPrimitives.MultiplyAdd(xs, alpha, ys, ys);
        }
    }

    public override void BroadcastRow(ReadOnlySpan<float> row, DeviceSpan dst, int rows)
    {
        var d = Host(dst);
        for (int r = 0; r < rows; r++) row.CopyTo(d.Slice(r * row.Length));
    }

    public override void GatherRows(DeviceSpan src, int cols, DeviceSpan dst, int rows, int multiplier, int divisor, int modulo)
    {
        var s = Host(src);
        var d = Host(dst);
        for (int r = 0; r < rows; r++) s.Slice((int)((long)r * multiplier / divisor % modulo) * cols, cols).CopyTo(d.Slice(r * cols, cols));
    }

    public override void NormalizeRows(DeviceSpan x, int rows, int cols, DeviceSpan dst)
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

    public override void InverseRowNorms(DeviceSpan x, int rows, int cols, DeviceSpan invNorm) => Kernels.InverseRowNorms(Host(x), rows, cols, Host(invNorm));

    public override void ScaleBiasRelu(DeviceSpan z, int rows, int cols, DeviceSpan invNorm, DeviceSpan bias) => Kernels.ScaleBiasRelu(Host(z), rows, cols, Host(invNorm), Host(bias));

    public override void ScaleBiasReluMaps(DeviceSpan z, int images, int positions, int channels, DeviceSpan scale, DeviceSpan bias)
    {
        int size = positions * channels;
        ForImages(images, (first, count) => Kernels.ScaleBiasReluMaps(Host(z).Slice(first * size, count * size), count, positions, channels, Host(scale).Slice(first, count), Host(bias)));
    }

    public override void MeanSquares(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares) => Kernels.MeanSquares(Host(h), rows, cols, Host(meanSquares));

    public override void ScaleRows(DeviceSpan m, int rows, int cols, DeviceSpan scale) => Kernels.ScaleRows(Host(m), rows, cols, Host(scale));

    public override void ColumnSums(DeviceSpan m, int rows, int cols, DeviceSpan sums) => Kernels.ColumnSums(Host(m), rows, cols, Host(sums));

    public override void FFLossAndCoefficients(DeviceSpan meanSquares, int positives, float threshold, bool minimize, int width, DeviceSpan coefficient, DeviceSpan loss) =>
        Host(loss)[0] = LossKernels.FFLossAndRowCoefficients(Host(meanSquares), positives, threshold, minimize, width, Host(coefficient));

    public override void AdamStep(DeviceSpan p, DeviceSpan g, DeviceSpan m, DeviceSpan v, float lr, float beta1, float beta2, float eps, int step) =>
        Kernels.AdamStep(Host(p), Host(g), Host(m), Host(v), lr, beta1, beta2, eps, step, ComputeSettings.Threads);

    /// <summary>The decay fused into the Adam kernel (one pass over each parameter; the same bits as decaying first).</summary>
    public override void AdamWSteps(IReadOnlyList<DeviceSpan> p, IReadOnlyList<DeviceSpan> g, IReadOnlyList<DeviceSpan> m, IReadOnlyList<DeviceSpan> v,
        float lr, float beta1, float beta2, float eps, int step, float keep, IReadOnlyList<bool> decay)
    {
        for (int i = 0; i < p.Count; i++)
            Kernels.AdamStep(Host(p[i]), Host(g[i]), Host(m[i]), Host(v[i]), lr, beta1, beta2, eps, step, ComputeSettings.Threads, decay[i] ? keep : 1f);
    }

    // Convolution primitives on the arrays themselves, split over images between the threads (each image's rows are its own).
    public override void Im2Col(DeviceSpan x, int images, ConvGeometry geometry, DeviceSpan columns)
    {
        int inSize = geometry.InputSize, outSize = geometry.Positions * geometry.PatchSize;
        ForImages(images, (first, count) => ConvKernels.Im2Col(Host(x).Slice(first * inSize, count * inSize), count, geometry, Host(columns).Slice(first * outSize, count * outSize)));
    }

    public override void Col2Im(DeviceSpan columns, int images, ConvGeometry geometry, DeviceSpan dx)
    {
        int inSize = geometry.InputSize, colSize = geometry.Positions * geometry.PatchSize;
        ForImages(images, (first, count) => ConvKernels.Col2Im(Host(columns).Slice(first * colSize, count * colSize), count, geometry, Host(dx).Slice(first * inSize, count * inSize)));
    }

    public override void MaxPool(DeviceSpan x, int images, int height, int width, int channels, DeviceSpan y, DeviceSpan argmax)
    {
        int inSize = height * width * channels, outSize = (height / 2) * (width / 2) * channels;
        ForImages(images, (first, count) => ConvKernels.MaxPool(Host(x).Slice(first * inSize, count * inSize), count, height, width, channels,
            Host(y).Slice(first * outSize, count * outSize), Host(argmax).Slice(first * outSize, count * outSize)));
    }

    public override void MaxPoolBackward(DeviceSpan dy, DeviceSpan argmax, int images, int height, int width, int channels, DeviceSpan dx)
    {
        int inSize = height * width * channels, outSize = (height / 2) * (width / 2) * channels;
        ForImages(images, (first, count) => ConvKernels.MaxPoolBackward(Host(dy).Slice(first * outSize, count * outSize), Host(argmax).Slice(first * outSize, count * outSize),
            count, height, width, channels, Host(dx).Slice(first * inSize, count * inSize)));
    }

    /// <summary>Runs body(first, count) over contiguous blocks of images, one block per thread (ComputeSettings.Threads).</summary>
    private static void ForImages(int images, Action<int, int> body)
    {
        int threads = Math.Min(ComputeSettings.Threads, images);
        if (threads <= 1) { body(0, images); return; }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int first = (int)((long)images * t / threads), end = (int)((long)images * (t + 1) / threads);
            body(first, end - first);
        });
    }

    public override void SyncToHost(DeviceArray attached, float[] host) { }

    internal override ActiveNeurons? CreateActiveNeurons(int rows, int width) => new(rows, width);

    internal override bool SharesHostMemory => true;
}
