using FFLib.Compute;

namespace FFLib.Gpu;

/// <summary>Compute backends by the names the command line uses: "cpu" and "cuda" (optionally "cuda:N").</summary>
public static class ComputeDevices
{
    /// <summary>The names <see cref="Open"/> accepts.</summary>
    public const string Names = "cpu, cuda (or cuda:N for device N)";

    /// <summary>
    /// The backend called <paramref name="name"/>, its products in <paramref name="precision"/>.
    /// Throws <see cref="ArgumentException"/> for an unknown name or TF32 on the CPU, and
    /// <see cref="GpuUnavailableException"/> when CUDA cannot be used here.
    /// </summary>
    public static ComputeBackend Open(string name, GpuPrecision precision = GpuPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim().ToLowerInvariant();
        if (key == "cpu")
            return precision == GpuPrecision.Float32 ? ComputeBackend.Cpu
                : throw new ArgumentException("TF32 is a GPU's tensor-core arithmetic; the CPU computes in fp32 (use --device cuda).", nameof(precision));
        if (key == "cuda") return GpuBackend.CreateCuda(0, precision);
        if (key.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(key.AsSpan(5), out int index) && index >= 0) return GpuBackend.CreateCuda(index, precision);
        throw new ArgumentException($"Unknown device '{name}'. Known: {Names}.");
    }
}
