using FFLib.Compute;

namespace FFLib.Modules;

/// <summary>
/// A parameter tensor as the module that declares it owns it (see <see cref="Module.LocalParameters"/>),
/// named relative to that module, with all of its state in one place (llm.c's parameter table):
/// the value, the gradient, Adam's two moments, and the backend's copies of those. Optimisers,
/// device synchronisation and release, and checkpoints loop over a model's parameters and find
/// everything here; a module creates each of its parameters once and returns the same objects.
/// </summary>
public sealed class LocalParameter
{
    private readonly Lock _lock = new();
    private float[]? _gradient, _firstMoment, _secondMoment;
    private ComputeBackend? _backend;
    private DeviceArray? _value, _deviceGradient, _deviceFirst, _deviceSecond;

    /// <summary>A parameter over <paramref name="data"/> (the live array, not a copy).</summary>
    /// <param name="name">Local name, e.g. "weight".</param>
    /// <param name="kind">Analysis label, e.g. "weight", "forward".</param>
    /// <param name="shape">Row-major shape; its product is the data's length.</param>
    /// <param name="data">The values, updated in place by training.</param>
    /// <param name="trainable">Whether optimisers update it.</param>
    public LocalParameter(string name, string kind, int[] shape, float[] data, bool trainable = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != data.Length) throw new ArgumentException($"Parameter '{name}' has shape [{string.Join(", ", shape)}] ({count} values) but {data.Length} values.", nameof(data));
        (Name, Kind, Shape, Data, Trainable) = (name, kind, shape, data, trainable);
    }

    /// <summary>Local name, e.g. "weight".</summary>
    public string Name { get; }

    /// <summary>Analysis label, e.g. "weight", "forward".</summary>
    public string Kind { get; }

    /// <summary>Row-major shape.</summary>
    public int[] Shape { get; }

    /// <summary>The values (the live array).</summary>
    public float[] Data { get; }

    /// <summary>Whether optimisers update it.</summary>
    public bool Trainable { get; }

    /// <summary>
    /// The training step's gradient buffer (same length; made at first use). Working memory, not a
    /// record: on the CPU's dead-neuron shortcut it holds only the active neurons' rows, packed
    /// first; the models' step observer sees the full gradient.
    /// </summary>
    internal float[] Gradient => _gradient ?? Init(ref _gradient);

    /// <summary>Adam's first-moment estimate (made at first use; an optimiser built over this parameter updates it).</summary>
    public float[] FirstMoment => _firstMoment ?? Init(ref _firstMoment);

    /// <summary>Adam's second-moment estimate.</summary>
    public float[] SecondMoment => _secondMoment ?? Init(ref _secondMoment);

    private float[] Init(ref float[]? field)
    {
        lock (_lock) return field ??= new float[Data.Length];
    }

    /// <summary>The value on <paramref name="backend"/> (the CPU shares <see cref="Data"/>; a device copies it at first use and keeps it).</summary>
    internal DeviceSpan DeviceValue(ComputeBackend backend) => OnDevice(backend, ref _value, Data);

    /// <summary>The gradient on <paramref name="backend"/>.</summary>
    internal DeviceSpan DeviceGradient(ComputeBackend backend) => OnDevice(backend, ref _deviceGradient, Gradient);

    /// <summary>Adam's moments on <paramref name="backend"/>.</summary>
    internal (DeviceSpan First, DeviceSpan Second) DeviceMoments(ComputeBackend backend) =>
        (OnDevice(backend, ref _deviceFirst, FirstMoment), OnDevice(backend, ref _deviceSecond, SecondMoment));

    private DeviceSpan OnDevice(ComputeBackend backend, ref DeviceArray? field, float[] host)
    {
        if (field is { } ready && ReferenceEquals(_backend, backend)) return ready.All;
        lock (_lock)
        {
            if (_backend is not null && !ReferenceEquals(_backend, backend))
                throw new InvalidOperationException($"Parameter '{Name}' has copies on the {_backend.Name} backend; release them before using {backend.Name}.");
            _backend = backend;
            return (field ??= backend.Attach(host)).All;
        }
    }

    /// <summary>Whether a backend holds copies of this parameter's arrays (tests: a released model holds none).</summary>
    internal bool HasDeviceCopies => _backend is not null;

    /// <summary>Copies whatever a device holds of this parameter (value, gradient, moments) back into the host arrays.</summary>
    internal void SynchronizeToHost()
    {
        if (_backend is not { } be) return;
        if (_value is { } v) be.SyncToHost(v, Data);
        if (_deviceGradient is { } g) be.SyncToHost(g, Gradient);
        if (_deviceFirst is { } m) be.SyncToHost(m, FirstMoment);
        if (_deviceSecond is { } s) be.SyncToHost(s, SecondMoment);
    }

    /// <summary>Frees the backend's copies (the host arrays are not brought up to date: call <see cref="SynchronizeToHost"/> first to keep them).</summary>
    internal void ReleaseDevice()
    {
        lock (_lock)
        {
            foreach (var a in new[] { _value, _deviceGradient, _deviceFirst, _deviceSecond }) a?.Release();
            (_value, _deviceGradient, _deviceFirst, _deviceSecond, _backend) = (null, null, null, null, null);
        }
    }

    /// <summary>Frees only the device's copies of the moments (after a restore wrote new ones on the host: the next device step uploads them).</summary>
    internal void ReleaseDeviceMoments()
    {
        lock (_lock)
        {
            _deviceFirst?.Release();
            _deviceSecond?.Release();
            (_deviceFirst, _deviceSecond) = (null, null);
        }
    }
}
