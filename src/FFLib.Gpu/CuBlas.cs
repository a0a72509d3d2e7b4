using System.Runtime.InteropServices;

namespace FFLib.Gpu;

/// <summary>
/// The few cuBLAS entry points the backend needs, bound at run time: the library file is searched
/// for by name (libcublas.so.13, .12, .11, then the FFLIB_CUBLAS path or any libcublas.so), so one
/// build runs against whichever CUDA the machine has. Row-major products are mapped onto cuBLAS's
/// column-major ones (C = A·B row-major is Cᵀ = Bᵀ·Aᵀ column-major).
/// </summary>
internal sealed unsafe class CuBlas : IDisposable
{
    private readonly IntPtr _library;
    private readonly IntPtr _handle;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, IntPtr, int, float*, IntPtr, int, int> _sgemm;
    private readonly delegate* unmanaged<IntPtr, int> _destroy;

    private const int OpN = 0, OpT = 1;

    /// <summary>Where the library was found.</summary>
    public string LibraryName { get; }

    private CuBlas(IntPtr library, string name, IntPtr stream, bool tf32)
    {
        _library = library;
        LibraryName = name;
        var create = (delegate* unmanaged<IntPtr*, int>)Export("cublasCreate_v2");
        var setStream = (delegate* unmanaged<IntPtr, IntPtr, int>)Export("cublasSetStream_v2");
        var setMathMode = (delegate* unmanaged<IntPtr, int, int>)Export("cublasSetMathMode");
        _sgemm = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, IntPtr, int, float*, IntPtr, int, int>)Export("cublasSgemm_v2");
        _destroy = (delegate* unmanaged<IntPtr, int>)Export("cublasDestroy_v2");
        IntPtr handle;
        Check(create(&handle), "cublasCreate");
        _handle = handle;
        Check(setStream(_handle, stream), "cublasSetStream");
        // CUBLAS_DEFAULT_MATH (0): full float32, no TF32 tensor-core rounding (PyTorch's default for
        // matmul); CUBLAS_TF32_TENSOR_OP_MATH (3) only when asked for.
        Check(setMathMode(_handle, tf32 ? 3 : 0), "cublasSetMathMode");
    }

    /// <summary>Loads cuBLAS and creates a handle bound to <paramref name="stream"/> (TF32 products when <paramref name="tf32"/>); null with the reason when no library loads.</summary>
    public static CuBlas? TryCreate(IntPtr stream, bool tf32, out string reason)
    {
        var names = new List<string>();
        if (Environment.GetEnvironmentVariable("FFLIB_CUBLAS") is { Length: > 0 } explicitPath) names.Add(explicitPath);
        names.AddRange(["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so", "cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]);
        foreach (var name in names)
            if (NativeLibrary.TryLoad(name, out var lib))
            {
                reason = "";
                return new CuBlas(lib, name, stream, tf32);
            }
        reason = $"no cuBLAS library could be loaded (tried {string.Join(", ", names)}; set FFLIB_CUBLAS to its path or add its folder to LD_LIBRARY_PATH)";
        return null;
    }

    private IntPtr Export(string name) =>
        NativeLibrary.TryGetExport(_library, name, out var p) ? p : throw new InvalidOperationException($"{LibraryName} has no {name}.");

    /// <summary>Throws <see cref="GpuFailureException"/> naming the cuBLAS status unless it is success.</summary>
    internal static int Check(int status, string what)
    {
        if (status == 0) return 0;
        // cublasStatus_t's names, for a message a user can search for.
        string name = status switch
        {
            1 => "CUBLAS_STATUS_NOT_INITIALIZED", 3 => "CUBLAS_STATUS_ALLOC_FAILED", 7 => "CUBLAS_STATUS_INVALID_VALUE",
            8 => "CUBLAS_STATUS_ARCH_MISMATCH", 11 => "CUBLAS_STATUS_MAPPING_ERROR", 13 => "CUBLAS_STATUS_EXECUTION_FAILED",
            14 => "CUBLAS_STATUS_INTERNAL_ERROR", 15 => "CUBLAS_STATUS_NOT_SUPPORTED", 16 => "CUBLAS_STATUS_LICENSE_ERROR",
            _ => $"status {status}",
        };
        throw new GpuFailureException($"{what} failed: {name}");
    }

    /// <summary>Row-major C[m×n] (=|+=) op(A)·op(B) on device pointers.</summary>
    public void Gemm(bool transA, bool transB, int m, int n, int k, IntPtr a, int lda, IntPtr b, int ldb, IntPtr c, int ldc, bool accumulate)
    {
        float alpha = 1f, beta = accumulate ? 1f : 0f;
        Check(_sgemm(_handle, transB ? OpT : OpN, transA ? OpT : OpN, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc), "cublasSgemm");
    }

    public void Dispose()
    {
        _destroy(_handle);
    }
}
