namespace FFLib.Gpu;

/// <summary>Counts of a <see cref="GpuBackend"/>'s work (see <see cref="GpuBackend.Activity"/>).</summary>
/// <param name="Launches">Kernel launches (ILGPU kernels, not counting products).</param>
/// <param name="Products">Matrix products (cuBLAS calls on a GPU).</param>
/// <param name="Uploads">Host-to-device copies.</param>
/// <param name="Downloads">Device-to-host copies.</param>
/// <param name="Waits">Times the host waited for the device to finish its queued work.</param>
public readonly record struct GpuActivity(long Launches, long Products, long Uploads, long Downloads, long Waits)
{
    /// <summary>The work done between two readings.</summary>
    public static GpuActivity operator -(GpuActivity later, GpuActivity earlier) =>
        new(later.Launches - earlier.Launches, later.Products - earlier.Products, later.Uploads - earlier.Uploads, later.Downloads - earlier.Downloads, later.Waits - earlier.Waits);
}
