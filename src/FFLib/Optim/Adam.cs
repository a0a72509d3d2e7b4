using System.Diagnostics;
using System.Numerics.Tensors;
using FFLib.Compute;

namespace FFLib.Optim;

/// <summary>Adam hyper-parameters (PyTorch defaults apart from the learning rate).</summary>
/// <param name="LearningRate">Step size (0.02 for FF layers in the paper's Table 1).</param>
/// <param name="Beta1">First-moment decay.</param>
/// <param name="Beta2">Second-moment decay.</param>
/// <param name="Epsilon">Added to the denominator.</param>
public sealed record AdamSettings(float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f)
{
    internal void Validate()
    {
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "Beta1 must be in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "Beta2 must be in [0, 1).");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "Epsilon must be non-negative.");
    }
}

/// <summary>
/// Adam over a fixed list of parameter arrays, numerically identical in formula to
/// torch.optim.Adam (bias-corrected, no weight decay). Holds the moment estimates and the step count.
/// </summary>
public sealed class AdamOptimizer
{
    private readonly float[][] _parameters;
    private readonly float[][] _m;
    private readonly float[][] _v;

    /// <summary>Creates an optimiser for the given parameter arrays (updated in place).</summary>
    public AdamOptimizer(AdamSettings settings, params float[][] parameters)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Settings = settings;
        _parameters = parameters;
        _m = parameters.Select(p => new float[p.Length]).ToArray();
        _v = parameters.Select(p => new float[p.Length]).ToArray();
    }

    /// <summary>The hyper-parameters; the learning rate may be changed between steps.</summary>
    public AdamSettings Settings { get; set; }

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
        StepCount++;
        _quietRows = null; // a dense step may wake any row; the next row-sparse step rescans
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (gradients[i].Length != _parameters[i].Length)
                throw new ArgumentException($"Gradient {i} has {gradients[i].Length} elements but its parameter has {_parameters[i].Length}.", nameof(gradients));
            Kernels.AdamStep(_parameters[i], gradients[i], _m[i], _v[i],
                Settings.LearningRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount, ComputeSettings.Threads);
        }
    }

    private (ComputeBackend Backend, DeviceArray[] M, DeviceArray[] V, DeviceSpan[] MAll, DeviceSpan[] VAll)? _device;

    /// <summary>
    /// As <see cref="Step(IReadOnlyList{float[]})"/> on <paramref name="backend"/>: <paramref name="parameters"/> are this
    /// optimiser's parameters as the backend holds them (in order; a model's
    /// <see cref="Modules.ComputeModule.Device"/> copies), <paramref name="gradients"/> their
    /// gradients there. The moments move to the backend at the first such step (the CPU shares
    /// them); the model's <see cref="Modules.ComputeModule.SynchronizeToHost"/> brings them back when
    /// the model lists this optimiser in its OptimizersToSync. Same arithmetic as <see cref="Step(IReadOnlyList{float[]})"/>.
    /// </summary>
    public void Step(ComputeBackend backend, IReadOnlyList<DeviceSpan> parameters, IReadOnlyList<DeviceSpan> gradients)
    {
        if (parameters.Count != _parameters.Length || gradients.Count != _parameters.Length)
            throw new ArgumentException($"Got {parameters.Count} parameters and {gradients.Count} gradients for an optimiser of {_parameters.Length}.");
        for (int i = 0; i < _parameters.Length; i++)
            if (parameters[i].Length != _parameters[i].Length || gradients[i].Length != _parameters[i].Length)
                throw new ArgumentException($"Parameter {i} has {_parameters[i].Length} elements; got {parameters[i].Length} and a gradient of {gradients[i].Length}.");
        if (_device is not { } d || d.Backend != backend)
        {
            var (m, v) = (_m.Select(backend.Attach).ToArray(), _v.Select(backend.Attach).ToArray());
            _device = d = (backend, m, v, m.Select(a => a.All).ToArray(), v.Select(a => a.All).ToArray());
        }
        StepCount++;
        _quietRows = null; // a dense step may wake any row
        // All of the optimiser's parameters in one call: a device updates a layer's in one launch.
        backend.AdamSteps(parameters, gradients, d.MAll, d.VAll, Settings.LearningRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount);
    }

    /// <summary>Brings moments held by a device backend back into the host arrays (before a checkpoint).</summary>
    internal void SyncToHost()
    {
        if (_device is not { } d) return;
        for (int i = 0; i < _m.Length; i++)
        {
            d.Backend.SyncToHost(d.M[i], _m[i]);
            d.Backend.SyncToHost(d.V[i], _v[i]);
        }
    }

    /// <summary>Frees the backend's copies of the moments (after <see cref="SyncToHost"/>; the next device step copies them again).</summary>
    internal void ReleaseDevice()
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
        var c = new Kernels.AdamConstants(Settings.LearningRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount);
        _quietRows ??= new bool[]?[_parameters.Length];
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (!sparseIndices.Contains(i))
            {
                _quietRows[i] = null; // a dense step may wake any row
                Kernels.AdamStep(_parameters[i], gradients[i], _m[i], _v[i],
                    Settings.LearningRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount, ComputeSettings.Threads);
            }
        }
        if (_rowSlot is null || _rowSlot.Length != rows) _rowSlot = new int[rows];
        Array.Fill(_rowSlot, -1);
        for (int i = 0; i < activeRows.Length; i++) _rowSlot[activeRows[i]] = i;
        // With ε = 0 a zero step is 0/0: nothing may be skipped.
        bool skipQuiet = Settings.Epsilon > 0;
        foreach (int index in sparseIndices)
        {
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
        _device = null; // a device backend uploads the restored moments at its next step
        StepCount = stepCount;
        _quietRows = null;
    }
}
