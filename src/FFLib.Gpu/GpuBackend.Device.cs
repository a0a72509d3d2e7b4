using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace FFLib.Gpu;

// The backend's GPU, streams and lifetime (its own file: the operations stay readable in GpuBackend.cs).
public sealed partial class GpuBackend
{
    // One context, accelerator and set of loaded kernels per GPU, shared by the backend and the
    // siblings made with CreateStream; the last one disposed releases them.
    private sealed class Device(Context context, Accelerator accelerator)
    {
        public Context Context { get; } = context;
        public Accelerator Accelerator { get; } = accelerator;
        public Kernels Kernels { get; } = new(accelerator);
        public int Users = 1;
    }

    private readonly Device _device;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly bool _ownsStream;
    private readonly CuBlas? _blas;
    private readonly Kernels _k;
    private readonly int _rowGroup;
    // Uploads are copied into this page-locked ring and queued on the stream without waiting for it
    // (ILGPU's CopyFromCPU waits for the stream on every call: three stalls per training batch).
    // Space is reused after the next wait for the stream, so the ring forces a wait only when full.
    private readonly PageLockedArray1D<float> _ring;
    private int _ringUsed;
    private long _launches, _products, _uploads, _downloads, _waits;
    private bool _disposed;

    /// <summary>Upload ring size in floats (16 MiB): room for 40 staged MNIST batches of 128 images, or 1,600 FFNN batches' control rows.</summary>
    internal const int RingFloats = 4 << 20;

    private GpuBackend(Device device, AcceleratorStream stream, bool ownsStream, CuBlas? blas, string name, GpuPrecision precision)
    {
        _precision = precision;
        _device = device;
        _accelerator = device.Accelerator;
        _stream = stream;
        _ownsStream = ownsStream;
        _blas = blas;
        _k = device.Kernels;
        _ring = _accelerator.AllocatePageLocked1D<float>(RingFloats, uninitialized: true);
        // Threads per row for the row reductions: 128, or the largest power of two the accelerator takes.
        _rowGroup = GpuKernels.RowGroup;
        while (_rowGroup > _accelerator.MaxNumThreadsPerGroup) _rowGroup /= 2;
        Name = name;
    }

    /// <inheritdoc />
    public override string Name { get; }

    private readonly GpuPrecision _precision;

    /// <inheritdoc />
    public override string Precision => _precision == GpuPrecision.Tf32 ? "tf32" : "fp32";

    /// <summary>The accelerator's name, memory and cuBLAS library, for logs and run records.</summary>
    public override string Description => _accelerator.AcceleratorType == AcceleratorType.CPU
        ? $"{_accelerator.Name} (ILGPU's CPU accelerator: the GPU kernels without a GPU)" // its "memory size" is long.MaxValue
        : $"{_accelerator.Name}, {_accelerator.MemorySize / (1L << 20)} MiB" + (_blas is null ? "" : $", {_blas.LibraryName}");

