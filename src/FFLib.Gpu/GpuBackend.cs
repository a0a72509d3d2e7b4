using System.Runtime.InteropServices;
using FFLib.Compute;
using FFLib.Models;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace FFLib.Gpu;

/// <summary>
/// A <see cref="ComputeBackend"/> on an ILGPU accelerator: an NVIDIA GPU through CUDA
/// (<see cref="CreateCuda"/>; products through cuBLAS), or ILGPU's CPU accelerator
/// (<see cref="CreateSimulator"/>), which runs the same kernels without a GPU so that the tests
/// check this backend's logic on every machine. Model buffers live on the device for the whole
/// run; only the FF loss's per-row coefficients (one float per row and layer) and what a caller
/// reads cross to the host.
/// </summary>
public sealed partial class GpuBackend : ComputeBackend, IDisposable, IFFNetworkFusedOps, IFFRecurrentFusedOps
{
    private sealed class GpuArray : DeviceArray
    {
        private readonly GpuBackend _owner;
        private int _released;

        public GpuArray(GpuBackend backend, MemoryBuffer1D<float, Stride1D.Dense> buffer, int length) : base(backend, length)
        {
            (_owner, Buffer) = (backend, buffer);
            Interlocked.Add(ref backend._bytesInUse, buffer.LengthInBytes);
        }

        public MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; }

