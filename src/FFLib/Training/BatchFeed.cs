using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;
using FFLib.Modules;

namespace FFLib.Training;

/// <summary>
/// Hands a model its training batches and collects their losses for the <see cref="Trainer"/>, so
/// that a device never waits for the host within an epoch:
/// <list type="bullet">
/// <item>the training set is copied to the device once per run and each batch gathered there from
/// the epoch's order (uploaded once per epoch) — no per-batch image copies (random and inverse
/// negatives; hard negatives score the batch on the host, so their batches are staged);</item>
/// <item>each step's losses stay on the device and are read every
/// <see cref="DeviceLossReadInterval"/> batches in one copy (the CPU: every batch).</item>
/// </list>
/// Models that are not <see cref="IDeviceTrainable"/> (e.g. one written outside the library) get
/// the public <see cref="ITrainableModel.TrainBatch"/>, one batch at a time.
/// </summary>
internal sealed class BatchFeed
{
    /// <summary>Most floats of a training set copied to the device (4 GiB); larger sets are staged per batch.</summary>
    private const long MaxResidentFloats = 1L << 30;

    private readonly ITrainableModel _model;
    private readonly IDeviceTrainable? _device;
    private readonly ComputeBackend? _backend;
    private readonly int _features, _interval;
    private readonly DeviceArray? _images, _order, _batch;
    private readonly List<float[]> _hostLosses = [];
    private DeviceArray? _window, _staging;
    private TrainingPhase _phase;
    private int _pending, _recordLength, _lossCount;

    /// <summary>
    /// Batches whose losses are left on a device before they are read in one go (trainer policy, not
    /// the backend's): a device would otherwise stop after every batch to hand them back. A backend
    /// computing in host memory has them at once: each batch's is read.
    /// </summary>
    internal const int DeviceLossReadInterval = 64;

    /// <summary>A feed for one run; <paramref name="resident"/>: whether to keep the training set on the backend (null: where the backend is not host memory).</summary>
    public BatchFeed(ITrainableModel model, ImageDataset train, int batchSize, NegativeMode negatives, bool? resident)
    {
        _model = model;
        _features = model.ImageFeatures;
        if (model is IDeviceTrainable device && model is ComputeModule { Backend: var backend })
        {
            (_device, _backend) = (device, backend);
            _interval = backend.SharesHostMemory ? 1 : DeviceLossReadInterval;
            bool wanted = resident ?? !backend.SharesHostMemory;
            // Indices travel as floats (exact below 2^24); hard negatives need the batch on the host anyway.
            Resident = wanted && negatives is NegativeMode.Random or NegativeMode.Inverse
                && (long)train.Count * _features <= MaxResidentFloats && train.Count < 1 << 24;
            if (Resident)
            {
                _images = ResidentImages(train, backend);
                _order = backend.Allocate(train.Count);
                _batch = backend.Allocate(batchSize * _features);
            }
        }
    }

    // One resident training set per backend, kept across Train calls on the same ImageDataset (a
    // benchmark's epochs upload it once); a different dataset (each sweep run loads its own) replaces
    // it and frees the old copy at once, so a long sweep never holds more than one per backend.
    private sealed record ResidentSet(WeakReference<ImageDataset> Dataset, DeviceArray Images);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ComputeBackend, ResidentSet> Copies = new();
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ComputeBackend, object> Subscribed = new();

    private static DeviceArray ResidentImages(ImageDataset train, ComputeBackend backend)
    {
        lock (Copies)
        {
            if (Copies.TryGetValue(backend, out var kept))
            {
                if (kept.Dataset.TryGetTarget(out var dataset) && ReferenceEquals(dataset, train)) return kept.Images;
                Copies.Remove(backend);
                kept.Images.Release();
            }
            var all = new float[train.Count * train.Features];
            var everyImage = new int[train.Count];
            for (int i = 0; i < everyImage.Length; i++) everyImage[i] = i;
            train.CopyImages(everyImage, all);
            var copy = backend.Attach(all);
            // The first set on this backend: freed with it when it is disposed.
            if (!Subscribed.TryGetValue(backend, out _))
            {
                backend.Disposing += Forget;
                Subscribed.Add(backend, new object());
            }
            Copies.AddOrUpdate(backend, new ResidentSet(new WeakReference<ImageDataset>(train), copy));
            return copy;
        }
    }

    /// <summary>Frees the training set left resident on <paramref name="backend"/> (the backend is being disposed).</summary>
    internal static void Forget(ComputeBackend backend)
    {
        lock (Copies)
        {
            if (!Copies.TryGetValue(backend, out var kept)) return;
            Copies.Remove(backend);
            kept.Images.Release();
        }
    }

    /// <summary>Frees the feed's own device buffers (the epoch order, the gathered batch, the loss window, staging) at the end of a Train call; the resident set stays for the next call.</summary>
    public void Release()
    {
        foreach (var a in new[] { _order, _batch, _window, _staging }) a?.Release();
        (_window, _staging) = (null, null);
    }

    /// <summary>Batches are gathered on the device from the resident training set; the host batch is not read.</summary>
    public bool Resident { get; }

    /// <summary>Enough steps are waiting: <see cref="Drain"/> now.</summary>
    public bool Full => _device is null || _pending >= _interval;

    /// <summary>The epoch's phase and image order (uploaded once when resident). Call with nothing pending.</summary>
    public void BeginEpoch(TrainingPhase phase, int[] order)
    {
        if (_pending != 0 || _hostLosses.Count != 0) throw new InvalidOperationException("Losses of the previous epoch were not drained.");
        _phase = phase;
        _lossCount = _model.LossNames(phase).Count;
        if (_device is null) return;
        _recordLength = _device.LossRecordLength(phase);
        _backend!.Grow(ref _window, _interval * _recordLength); // a phase may have longer loss records (nothing is pending)
        if (Resident)
        {
            var asFloats = new float[order.Length];
            for (int i = 0; i < order.Length; i++) asFloats[i] = order[i];
            _backend!.Write(asFloats, _order!.All);
        }
    }

    /// <summary>
    /// Queues one step on images order[start, start + labels.Length) (<paramref name="hostBatch"/>
    /// holds them unless <see cref="Resident"/>).
    /// </summary>
    public void Step(int start, Matrix hostBatch, ReadOnlySpan<int> labels, Matrix negativeControl)
    {
        int count = labels.Length;
        if (_device is null)
        {
            _hostLosses.Add(_model.TrainBatch(hostBatch, labels, negativeControl, _phase));
            return;
        }
        var be = _backend!;
        DeviceSpan images;
        if (Resident)
        {
            images = _batch!.Slice(0, count * _features);
            be.GatherIndexed(_images!.All, _features, _order!.Slice(start, count), count, images);
        }
        else images = be.Stage(hostBatch.Data, count * _features, ref _staging);
        _device.TrainBatch(images, labels, negativeControl, _phase, _window!.Slice(_pending * _recordLength, _recordLength));
        _pending++;
    }

    /// <summary>The losses of the steps queued since the last call, in order (one read from a device).</summary>
    public IReadOnlyList<float[]> Drain()
    {
        if (_device is null)
        {
            var done = _hostLosses.ToArray();
            _hostLosses.Clear();
            return done;
        }
        if (_pending == 0) return [];
        var records = _backend!.Read(_window!.Slice(0, _pending * _recordLength));
        var result = new float[_pending][];
        for (int p = 0; p < _pending; p++)
        {
            result[p] = new float[_lossCount];
            _device.ReduceLosses(_phase, records.Slice(p * _recordLength, _recordLength), result[p]);
        }
        _pending = 0;
        return result;
    }
}
