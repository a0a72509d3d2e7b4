using System.Diagnostics;
using System.Numerics.Tensors;
using FFLib.Compute;
using FFLib.Modules;

namespace FFLib.Optim;

/// <summary>Adam hyper-parameters (PyTorch defaults apart from the learning rate).</summary>
/// <param name="LearningRate">Step size (0.02 for FF layers in the paper's Table 1).</param>
/// <param name="Beta1">First-moment decay.</param>
/// <param name="Beta2">Second-moment decay.</param>
/// <param name="Epsilon">Added to the denominator.</param>
/// <param name="WeightDecay">Decoupled weight decay λ (AdamW): before each step a decayed tensor is multiplied by
/// 1 − lr·λ, as torch.optim.AdamW does. An optimiser over a model's parameters decays its matrices (not biases
/// or other vectors); one over plain arrays decays every array. 0 (the default) leaves Adam unchanged.</param>
public sealed record AdamSettings(float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f, float WeightDecay = 0f)
{
    internal void Validate()
    {
        if (!(WeightDecay >= 0) || !float.IsFinite(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "The weight decay must be a finite number ≥ 0.");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "Beta1 must be in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "Beta2 must be in [0, 1).");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "Epsilon must be non-negative.");
    }
}

/// <summary>
/// Adam over a fixed list of parameters, numerically identical in formula to torch.optim.Adam
/// (bias-corrected; with <see cref="AdamSettings.WeightDecay"/> the decoupled decay of torch.optim.AdamW). Built over a model's parameters, it keeps its moment
/// estimates in them (<see cref="LocalParameter.FirstMoment"/>, on a device their copies there),
/// so the model's synchronisation, release and checkpoints find them; it holds the step count.
/// </summary>
public sealed class AdamOptimizer
{
    private readonly float[][] _parameters;
    private readonly float[][] _m;
    private readonly float[][] _v;
    private readonly LocalParameter[]? _states;

    /// <summary>
    /// Creates an optimiser for parameters of a model (their values updated in place; their moments
    /// set to zero: a new optimiser starts afresh, as PyTorch's does).
    /// </summary>
    public AdamOptimizer(AdamSettings settings, IEnumerable<Parameter> parameters)
        : this(settings, (parameters ?? throw new ArgumentNullException(nameof(parameters)))
            .Select(p => p.State ?? throw new ArgumentException($"Parameter '{p.Name}' was made by hand, not by a module: it has nowhere to keep its moments.", nameof(parameters))).ToArray())
    {
    }

    /// <summary>As the <see cref="Parameter"/> constructor, for a module's own <see cref="LocalParameter"/>s.</summary>
    public AdamOptimizer(AdamSettings settings, IReadOnlyList<LocalParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(parameters);
        settings.Validate();
        Settings = settings;
        _states = parameters.ToArray();
        _parameters = _states.Select(p => p.Data).ToArray();
        _m = _states.Select(p => p.FirstMoment).ToArray();
        _v = _states.Select(p => p.SecondMoment).ToArray();
        _decayed = _states.Select(p => p.Shape.Length >= 2).ToArray();
        foreach (var p in _states) p.ReleaseDeviceMoments();
        foreach (var a in _m.Concat(_v)) Array.Clear(a);
    }

    /// <summary>
    /// Creates an optimiser for plain arrays (updated in place); it keeps its own moments. On a
    /// device backend it keeps their copies itself: <see cref="SynchronizeToHost"/> and
    /// <see cref="ReleaseDeviceMemory"/> are then the caller's to call.
    /// </summary>
    public AdamOptimizer(AdamSettings settings, params float[][] parameters)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Settings = settings;
        _parameters = parameters;
        _m = parameters.Select(p => new float[p.Length]).ToArray();
        _v = parameters.Select(p => new float[p.Length]).ToArray();
        _decayed = parameters.Select(_ => true).ToArray();
    }

    private readonly bool[] _decayed;

