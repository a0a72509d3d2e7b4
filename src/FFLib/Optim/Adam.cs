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
    private float[] _scratch;

    /// <summary>Creates an optimiser for the given parameter arrays (updated in place).</summary>
    public AdamOptimizer(AdamSettings settings, params float[][] parameters)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Settings = settings;
        _parameters = parameters;
        _m = parameters.Select(p => new float[p.Length]).ToArray();
        _v = parameters.Select(p => new float[p.Length]).ToArray();
        _scratch = new float[parameters.Length == 0 ? 0 : parameters.Max(p => p.Length)];
    }

    /// <summary>The hyper-parameters; the learning rate may be changed between steps.</summary>
    public AdamSettings Settings { get; set; }

    /// <summary>Number of steps taken so far (PyTorch's per-parameter "step").</summary>
    public int StepCount { get; private set; }

    /// <summary>Number of parameter arrays.</summary>
    public int ParameterCount => _parameters.Length;

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
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (gradients[i].Length != _parameters[i].Length)
                throw new ArgumentException($"Gradient {i} has {gradients[i].Length} elements but its parameter has {_parameters[i].Length}.", nameof(gradients));
            Kernels.AdamStep(_parameters[i], gradients[i], _m[i], _v[i], _scratch,
                Settings.LearningRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, StepCount);
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
        StepCount = stepCount;
        _scratch ??= [];
    }
}
