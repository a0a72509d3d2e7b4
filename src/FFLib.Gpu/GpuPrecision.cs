namespace FFLib.Gpu;

/// <summary>The arithmetic of a <see cref="GpuBackend"/>'s matrix products.</summary>
public enum GpuPrecision
{
    /// <summary>Full float32, as on the CPU (PyTorch's default for matmul on CUDA too). The default.</summary>
    Float32,

    /// <summary>TF32 tensor cores: inputs rounded to 10 mantissa bits, float32 accumulation; faster products, results ~1e-3 relative from float32.</summary>
    Tf32,
}
