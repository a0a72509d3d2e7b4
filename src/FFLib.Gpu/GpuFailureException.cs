namespace FFLib.Gpu;

/// <summary>The GPU failed during work (out of memory, a cuBLAS or driver error): the message says what was being done.</summary>
public sealed class GpuFailureException : Exception
{
    /// <summary>With what failed.</summary>
    public GpuFailureException(string message) : base(message) { }

    /// <summary>With what failed and the underlying error.</summary>
    public GpuFailureException(string message, Exception inner) : base(message, inner) { }
}