        public override void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            GC.SuppressFinalize(this);
            if (Volatile.Read(ref _owner._device.Users) > 0) // once the GPU is released, its memory went with it
            {
                try
                {
                    _owner._accelerator.Bind();
                    Buffer.Dispose(); // cuMemFree waits for queued work that may still read it
                }
                catch (CudaException)
                {
                    // A GPU in an error state keeps failing; its memory goes with its context, and the
                    // error that matters is the one already on its way to the caller.
                }
            }
            Interlocked.Add(ref _owner._bytesInUse, -Buffer.LengthInBytes);
        }

        // Dropped without Release: ILGPU's buffer frees the memory from its own finalizer; this one
        // only keeps MemoryInUse honest, and counts the array for the tests that forbid it.
        ~GpuArray()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            Interlocked.Add(ref _owner._bytesInUse, -Buffer.LengthInBytes);
            Interlocked.Increment(ref _owner._collected);
        }
    }

    private long _bytesInUse, _collected;

    /// <summary>
    /// Bytes of GPU memory held by this backend's arrays: models' parameters, optimiser moments,
    /// gradients and workspaces, the resident training set, staging. The library frees a model's
    /// arrays when it leaves the device or <see cref="Modules.ComputeModule.ReleaseDeviceMemory"/>
    /// is called (a sweep does so after every run); anything merely dropped waits for the .NET
    /// collector, which does not see device memory.
    /// </summary>
    public long MemoryInUse => Interlocked.Read(ref _bytesInUse);

    /// <summary>Arrays freed by the collector rather than released by the library (tests: should stay 0 across a run).</summary>
    internal long ArraysCollected => Interlocked.Read(ref _collected);

    private ArrayView<float> V(DeviceSpan s)
    {
        if (s.Array is not GpuArray a || a.Backend != this) throw new ArgumentException($"The array belongs to the {s.Array.Backend.Name} backend, not {Name}.");
        return a.Buffer.View.BaseView.SubView(s.Offset, Math.Max(1, s.Length)).SubView(0, s.Length);
    }

    private static IntPtr Ptr(DeviceSpan s) => ((GpuArray)s.Array).Buffer.NativePtr + (nint)s.Offset * sizeof(float);

    /// <summary>16,384 rows (1,638 images × 10 labels) per pass: few launches and host round trips per test set.</summary>
    internal override int PreferredRows => 16_384;

    /// <inheritdoc />
    public override DeviceArray Allocate(int length)
    {
        _accelerator.Bind(); // this thread may not have used the GPU yet
        MemoryBuffer1D<float, Stride1D.Dense> buffer;
        try { buffer = _accelerator.Allocate1D<float>(Math.Max(1, length)); }
        catch (Exception e) when (e is CudaException or OutOfMemoryException)
        {
            throw new GpuFailureException($"the GPU could not allocate {length * 4.0 / (1 << 20):F0} MiB more ({e.Message.TrimEnd('.')}; {_accelerator.MemorySize >> 20} MiB in all): use smaller layers, fewer --streams, or another GPU", e);
        }
        buffer.View.BaseView.MemSetToZero(_stream);
        return new GpuArray(this, buffer, length);
    }

    /// <inheritdoc />
    public override DeviceArray Attach(float[] host)
    {
        var a = Allocate(host.Length);
        Write(host, a.All);
        return a;
    }

    /// <inheritdoc />
    public override ReadOnlySpan<float> Read(DeviceSpan source)
    {
        if (source.Length == 0) return [];
        _accelerator.Bind(); // a worker thread's first call may be a read (cheap when already bound)
        var host = new float[source.Length];
        CopyToHost(V(source), host);
        _downloads++;
        Wait();
        return host;
    }

    // ILGPU's CPU copies take the raw address of the `ref` they are given: a managed array must stay
    // pinned for the copy, or a collection that moves it mid-copy leaves the result zero and writes
    // the data over whatever now lives at the old address (seen on the CPU accelerator: zeroed reads
    // and a corrupted heap under collections; a CUDA copy from pageable memory has the same hazard).
    private unsafe void CopyToHost(ArrayView<float> source, Span<float> host)
    {
        fixed (float* p = host) source.CopyToCPU(_stream, ref *p, host.Length);
    }

    private unsafe void CopyFromHost(ReadOnlySpan<float> source, ArrayView<float> destination)
    {
        fixed (float* p = source) destination.CopyFromCPU(_stream, ref *p, source.Length);
    }

    /// <inheritdoc />
    public override void SyncToHost(DeviceArray attached, float[] host)
    {
        if (host.Length == 0) return;
        CopyToHost(V(attached.All), host);
        _downloads++;
        Wait();
    }

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<float> source, DeviceSpan destination)
    {
        if (source.Length != destination.Length) throw new ArgumentException($"Writing {source.Length} values into a span of {destination.Length}.");
        int n = source.Length;
        if (n == 0) return;
        _accelerator.Bind();
        _uploads++;
        if (n > RingFloats || _ringFailed)
        {
            // Larger than the ring (a whole parameter set or dataset, once): a plain copy, which waits.
            CopyFromHost(source, V(destination));
            _waits++;
            _ringUsed = 0;
            return;
        }
        if (_ringUsed + n > RingFloats) Wait();
        var slot = _ring.Span.Slice(_ringUsed, n);
        source.CopyTo(slot);
        try { V(destination).CopyFromCPUUnsafeAsync(_stream, ref slot[0], n); }
        catch (Exception e) when (e is CudaException or NotSupportedException or InvalidOperationException)
        {
            // Queued uploads are a speed-up, not a requirement: from now on copy the way that waits (UploadProblem says why).
            _ringFailed = true;
            UploadProblem = e.Message;
            Write(source, destination);
            return;
        }
        _ringUsed += n;
    }

    private bool _ringFailed;

    /// <summary>Null while uploads are queued without waiting; otherwise why this backend fell back to uploads that wait for the device.</summary>
    public string? UploadProblem { get; private set; }

    /// <inheritdoc />
    public override void Clear(DeviceSpan span)
    {
        if (span.Length > 0) V(span).MemSetToZero(_stream);
    }

    /// <inheritdoc />
    public override void Gemm(bool transA, bool transB, int m, int n, int k, DeviceSpan a, int lda, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        _products++;
        if (_blas is not null)
        {
            _accelerator.Bind(); // cuBLAS uses the calling thread's current context
            _blas.Gemm(transA, transB, m, n, k, Ptr(a), lda, Ptr(b), ldb, Ptr(c), ldc, accumulate);
        }
        else K.Gemm(_stream, m * n, V(a), V(b), V(c), new GemmShape(transA, transB, n, k, lda, ldb, ldc, accumulate, _precision == GpuPrecision.Tf32));
    }

    /// <inheritdoc />
    public override void BiasActivation(DeviceSpan z, int rows, int cols, DeviceSpan bias, bool relu) => K.BiasActivation(_stream, rows * cols, V(z), cols, V(bias), relu ? 1 : 0);

    /// <inheritdoc />
    public override void ReluBackward(DeviceSpan dx, DeviceSpan a) => K.ReluBackward(_stream, dx.Length, V(dx), V(a));

    /// <inheritdoc />
    public override void ClassGoodness(DeviceSpan h, int rows, DeviceSpan group, DeviceSpan weight, DeviceSpan goodness)
    {
        if (rows == 0) return;
        K.ClassGoodness(_stream, rows * weight.Length, V(h), h.Length / rows, V(group), V(weight), V(goodness.Slice(0, rows * weight.Length)));
    }

    /// <inheritdoc />
    public override void ClassGoodnessBackward(DeviceSpan h, int rows, DeviceSpan group, DeviceSpan weight, DeviceSpan dg, DeviceSpan delta)
    {
        if (rows == 0) return;
        K.ClassGoodnessBackward(_stream, h.Length, V(h), h.Length / rows, V(group), V(weight), V(dg), V(delta.Slice(0, h.Length)));
    }

    /// <inheritdoc />
    public override void BatchNormForward(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan beta, DeviceSpan mean, DeviceSpan invStd, DeviceSpan y)
    {
        if (rows == 0 || channels == 0) return;
        int n = rows * channels;
        K.BatchNormStatistics(_stream, channels, V(h.Slice(0, n)), rows, channels, V(mean.Slice(0, channels)), V(invStd.Slice(0, channels)));
        K.BatchNormAffine(_stream, n, V(h.Slice(0, n)), channels, V(gamma), V(beta), V(mean.Slice(0, channels)), V(invStd.Slice(0, channels)), V(y.Slice(0, n)));
    }

    /// <inheritdoc />
    public override void BatchNormApply(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan beta, DeviceSpan mean, DeviceSpan invStd, DeviceSpan y)
    {
        if (rows == 0 || channels == 0) return;
        int n = rows * channels;
        K.BatchNormAffine(_stream, n, V(h.Slice(0, n)), channels, V(gamma), V(beta), V(mean.Slice(0, channels)), V(invStd.Slice(0, channels)), V(y.Slice(0, n)));
    }

    /// <inheritdoc />
    public override void BatchNormBackward(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan mean, DeviceSpan invStd, DeviceSpan dy,
        DeviceSpan dh, DeviceSpan dGamma, DeviceSpan dBeta)
    {
        if (rows == 0 || channels == 0) return;
        int n = rows * channels;
        var (m, s, dg, db) = (V(mean.Slice(0, channels)), V(invStd.Slice(0, channels)), V(dGamma.Slice(0, channels)), V(dBeta.Slice(0, channels)));
        K.BatchNormGradientSums(_stream, channels, V(h.Slice(0, n)), rows, channels, m, s, V(dy.Slice(0, n)), dg, db);
        K.BatchNormInputGradient(_stream, n, V(h.Slice(0, n)), rows, channels, V(gamma), m, s, V(dy.Slice(0, n)), dg, db, V(dh.Slice(0, n)));
    }

    /// <inheritdoc />
    public override void Multiply(DeviceSpan x, DeviceSpan y)
    {
        if (x.Length > 0) K.Multiply(_stream, x.Length, V(x), V(y.Slice(0, x.Length)));
    }

    /// <inheritdoc />
    public override void CrossEntropyLossAndGradient(DeviceSpan logits, int rows, int classes, DeviceSpan labels, DeviceSpan gradient, DeviceSpan loss)
    {
        if (rows == 0) return;
        Grow(ref _terms, rows);
        K.CrossEntropyRows(_stream, rows, V(logits), classes, V(labels), V(gradient), V(_terms.Slice(0, rows)));
        K.MeanInOrder(_stream, 1, V(_terms.Slice(0, rows)), rows, V(loss));
    }

    /// <inheritdoc />
    public override void FFGoodnessAndLoss(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares, int positives, float threshold, bool minimize,
        DeviceSpan coefficient, DeviceSpan loss)
    {
        if (rows == 0) return;
        Grow(ref _terms, rows);
        float scale = 2f / ((float)rows * cols);
        K.GoodnessAndLossRows(_stream, new KernelConfig(rows, _rowGroup), V(h), cols, V(meanSquares), positives, threshold, minimize ? 1 : 0, scale,
            V(coefficient.Slice(0, rows)), V(_terms.Slice(0, rows)));
        K.MeanInOrder(_stream, 1, V(_terms.Slice(0, rows)), rows, V(loss));
    }

    // FFBackward and the control-column steps keep the base class's sequence of kernels: fused into
    // one column-per-thread kernel (and strided reads of W's control columns) they measured slower
    // on the H200 (FFNN epoch 0.38–0.39 s against 0.27–0.30 s; docs/measurements, run 7).

    /// <inheritdoc />
    public override void CopyColumns(DeviceSpan src, int rows, int cols, DeviceSpan dst, int ldDst, int offset) =>
        K.CopyColumns(_stream, rows * cols, V(src), cols, V(dst), ldDst, offset);

    /// <inheritdoc />
    public override void AddScaled(float alpha, DeviceSpan x, float beta, DeviceSpan y)
    {
        if (x.Length > 0) K.AddScaled(_stream, x.Length, alpha, V(x), beta, V(y));
    }

    /// <inheritdoc />
    public override void Copy(DeviceSpan src, DeviceSpan dst)
    {
        if (src.Length != dst.Length) throw new ArgumentException($"Copying {src.Length} values into {dst.Length}.");
        if (src.Length > 0) K.Copy(_stream, src.Length, V(src), V(dst));
    }

    /// <inheritdoc />
    public override void BroadcastRow(ReadOnlySpan<float> row, DeviceSpan dst, int rows)
    {
        if (rows == 0 || row.Length == 0) return;
        Grow(ref _rowStaging, row.Length);
        // The row goes up once, then one kernel fills every row (the upload completes before the kernel runs: same stream).
        // The upload is queued on the stream before the kernel; the next call's upload after it, so
        // reusing the staging row needs no wait.
        Write(row, _rowStaging.Slice(0, row.Length));
        K.BroadcastRow(_stream, rows * row.Length, V(_rowStaging.Slice(0, row.Length)), row.Length, V(dst));
    }

    private DeviceArray? _rowStaging;

    /// <inheritdoc />
    public override void GatherIndexed(DeviceSpan src, int cols, DeviceSpan indices, int rows, DeviceSpan dst) =>
        K.GatherIndexed(_stream, rows * cols, V(src), cols, V(indices), V(dst));

    /// <inheritdoc />
    public override void GatherRows(DeviceSpan src, int cols, DeviceSpan dst, int rows, int multiplier, int divisor, int modulo) =>
        K.GatherRows(_stream, rows * cols, V(src), cols, V(dst), multiplier, divisor, modulo);

    /// <inheritdoc />
    public override void NormalizeRows(DeviceSpan x, int rows, int cols, DeviceSpan dst) => RowReduce(x, rows, cols, dst, 2);

    void IFFRecurrentFusedOps.DampedRelu(DeviceSpan pre, int rows, int cols, DeviceSpan bias, DeviceSpan old, float beta, DeviceSpan result) =>
        K.DampedRelu(_stream, rows * cols, V(pre), cols, V(bias), V(old), beta, V(result));

    void IFFRecurrentFusedOps.DampedReluBackward(DeviceSpan pre, DeviceSpan fresh, DeviceSpan coefficient, float beta, int rows, int cols) =>
        K.DampedReluBackward(_stream, rows * cols, V(pre), V(fresh), V(coefficient), beta, cols);

    void IFFNetworkFusedOps.EmbedControl(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows, DeviceSpan dst) =>
        K.EmbedControl(_stream, rows * (px + k), V(images), n, px, V(control), k, V(dst));

    /// <inheritdoc />
    public override void InverseRowNorms(DeviceSpan x, int rows, int cols, DeviceSpan invNorm) => RowReduce(x, rows, cols, invNorm, 0);

    /// <summary>One group of <see cref="GpuKernels.RowGroup"/> threads per row.</summary>
    private void RowReduce(DeviceSpan x, int rows, int cols, DeviceSpan output, int mode)
    {
        if (rows == 0) return;
        K.RowReduce(_stream, new KernelConfig(rows, _rowGroup), V(x), cols, V(output), mode);
    }

    /// <inheritdoc />
    public override void ScaleBiasRelu(DeviceSpan z, int rows, int cols, DeviceSpan invNorm, DeviceSpan bias) => K.ScaleBiasRelu(_stream, rows * cols, V(z), cols, V(invNorm), V(bias));

    /// <inheritdoc />
    public override void MeanSquares(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares) => RowReduce(h, rows, cols, meanSquares, 1);

    /// <inheritdoc />
    public override void ScaleRows(DeviceSpan m, int rows, int cols, DeviceSpan scale) => K.ScaleRows(_stream, rows * cols, V(m), cols, V(scale));

    /// <inheritdoc />
    public override void ColumnSums(DeviceSpan m, int rows, int cols, DeviceSpan sums) => K.ColumnSums(_stream, cols, V(m), rows, cols, V(sums));

    /// <inheritdoc />
    public override void FFLossAndCoefficients(DeviceSpan meanSquares, int positives, float threshold, bool minimize, int width, DeviceSpan coefficient, DeviceSpan loss)
    {
        // On the device, with the CPU's formulas (the loss summed in row order in double): no round trip to the host.
        int rows = meanSquares.Length;
        Grow(ref _terms, rows);
        float scale = 2f / ((float)rows * width);
        K.FFLossRows(_stream, rows, V(meanSquares), positives, threshold, minimize ? 1 : 0, scale, V(coefficient.Slice(0, rows)), V(_terms.Slice(0, rows)));
        K.MeanInOrder(_stream, 1, V(_terms.Slice(0, rows)), rows, V(loss));
    }

    private DeviceArray? _terms;


    void IFFNetworkFusedOps.TransposeColumns(DeviceSpan w, int rows, int ld, int first, int count, DeviceSpan dst) => K.TransposeColumns(_stream, count * rows, V(w), rows, ld, first, V(dst));

    void IFFNetworkFusedOps.ScatterColumns(DeviceSpan src, int rows, int ld, int first, int count, DeviceSpan w) => K.ScatterColumns(_stream, count * rows, V(src), rows, ld, first, V(w));

    void IFFNetworkFusedOps.SumBlocks(DeviceSpan src, int blockLength, int blocks, DeviceSpan dst) => K.SumBlocks(_stream, blockLength, V(src), blockLength, blocks, V(dst));

    void IFFNetworkFusedOps.ControlRowsForward(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows,
        DeviceSpan p, DeviceSpan controlWeights, DeviceSpan bias, int width, DeviceSpan h, DeviceSpan invNorm, bool computeNorms)
    {
        if (computeNorms && rows > 0) K.ControlRowNormsGrouped(_stream, new KernelConfig(rows, _rowGroup), V(images), n, px, V(control), k, V(invNorm));
        K.ControlRowsForward(_stream, rows * width, V(control), k, n, V(p), V(controlWeights), V(bias), width, V(h), V(invNorm));
    }

    void IFFNetworkFusedOps.ControlGradient(DeviceSpan control, int k, DeviceSpan delta, int rows, int width, DeviceSpan dst) =>
        K.ControlGradient(_stream, k * width, V(control), k, V(delta), rows, width, V(dst));

    /// <inheritdoc />
    public override void AdamStep(DeviceSpan p, DeviceSpan g, DeviceSpan m, DeviceSpan v, float lr, float beta1, float beta2, float eps, int step) =>
        AdamSteps([p], [g], [m], [v], lr, beta1, beta2, eps, step);

    /// <inheritdoc />
    public override void AdamSteps(IReadOnlyList<DeviceSpan> p, IReadOnlyList<DeviceSpan> g, IReadOnlyList<DeviceSpan> m, IReadOnlyList<DeviceSpan> v,
        float lr, float beta1, float beta2, float eps, int step)
    {
        // The per-step scalars exactly as the CPU kernel computes them; up to three parameters per launch.
        float bc2Sqrt = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        float negStepSize = -(lr / (1f - MathF.Pow(beta1, step)));
        for (int first = 0; first < p.Count; first += 3)
        {
            int count = Math.Min(3, p.Count - first);
            int Len(int j) => j < count ? p[first + j].Length : 0;
            int At(int j) => first + Math.Min(j, count - 1); // absent ones repeat the last (length 0: never touched)
            var a = new AdamScalars(beta1, 1f - beta1, beta2, 1f - beta2, bc2Sqrt, eps, negStepSize, Len(0), Len(1));
            int total = Len(0) + Len(1) + Len(2);
            if (total == 0) continue;
            K.Adam3(_stream, total, V(p[At(0)]), V(g[At(0)]), V(m[At(0)]), V(v[At(0)]), V(p[At(1)]), V(g[At(1)]), V(m[At(1)]), V(v[At(1)]),
                V(p[At(2)]), V(g[At(2)]), V(m[At(2)]), V(v[At(2)]), a);
        }
    }

    /// <summary>Waits for all queued work (for timing).</summary>
    public void Synchronize() => Wait();

    internal override bool SharesHostMemory => false;
}
