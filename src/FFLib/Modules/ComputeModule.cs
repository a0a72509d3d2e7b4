using System.Runtime.CompilerServices;
using FFLib.Compute;

namespace FFLib.Modules;

/// <summary>
/// A model that computes through a <see cref="ComputeBackend"/>: it holds the backend, and its
/// parameters (<see cref="LocalParameter"/>) hold the backend's copies of their value, gradient
/// and optimiser moments, made on first use (other host arrays the model attaches: see
/// <see cref="Device(float[])"/>). On the CPU those copies are the arrays themselves; on a device,
/// <see cref="SynchronizeToHost"/> brings the host arrays up to date (saving, analysis and
/// pruning read them), changing <see cref="Backend"/> does so first, and
/// <see cref="ReleaseDeviceMemory"/> frees the device's copies.
/// </summary>
public abstract class ComputeModule : Module
{
    private ComputeBackend _backend = ComputeBackend.Cpu;
    private ConditionalWeakTable<float[], DeviceArray> _device = [];

    /// <summary>
    /// Where the arithmetic runs (default <see cref="ComputeBackend.Cpu"/>). Setting another backend
    /// copies the model's state back to the host and frees what the old backend held for it.
    /// </summary>
    public ComputeBackend Backend
    {
        get => _backend;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value == _backend) return;
            ReleaseDeviceMemory();
            _backend = value;
            OnBackendChanged();
        }
    }

    /// <summary>
    /// Copies the model's state back into its host arrays, then frees everything its backend holds
    /// for it — the copies of its parameters, optimiser moments and gradients, and its workspaces —
    /// at once rather than when the .NET collector, which does not see device memory, gets to them.
    /// The model stays usable: its next call copies what it needs again. Call it when a model
    /// trained on a GPU is done with (a sweep frees each run's model this way); on the CPU only the
    /// cached workspaces are dropped. Not while another call is using the model.
    /// </summary>
    public void ReleaseDeviceMemory() => FreeDeviceMemory(keepState: true);

    /// <summary>
    /// As <see cref="ReleaseDeviceMemory"/> without copying anything back: for a model nobody uses
    /// again (a finished sweep run, a failed run), whose host arrays may be left stale.
    /// </summary>
    internal void DiscardDeviceMemory() => FreeDeviceMemory(keepState: false);

    /// <summary>Frees what the backend holds for the model, first copying its state to the host when <paramref name="keepState"/>; a model made of other modules frees theirs too.</summary>
    private protected virtual void FreeDeviceMemory(bool keepState)
    {
        if (keepState) SynchronizeToHost();
        foreach (var p in ParameterStates()) p.ReleaseDevice();
        foreach (var (_, device) in _device) device.Release();
        _device = [];
        ReleaseWorkspaces();
    }

    /// <summary>Copies everything the backend holds for this model (its parameters' values, gradients and moments, and any other attached array) back into the host arrays (nothing to do on the CPU).</summary>
    public virtual void SynchronizeToHost()
    {
        foreach (var p in ParameterStates()) p.SynchronizeToHost();
        foreach (var (host, device) in _device) _backend.SyncToHost(device, host);
    }

    /// <summary>The host arrays <see cref="Module.Parameters"/> hands out are current: on a device, they are copied back first.</summary>
    protected override void BeforeParametersRead()
    {
        if (_backend != ComputeBackend.Cpu) SynchronizeToHost();
    }

    /// <summary>A parameter's value on the model's backend (made at first use, then kept; the CPU shares the array itself).</summary>
    protected internal DeviceSpan Device(LocalParameter parameter) => parameter.DeviceValue(_backend);

    /// <summary>A parameter's gradient on the model's backend.</summary>
    protected internal DeviceSpan DeviceGradient(LocalParameter parameter) => parameter.DeviceGradient(_backend);

    /// <summary>
    /// The backend's copy of a host array the model owns that is not a parameter (made at first
    /// use, then kept): <see cref="SynchronizeToHost"/> copies it back, <see cref="ReleaseDeviceMemory"/> frees it.
    /// </summary>
    protected internal DeviceSpan Device(float[] host) => _device.GetValue(host, h =>
        ParameterStates().Any(p => ReferenceEquals(p.Data, h))
            ? throw new ArgumentException("The array is a parameter's value: use Device(LocalParameter), whose copy the optimiser and synchronisation share.", nameof(host))
            : _backend.Attach(h)).All;

    /// <summary>Sees every optimiser step before it is taken (tests, diagnostics); it does not change the code path training takes.</summary>
    internal Action<TrainingStep>? StepObserver { get; set; }

    /// <summary>
    /// Frees the workspaces the model keeps on its backend (<see cref="ReleaseDeviceMemory"/> and a
    /// change of <see cref="Backend"/> call it); the next call makes new ones. A model that keeps
    /// buffers of its own on the backend frees them here.
    /// </summary>
    protected virtual void ReleaseWorkspaces() { }

    /// <summary>The model now computes on a new <see cref="Backend"/> (its old one's memory is already freed): a model made of other modules hands the backend on.</summary>
    protected virtual void OnBackendChanged() { }
}
