using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// Named working arrays a CNN keeps on its backend between calls, each grown to the largest size
/// asked for and freed together (<see cref="Release"/>: device memory is not the collector's to free).
/// </summary>
internal sealed class ConvBuffers(ComputeBackend backend)
{
    private readonly Dictionary<string, DeviceArray> _arrays = [];
    private readonly HashSet<string> _constants = [];

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

    /// <summary>
    /// The array called <paramref name="name"/> holding <paramref name="make"/>'s <paramref name="length"/> values,
    /// made and uploaded on first use only: for values that depend on nothing but the model's shape.
    /// </summary>
    public DeviceSpan Constant(string name, int length, Func<float[]> make)
    {
        if (_constants.Contains(name) && _arrays.TryGetValue(name, out var a) && a.Length >= length) return a.Slice(0, length);
        var values = make();
        if (values.Length != length) throw new ArgumentException($"{name} has {values.Length} values, not {length}.", nameof(make));
        var span = Upload(name, values);
        _constants.Add(name);
        return span;
    }

    public void Release()
    {
        foreach (var a in _arrays.Values) a.Release();
        _arrays.Clear();
        _constants.Clear();
    }
}