    /// <summary>What parameter i is multiplied by before its step: 1 − lr·λ when it is decayed (AdamW), else 1.</summary>
    private float Keep(int i) => _decayed[i] && Settings.WeightDecay != 0 ? 1 - StepRate * Settings.WeightDecay : 1f;

    /// <summary>The hyper-parameters; the learning rate may be changed between steps.</summary>
    public AdamSettings Settings { get; set; }

    /// <summary>
    /// Factor on <see cref="AdamSettings.LearningRate"/> for the next steps (default 1): a learning-rate
    /// schedule sets it before each step (the <c>Trainer</c> does, from <see cref="Training.TrainingOptions.Schedule"/>)
    /// and leaves the base rate, which checkpoints record, alone. Decoupled weight decay scales with it, as in PyTorch.
    /// </summary>
    public float LearningRateScale
    {
        get => _scale;
        set => _scale = value >= 0 && float.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "The learning-rate scale must be a finite number ≥ 0.");
    }

    private float _scale = 1f;

    /// <summary>The rate of the next step: the base rate times the schedule's factor.</summary>
    private float StepRate => Settings.LearningRate * _scale;

    /// <summary>Number of steps taken so far (PyTorch's per-parameter "step").</summary>
    public int StepCount { get; private set; }

    /// <summary>Number of parameter arrays.</summary>
    public int ParameterCount => _parameters.Length;

    /// <summary>The parameter arrays it updates, in order (the live arrays: a model's <c>Parameters()</c> hold the same ones).</summary>
    public IReadOnlyList<float[]> ParameterArrays => _parameters;

    /// <summary>First-moment estimates, one array per parameter.</summary>
    public IReadOnlyList<float[]> FirstMoments => _m;

    /// <summary>Second-moment estimates, one array per parameter.</summary>
    public IReadOnlyList<float[]> SecondMoments => _v;

    /// <summary>Applies one step given one gradient array per parameter.</summary>
    public void Step(IReadOnlyList<float[]> gradients)
    {
        if (gradients.Count != _parameters.Length)
            throw new ArgumentException($"Got {gradients.Count} gradients for {_parameters.Length} parameters.", nameof(gradients));
        for (int i = 0; i < _parameters.Length; i++)
            if (gradients[i].Length != _parameters[i].Length)
                throw new ArgumentException($"Gradient {i} has {gradients[i].Length} elements but its parameter has {_parameters[i].Length}.", nameof(gradients));
        StepCount++;
        _quietRows = null; // a dense step may wake any row; the next row-sparse step rescans
        for (int i = 0; i < _parameters.Length; i++)
            Kernels.AdamStep(_parameters[i], gradients[i], _m[i], _v[i],
                StepRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount, ComputeSettings.Threads, Keep(i));
    }

    private (ComputeBackend Backend, DeviceArray[] M, DeviceArray[] V, DeviceSpan[] MAll, DeviceSpan[] VAll)? _device;

    /// <summary>
    /// As <see cref="Step(IReadOnlyList{float[]})"/> on <paramref name="backend"/>: <paramref name="parameters"/> are this
    /// optimiser's parameters as the backend holds them (in order; a model's
    /// <see cref="ComputeModule.Device(LocalParameter)"/> copies), <paramref name="gradients"/> their
    /// gradients there. The moments move to the backend at the first such step (the CPU shares
    /// them): into the parameters' state when built over parameters (the model synchronises and
    /// frees them), else kept here. Same arithmetic as <see cref="Step(IReadOnlyList{float[]})"/>.
    /// </summary>
    public void Step(ComputeBackend backend, IReadOnlyList<DeviceSpan> parameters, IReadOnlyList<DeviceSpan> gradients)
    {
        if (parameters.Count != _parameters.Length || gradients.Count != _parameters.Length)
            throw new ArgumentException($"Got {parameters.Count} parameters and {gradients.Count} gradients for an optimiser of {_parameters.Length}.");
        for (int i = 0; i < _parameters.Length; i++)
            if (parameters[i].Length != _parameters[i].Length || gradients[i].Length != _parameters[i].Length)
                throw new ArgumentException($"Parameter {i} has {_parameters[i].Length} elements; got {parameters[i].Length} and a gradient of {gradients[i].Length}.");
        IReadOnlyList<DeviceSpan> m, v;
        if (_states is not null)
        {
            var moments = _states.Select(p => p.DeviceMoments(backend)).ToArray();
            (m, v) = (moments.Select(x => x.First).ToArray(), moments.Select(x => x.Second).ToArray());
        }
        else
        {
            if (_device is not { } d || d.Backend != backend)
            {
                ReleaseDeviceMemory();
                var (dm, dv) = (_m.Select(backend.Attach).ToArray(), _v.Select(backend.Attach).ToArray());
                _device = d = (backend, dm, dv, dm.Select(a => a.All).ToArray(), dv.Select(a => a.All).ToArray());
            }
            (m, v) = (d.MAll, d.VAll);
        }
        StepCount++;
        _quietRows = null; // a dense step may wake any row
        // All of the optimiser's parameters in one call: a device updates a layer's in one launch.
        if (Settings.WeightDecay != 0)
            backend.AdamWSteps(parameters, gradients, m, v, StepRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount,
                1 - StepRate * Settings.WeightDecay, _decayed);
        else
            backend.AdamSteps(parameters, gradients, m, v, StepRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount);
    }

    /// <summary>
    /// Brings the moments a device backend holds back into <see cref="FirstMoments"/> and
    /// <see cref="SecondMoments"/> (an optimiser over plain arrays; one over a model's parameters is
    /// synchronised with the model).
    /// </summary>
    public void SynchronizeToHost()
    {
        if (_states is not null) { foreach (var p in _states) p.SynchronizeToHost(); return; }
        if (_device is not { } d) return;
        for (int i = 0; i < _m.Length; i++)
        {
            d.Backend.SyncToHost(d.M[i], _m[i]);
            d.Backend.SyncToHost(d.V[i], _v[i]);
        }
    }

    /// <summary>Frees a device backend's copies of the moments of an optimiser over plain arrays (after <see cref="SynchronizeToHost"/> to keep them; the next device step copies them again).</summary>
    public void ReleaseDeviceMemory()
    {
        if (_device is not { } d) return;
        foreach (var a in d.M.Concat(d.V)) a.Release();
        _device = null;
    }

    /// <summary>
    /// One step in which the parameters listed in <paramref name="sparseIndices"/>, matrices with
    /// <paramref name="rows"/> rows, have a zero gradient outside <paramref name="activeRows"/>
    /// (ascending): for those, <paramref name="gradients"/> holds the compact gradient, row i being
    /// the gradient of row activeRows[i]. The other parameters take dense gradients.
    /// Bit-identical to <see cref="Step(IReadOnlyList{float[]})"/> with the zero rows written out; rows whose moments are
    /// still all zero are skipped, since a zero gradient leaves them and their weights unchanged
    /// (FF layers keep many dead neurons: ~40% of a 2000-wide second layer on MNIST).
    /// </summary>
    internal unsafe void StepRowSparse(int rows, ReadOnlySpan<int> activeRows, IReadOnlyList<float[]> gradients, ReadOnlySpan<int> sparseIndices)
    {
        if (gradients.Count != _parameters.Length)
            throw new ArgumentException($"Got {gradients.Count} gradients for {_parameters.Length} parameters.", nameof(gradients));
        StepCount++;
        _quietRows ??= new bool[]?[_parameters.Length];
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (!sparseIndices.Contains(i))
            {
                _quietRows[i] = null; // a dense step may wake any row
                Kernels.AdamStep(_parameters[i], gradients[i], _m[i], _v[i],
                    StepRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount, ComputeSettings.Threads, Keep(i));
            }
        }
        if (_rowSlot is null || _rowSlot.Length != rows) _rowSlot = new int[rows];
        Array.Fill(_rowSlot, -1);
        for (int i = 0; i < activeRows.Length; i++) _rowSlot[activeRows[i]] = i;
        foreach (int index in sparseIndices)
        {
            // With ε = 0 a zero step is 0/0, and with weight decay a quiet row still decays: nothing may be skipped then.
            var c = new Kernels.AdamConstants(StepRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount, Keep(index));
            bool skipQuiet = Settings.Epsilon > 0 && c.Keep == 1f;
            var p = _parameters[index];
            int cols = p.Length / rows;
            Debug.Assert(p.Length == rows * cols && gradients[index].Length >= activeRows.Length * cols);
            // Which rows still have all-zero moments: found by scanning once (also after Restore or a dense step), then tracked.
            var quiet = _quietRows[index];
            if (quiet is null || quiet.Length != rows)
            {
                quiet = _quietRows[index] = new bool[rows];
                for (int j = 0; j < rows; j++)
                    quiet[j] = TensorPrimitives.MaxMagnitude(_m[index].AsSpan(j * cols, cols)) == 0
                        && TensorPrimitives.MaxMagnitude(_v[index].AsSpan(j * cols, cols)) == 0;
            }
            foreach (int j in activeRows) quiet[j] = false;
            if (_zeroRow is null || _zeroRow.Length < cols) _zeroRow = new float[cols];
            fixed (float* pp = p) fixed (float* pm = _m[index]) fixed (float* pv = _v[index]) fixed (float* pg = gradients[index]) fixed (float* pz = _zeroRow)
            {
                var job = new RowSparseJob(pp, pm, pv, pg, pz, cols, rows, _rowSlot, quiet, skipQuiet, c);
                int chunks = (rows + RowSparseJob.RowsPerChunk - 1) / RowSparseJob.RowsPerChunk;
                if (ComputeSettings.Threads > 1 && chunks > 1 && (long)rows * cols >= 1 << 16)
                    Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = ComputeSettings.Threads }, job.Run);
                else
                    for (int i = 0; i < chunks; i++) job.Run(i);
            }
        }
    }

    private bool[]?[]? _quietRows;
    private int[]? _rowSlot;
    private float[]? _zeroRow;

    private sealed unsafe class RowSparseJob(float* p, float* m, float* v, float* g, float* zero, int cols, int rows,
        int[] slot, bool[] quiet, bool skipQuiet, Kernels.AdamConstants c)
    {
        public const int RowsPerChunk = 16;

        public void Run(int chunk)
        {
            int end = Math.Min(rows, (chunk + 1) * RowsPerChunk);
            for (int j = chunk * RowsPerChunk; j < end; j++)
            {
                int s = slot[j];
                if (s < 0 && skipQuiet && quiet[j]) continue;
                long o = (long)j * cols;
                Kernels.AdamRange(p + o, s >= 0 ? g + (long)s * cols : zero, m + o, v + o, cols, c);
            }
        }
    }

    /// <summary>Restores moments and step count (for resuming training).</summary>
    public void Restore(int stepCount, IReadOnlyList<float[]> firstMoments, IReadOnlyList<float[]> secondMoments)
    {
        if (stepCount < 0) throw new ArgumentOutOfRangeException(nameof(stepCount));
        if (firstMoments.Count != _m.Length || secondMoments.Count != _v.Length)
            throw new ArgumentException("Moment lists do not match the parameter count.");
        for (int i = 0; i < _m.Length; i++)
        {
            if (firstMoments[i].Length != _m[i].Length || secondMoments[i].Length != _v[i].Length)
                throw new ArgumentException($"Moment {i} has the wrong length.");
            firstMoments[i].CopyTo(_m[i], 0);
            secondMoments[i].CopyTo(_v[i], 0);
        }
        // A device backend uploads the restored moments at its next step.
        ReleaseDeviceMemory();
        if (_states is not null) foreach (var p in _states) p.ReleaseDeviceMoments();
        StepCount = stepCount;
        _quietRows = null;
    }
}
