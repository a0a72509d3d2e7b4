using FFLib.Compute;
using FFLib.Modules;

namespace FFLib.Layers;

/// <summary>
/// The gradient of an FF layer's activity regularisers (peer normalisation and activity L1, see
/// <see cref="FFRegularization"/>) with respect to the layer's pre-activations, built from the compute
/// backend's public primitives only, so every backend runs it. It holds the layer's running mean
/// activities, training state saved in checkpoints (not in model files: prediction does not use them).
/// </summary>
public sealed class ActivityRegularizer
{
    /// <summary>
    /// A regulariser for a layer of <paramref name="units"/> units; the running means start at
    /// <see cref="FFRegularization.PeerInitialMean"/>, named <paramref name="name"/> among the model's buffers.
    /// </summary>
    public ActivityRegularizer(int units, FFRegularization settings, string name = "peer_running_mean")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(units, 1);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Units = units;
        Settings = settings;
        var mean = new float[units];
        Array.Fill(mean, FFRegularization.PeerInitialMean);
        RunningMean = new LocalParameter(name, "buffer", [units], mean, trainable: false);
    }

    /// <summary>
    /// One regulariser per layer of <paramref name="widths"/> units, named "layers.{i}.peer_running_mean", when
    /// <paramref name="settings"/> has an activity term (peer normalisation or activity L1); otherwise null.
    /// </summary>
    public static ActivityRegularizer[]? ForLayers(IEnumerable<int> widths, FFRegularization settings)
    {
        ArgumentNullException.ThrowIfNull(widths);
        ArgumentNullException.ThrowIfNull(settings);
        return settings.HasActivityTerms ? widths.Select((w, i) => new ActivityRegularizer(w, settings, $"layers.{i}.peer_running_mean")).ToArray() : null;
    }

    /// <summary>Units of the layer.</summary>
    public int Units { get; }

    /// <summary>The λs.</summary>
    public FFRegularization Settings { get; }

    /// <summary>Each unit's running mean activity over positive samples (used by peer normalisation).</summary>
    public LocalParameter RunningMean { get; }

    /// <summary>Floats of scratch space <see cref="Gradient"/> needs.</summary>
    public int ScratchLength => 3 * Units + 1;

    /// <summary>
    /// Writes into <paramref name="gradient"/> (rows × units) the regularisers' gradient with respect to the
    /// pre-activations z of the layer's activations <paramref name="h"/> = ReLU(z), positive samples in the
    /// first <paramref name="positives"/> rows, and moves the running means (on the backend:
    /// <paramref name="runningMean"/>) by this batch, once per call, as the reference does once per batch.
    /// Activity L1's gradient goes through the ReLU (∂/∂z); peer normalisation's passes straight through it
    /// (∂/∂h applied to z, as Hinton's reference code does), so that it reaches units that are off.
    /// </summary>
    public void Gradient(ComputeBackend backend, DeviceSpan h, int rows, int positives, DeviceSpan runningMean, DeviceSpan scratch, DeviceSpan gradient)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (positives < 1 || positives > rows) throw new ArgumentOutOfRangeException(nameof(positives), positives, $"positives must be in [1, {rows}].");
        int n = Units;
        if (h.Length < rows * n || gradient.Length < rows * n) throw new ArgumentException($"h and gradient need {rows}×{n} floats; got {h.Length} and {gradient.Length}.");
        if (runningMean.Length < n || scratch.Length < ScratchLength) throw new ArgumentException($"runningMean needs {n} floats and scratch {ScratchLength}; got {runningMean.Length} and {scratch.Length}.");
        GradientUnchecked(backend, h, rows, positives, runningMean, scratch, gradient);
    }

    internal void GradientUnchecked(ComputeBackend be, DeviceSpan h, int rows, int positives, DeviceSpan runningMean, DeviceSpan scratch, DeviceSpan gradient) =>
        GradientUnchecked(be, h, h, rows, positives, runningMean, scratch, gradient);

    /// <summary>
    /// As <see cref="Gradient"/>, with activity L1's ReLU derivative taken from <paramref name="reluInput"/>
    /// (zero where it is ≤ 0) rather than from h: the FFRNN's activity β·ReLU(z) + (1 − β)·old can be positive
    /// where its ReLU is off, so it passes z. The caller scales by ∂h/∂ReLU(z) (the FFRNN's β) itself.
    /// </summary>
    internal void GradientUnchecked(ComputeBackend be, DeviceSpan h, DeviceSpan reluInput, int rows, int positives, DeviceSpan runningMean, DeviceSpan scratch, DeviceSpan gradient)
    {
        int n = Units;
        var (c, l1Row, work, sum) = (scratch.Slice(0, n), scratch.Slice(n, n), scratch.Slice(2 * n, n), scratch.Slice(3 * n, 1));
        var all = gradient.Slice(0, rows * n);
        // Activity L1 on every row, through the ReLU: a unit that is off in a row gets nothing from it.
        float l1 = Settings.ActivityL1 / rows;
        if (l1 != 0)
        {
            be.Write(Filled(l1), l1Row);
            be.GatherRows(l1Row, n, all, rows, 0, 1, 1);
            be.ReluBackward(all, reluInput.Slice(0, rows * n));
        }
        else be.Clear(all);
        if (Settings.PeerNormalization != 0)
        {
            const float m = FFRegularization.PeerMomentum;
            // r ← m·r + (1 − m)·(mean over positives of h); the loss λ·mean_j (r̄ − r_j)² then has
            // ∂/∂h_ij = κ·(r_j − r̄) for positive rows i, κ = 2λ(1 − m)/(units·positives).
            be.ColumnSums(h, positives, n, work);
            be.AddScaled((1 - m) / positives, work, m, runningMean.Slice(0, n));
            be.ColumnSums(runningMean, n, 1, sum);
            be.GatherRows(sum, 1, work, n, 0, 1, 1); // Σr on every unit
            float kappa = 2 * Settings.PeerNormalization * (1 - m) / ((float)n * positives);
            be.AddScaled(kappa, runningMean.Slice(0, n), 0f, c);
            be.AddScaled(-kappa / n, work, 1f, c);
            // Passed straight through the ReLU, as the reference implementation's ReLU passes every gradient:
            // only so does a unit that is off get pushed back up (through the ReLU's derivative a dead unit never
            // moves, and a large λ then only pushes busy units down: 491 of 500 units dead at λ = 3 in a trial).
            be.BiasActivation(gradient.Slice(0, positives * n), positives, n, c, relu: false);
        }
    }

    private float[]? _filled;

    private float[] Filled(float value)
    {
        if (_filled is null || _filled[0] != value) { _filled = new float[Units]; Array.Fill(_filled, value); }
        return _filled;
    }

    /// <summary>
    /// The regularisers' loss for activations <paramref name="h"/> (rows × units, positives first),
    /// on the host, given the running means before this batch (not changed): for tests and reports.
    /// </summary>
    public double Loss(ReadOnlySpan<double> h, int rows, int positives, ReadOnlySpan<float> runningMeanBefore)
    {
        int n = Units;
        double l1 = 0, peer = 0;
        for (int i = 0; i < rows * n; i++) l1 += Math.Abs(h[i]);
        var r = new double[n];
        for (int j = 0; j < n; j++)
        {
            double a = 0;
            for (int i = 0; i < positives; i++) a += h[i * n + j];
            r[j] = FFRegularization.PeerMomentum * (double)runningMeanBefore[j] + (1 - (double)FFRegularization.PeerMomentum) * a / positives;
        }
        double mean = r.Average();
        foreach (double x in r) peer += (mean - x) * (mean - x);
        return Settings.PeerNormalization * peer / n + Settings.ActivityL1 * l1 / rows;
    }
}
