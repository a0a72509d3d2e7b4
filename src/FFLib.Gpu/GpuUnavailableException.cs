namespace FFLib.Gpu;

/// <summary>No usable GPU: the message says why (no driver, no device, no cuBLAS).</summary>
public sealed class GpuUnavailableException : Exception
{
    /// <summary>With a reason.</summary>
    public GpuUnavailableException(string message) : base(message) { }

    /// <summary>With a reason and the underlying error.</summary>
    public GpuUnavailableException(string message, Exception inner) : base(message, inner) { }
}
