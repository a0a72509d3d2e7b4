namespace FFLib.Compute;

/// <summary>
/// A block of float32 memory owned by a <see cref="ComputeBackend"/>: a host array on the CPU,
/// device memory on an accelerator. Models keep their working buffers in these so that the same
/// model code runs on any backend.
/// </summary>
public abstract class DeviceArray
{
    /// <summary>An array of <paramref name="length"/> floats on <paramref name="backend"/>.</summary>
    protected DeviceArray(ComputeBackend backend, int length)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Backend = backend;
        Length = length;
    }

    /// <summary>The backend that owns the memory.</summary>
    public ComputeBackend Backend { get; }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    /// <summary>The whole array as a span.</summary>
    public DeviceSpan All => new(this, 0, Length);

    /// <summary>The floats [offset, offset + length).</summary>
    public DeviceSpan Slice(int offset, int length) => All.Slice(offset, length);

    /// <summary>
    /// Frees device memory now rather than when the collector gets to it (it does not see device
    /// memory): for large arrays replaced during a run. The array must not be used afterwards.
    /// Host arrays have nothing to free.
    /// </summary>
    public virtual void Release() { }
}

/// <summary>A range of a <see cref="DeviceArray"/> (what backend operations take, like Span for host memory).</summary>
public readonly struct DeviceSpan
{
    /// <summary>The range [offset, offset + length) of <paramref name="array"/>.</summary>
    public DeviceSpan(DeviceArray array, int offset, int length)
    {
        ArgumentNullException.ThrowIfNull(array);
        if ((uint)offset > (uint)array.Length || (uint)length > (uint)(array.Length - offset))
            throw new ArgumentOutOfRangeException(nameof(length), $"[{offset}, {offset + (long)length}) is outside the array of {array.Length}.");
        Array = array;
        Offset = offset;
        Length = length;
    }

    /// <summary>The underlying array.</summary>
    public DeviceArray Array { get; }

    /// <summary>First float of the range.</summary>
    public int Offset { get; }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    /// <summary>A sub-range.</summary>
    public DeviceSpan Slice(int offset, int length)
    {
        if ((uint)offset > (uint)Length || (uint)length > (uint)(Length - offset))
            throw new ArgumentOutOfRangeException(nameof(length), $"[{offset}, {offset + (long)length}) is outside the span of {Length}.");
        return new(Array, Offset + offset, length);
    }

    /// <summary>From <paramref name="offset"/> to the end.</summary>
    public DeviceSpan Slice(int offset) => Slice(offset, Length - offset);
}