    /// <summary>
    /// The backend on CUDA device <paramref name="device"/>, its products in <paramref name="precision"/>
    /// (float32 by default; TF32 only when asked). Throws <see cref="GpuUnavailableException"/>
    /// with the reason when there is no driver, no device, or no cuBLAS.
    /// </summary>
    public static GpuBackend CreateCuda(int device = 0, GpuPrecision precision = GpuPrecision.Float32)
    {
        Context? context = null;
        try
        {
            context = Context.Create(b => b.Cuda().EnableAlgorithms());
            var devices = context.GetCudaDevices();
            if (devices.Count == 0) throw new GpuUnavailableException("no CUDA device was found (is the NVIDIA driver installed and a GPU visible?)");
            if ((uint)device >= (uint)devices.Count) throw new GpuUnavailableException($"CUDA device {device} does not exist; this machine has {devices.Count}");
            var accelerator = devices[device].CreateCudaAccelerator(context);
            var stream = ((CudaStream)accelerator.DefaultStream).StreamPtr;
            var blas = CuBlas.TryCreate(stream, precision == GpuPrecision.Tf32, out var reason) ?? throw new GpuUnavailableException(reason);
            return new GpuBackend(new Device(context, accelerator), accelerator.DefaultStream, ownsStream: false, blas, "cuda", precision);
        }
        catch (Exception e) when (e is not GpuUnavailableException && e is DllNotFoundException or TypeInitializationException or CudaException or InvalidOperationException or NotSupportedException or GpuFailureException)
        {
            context?.Dispose();
            throw new GpuUnavailableException($"CUDA could not be started: {e.GetBaseException().Message}", e);
        }
        catch
        {
            context?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same kernels on ILGPU's CPU accelerator (no GPU needed; slow, for tests). With
    /// <see cref="GpuPrecision.Tf32"/> its plain product rounds the inputs to TF32 as tensor cores do.
    /// </summary>
    public static GpuBackend CreateSimulator(GpuPrecision precision = GpuPrecision.Float32)
    {
        var context = Context.Create(b => b.CPU().EnableAlgorithms());
        var accelerator = context.CreateCPUAccelerator(0);
        return new GpuBackend(new Device(context, accelerator), accelerator.DefaultStream, ownsStream: false, null, "ilgpu-cpu", precision);
    }

    /// <summary>
    /// A second backend on the same GPU with a stream (and cuBLAS handle) of its own, so that its
    /// work runs alongside this one's: several trainings at once, one per thread and backend. The
    /// two share the device's kernels but not arrays: a model moves between them through
    /// <see cref="Modules.ComputeModule.Backend"/>. Dispose each; the GPU is released with the last.
    /// </summary>
    public GpuBackend CreateStream()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_device)
        {
            if (_device.Users == 0) throw new ObjectDisposedException(nameof(GpuBackend));
            _device.Users++;
        }
        AcceleratorStream? stream = null;
        try
        {
            _accelerator.Bind();
            // Non-blocking: its work neither waits for nor holds up the legacy default stream the first backend uses.
            stream = _accelerator is CudaAccelerator cuda ? cuda.CreateStream(StreamFlags.CU_STREAM_NON_BLOCKING) : _accelerator.CreateStream();
            CuBlas? blas = null;
            if (_blas is not null) blas = CuBlas.TryCreate(((CudaStream)stream).StreamPtr, _precision == GpuPrecision.Tf32, out var reason) ?? throw new GpuUnavailableException(reason);
            return new GpuBackend(_device, stream, ownsStream: true, blas, Name, _precision);
        }
        catch
        {
            stream?.Dispose();
            Release(_device);
            throw;
        }
    }

    /// <summary>Every kernel launch goes through here: <see cref="Activity"/> counts them.</summary>
    private Kernels K
    {
        get { _launches++; return _k; }
    }

    /// <summary>
    /// What this backend has done since it was created: kernel launches, cuBLAS products, uploads,
    /// downloads, and the times the host waited for the device. Subtract two readings to count a
    /// stretch of work (e.g. one training epoch).
    /// </summary>
    public GpuActivity Activity => new(_launches, _products, _uploads, _downloads, _waits);

    private void Wait()
    {
        _accelerator.Bind();
        _stream.Synchronize();
        _waits++;
        _ringUsed = 0; // every queued upload has been read
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _accelerator.Bind();
        // This backend's own scratch and resident training set; models' arrays are their owners' to release.
        _terms?.Release();
        _rowStaging?.Release();
        RaiseDisposing(); // the trainer's resident training set goes with the backend
        _ring.Dispose();
        _blas?.Dispose();
        if (_ownsStream) _stream.Dispose();
        Release(_device);
    }

    private static void Release(Device device)
    {
        lock (device)
        {
            if (--device.Users > 0) return;
        }
        device.Accelerator.Dispose();
        device.Context.Dispose();
    }
}
