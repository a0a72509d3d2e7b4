using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// Named working arrays a CNN keeps on its backend between calls, each grown to the largest size
/// asked for and freed together (<see cref="Release"/>: device memory is not the collector's to free).
/// </summary>
internal sealed class ConvBuffers(ComputeBackend backend)
{
    private readonly Dictionary<string, DeviceArray> _arrays = [];

    public ComputeBackend Backend { get; } = backend;

    /// <summary>The first <paramref name="length"/> floats of the array called <paramref name="name"/> (contents kept while it does not grow).</summary>
    public DeviceSpan Get(string name, int length)
    {
        if (!_arrays.TryGetValue(name, out var a) || a.Length < length)
        {
            a?.Release();
            _arrays[name] = a = Backend.Allocate(Math.Max(1, length));
        }
        return a.Slice(0, length);
    }

    /// <summary>Uploads host values into the array called <paramref name="name"/>.</summary>
    public DeviceSpan Upload(string name, ReadOnlySpan<float> values)
    {
        var s = Get(name, values.Length);
        Backend.Write(values, s);
        return s;
    }

    public void Release()
    {
        foreach (var a in _arrays.Values) a.Release();
        _arrays.Clear();
    }
}
