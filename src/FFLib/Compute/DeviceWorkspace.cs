namespace FFLib.Compute;

/// <summary>
/// Buffers a model keeps on its backend between calls (a training batch's, a prediction chunk's),
/// all made through <see cref="Allocate"/> so that <see cref="Release"/> frees them together: when
/// a larger workspace replaces this one, when a call's temporary one is done, and when the model
/// leaves its device (<see cref="Modules.ComputeModule.ReleaseDeviceMemory"/>). Device memory is
/// invisible to the .NET collector: arrays that were merely dropped are freed only when a
/// collection happens to run, and a GPU sweep can fill the device long before one does.
/// </summary>
internal abstract class DeviceWorkspace(ComputeBackend backend)
{
    private readonly List<DeviceArray> _arrays = [];

    /// <summary>The backend the buffers live on.</summary>
    public ComputeBackend Backend { get; } = backend;

    /// <summary>The call's images on the backend (a device copies them here; the CPU reads them in place).</summary>
    public DeviceArray? ImageStaging;

    /// <summary>The call's class labels as floats on the backend.</summary>
    public DeviceArray? LabelStaging;

    /// <summary>A zeroed array that lives as long as the workspace.</summary>
    public DeviceArray Allocate(int length)
    {
        var a = Backend.Allocate(length);
        _arrays.Add(a);
        return a;
    }

    /// <summary>A copy of <paramref name="host"/> that lives as long as the workspace.</summary>
    public DeviceArray Attach(float[] host)
    {
        var a = Backend.Attach(host);
        _arrays.Add(a);
        return a;
    }

    /// <summary>Makes <paramref name="array"/> hold at least <paramref name="length"/> floats: kept when it does, else freed and replaced by a zeroed one.</summary>
    public void Grow([System.Diagnostics.CodeAnalysis.NotNull] ref DeviceArray? array, int length)
    {
        if (array is not null && array.Length >= length) return;
        Free(array);
        array = Allocate(length);
    }

    /// <summary>Frees one of the workspace's arrays before the rest (null: nothing).</summary>
    public void Free(DeviceArray? array)
    {
        if (array is null) return;
        _arrays.Remove(array);
        array.Release();
    }

    /// <summary>The first <paramref name="length"/> floats of <paramref name="host"/> on the backend, through <see cref="ImageStaging"/>.</summary>
    public DeviceSpan StageImages(float[] host, int length) => Backend.Stage(host, length, ref ImageStaging);

    /// <summary><paramref name="labels"/> as floats on the backend, through <see cref="LabelStaging"/>.</summary>
    public DeviceSpan StageLabels(ReadOnlySpan<int> labels) => Backend.StageLabels(labels, ref LabelStaging);

    /// <summary>Frees every buffer now (nothing to free on the CPU). The workspace must not be used afterwards.</summary>
    public virtual void Release()
    {
        foreach (var a in _arrays) a.Release();
        _arrays.Clear();
        ImageStaging?.Release();
        LabelStaging?.Release();
        (ImageStaging, LabelStaging) = (null, null);
    }

    /// <summary>Puts <paramref name="workspace"/> back in <paramref name="slot"/>, freeing whatever it displaces (an outgrown one, or a concurrent caller's).</summary>
    public static void Keep<T>(ref T? slot, T workspace) where T : DeviceWorkspace
    {
        var old = Interlocked.Exchange(ref slot, workspace);
        if (old is not null && !ReferenceEquals(old, workspace)) old.Release();
    }

    /// <summary>Takes the workspace out of <paramref name="slot"/> if <paramref name="fits"/> says it is large enough; frees it otherwise (the caller makes a larger one). Null when there is none to take.</summary>
    public static T? Take<T>(ref T? slot, Func<T, bool> fits) where T : DeviceWorkspace
    {
        var kept = Interlocked.Exchange(ref slot, null);
        if (kept is null || fits(kept)) return kept;
        kept.Release();
        return null;
    }

    /// <summary>Empties <paramref name="slot"/> and frees what it held.</summary>
    public static void Free<T>(ref T? slot) where T : DeviceWorkspace => Interlocked.Exchange(ref slot, null)?.Release();
}
