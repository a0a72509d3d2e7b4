namespace FFLib.Compute;

/// <summary>
/// Process-wide compute settings. The thread count decides how the matrix products are split;
/// results do not depend on it (each output element is always summed in the same order), but
/// training speed does.
/// </summary>
public static class ComputeSettings
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>Maximum number of threads the kernels use (default: all logical processors).</summary>
    public static int Threads
    {
        get => _threads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be at least 1.");
            _threads = value;
        }
    }

    /// <summary>The widest SIMD path the matrix product uses on this machine: "Vector512", "Vector256" or "Scalar".</summary>
    public static string SimdPath => Gemm.SimdPath;
}
