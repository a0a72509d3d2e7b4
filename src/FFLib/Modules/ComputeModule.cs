using System.Runtime.CompilerServices;
using FFLib.Compute;

namespace FFLib.Modules;

/// <summary>
/// A model that computes through a <see cref="ComputeBackend"/>: it holds the backend and the
/// backend's copies of its host arrays (parameters, optimiser moments, gradients), made on first
/// use. On the CPU those copies are the arrays themselves; on a device,
/// <see cref="SynchronizeToHost"/> brings the host arrays up to date (saving, analysis and
/// pruning read them), and changing <see cref="Backend"/> does so first.
/// </summary>
public abstract class ComputeModule : Module
{
    private ComputeBackend _backend = ComputeBackend.Cpu;
    private ConditionalWeakTable<float[], DeviceArray> _device = [];

    /// <summary>Where the arithmetic runs (default <see cref="ComputeBackend.Cpu"/>).</summary>
    public ComputeBackend Backend
    {
        get => _backend;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value == _backend) return;
            SynchronizeToHost();
            _backend = value;
            _device = [];
            OnBackendChanged();
        }
    }

    /// <summary>Copies everything the backend holds for this model back into the host arrays (nothing to do on the CPU).</summary>
    public virtual void SynchronizeToHost()
    {
        foreach (var (host, device) in _device) _backend.SyncToHost(device, host);
        foreach (var o in OptimizersToSync()) o.SyncToHost();
    }

    /// <summary>The host arrays <see cref="Module.Parameters"/> hands out are current: on a device, they are copied back first.</summary>
    protected override void BeforeParametersRead()
    {
        if (_backend != ComputeBackend.Cpu) SynchronizeToHost();
    }

    /// <summary>The backend's copy of a host array this model owns (made at first use, then kept).</summary>
    internal DeviceSpan Device(float[] host) => _device.GetValue(host, h => _backend.Attach(h)).All;

    /// <summary>Sees every optimiser step before it is taken (tests, diagnostics); it does not change the code path training takes.</summary>
    internal Action<Models.TrainingStep>? StepObserver { get; set; }

    /// <summary>Drops the buffers and workspaces made for the previous backend.</summary>
    protected virtual void OnBackendChanged() { }

    /// <summary>The optimisers whose moments may live on the backend.</summary>
    internal virtual IEnumerable<Optim.AdamOptimizer> OptimizersToSync() => [];
}
