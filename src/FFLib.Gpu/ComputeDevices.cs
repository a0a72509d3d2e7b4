using FFLib.Compute;

namespace FFLib.Gpu;

/// <summary>Compute backends by the names the command line uses: "cpu" and "cuda" (optionally "cuda:N").</summary>
public static class ComputeDevices
{
    /// <summary>The names <see cref="Open"/> accepts.</summary>
    public const string Names = "cpu, cuda (or cuda:N for device N)";

    /// <summary>
    /// The backend called <paramref name="name"/>. Throws <see cref="ArgumentException"/> for an
    /// unknown name and <see cref="GpuUnavailableException"/> when CUDA cannot be used here.
    /// </summary>
    public static ComputeBackend Open(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim().ToLowerInvariant();
        if (key == "cpu") return ComputeBackend.Cpu;
        if (key == "cuda") return GpuBackend.CreateCuda();
        if (key.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(key.AsSpan(5), out int index) && index >= 0) return GpuBackend.CreateCuda(index);
        throw new ArgumentException($"Unknown device '{name}'. Known: {Names}.");
    }
}
