using FFLib.Layers;

namespace FFLib.Models;

/// <summary>
/// The settings of a model for a training run or a sweep, for any architecture: each
/// architecture reads the ones it has (see <see cref="Architecture.UsedSettings"/>); image size and
/// classes come from the data. Defaults are the paper's Table 1.
/// </summary>
public sealed record ModelSettings
{
    /// <summary>Hidden layer widths.</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [2000, 2000];

    /// <summary>Adam learning rate; null: the architecture's default (<see cref="Architecture.DefaultLearningRate"/>: 0.02 for FF layers, 1e-4 for the BPNN).</summary>
    public float? LearningRate { get; init; }

    /// <summary>FF loss threshold θ.</summary>
    public float Threshold { get; init; } = 20f;

    /// <summary>FF loss direction: L− (Minimize) or L+ (Maximize).</summary>
    public LossDirection Loss { get; init; } = LossDirection.Minimize;

    /// <summary>FFNN+C: the classifier's Adam learning rate.</summary>
    public float ClassifierLearningRate { get; init; } = 1e-4f;

    /// <summary>FFRNN: damping β.</summary>
    public float Beta { get; init; } = 0.7f;

    /// <summary>FFRNN: frames per training batch (K_train).</summary>
    public int TrainFrames { get; init; } = 10;

    /// <summary>FFRNN: goodness is averaged over prediction frames after this one (K_testlow).</summary>
    public int TestFrameLow { get; init; } = 3;

    /// <summary>FFRNN: prediction frames per label (K_testhigh).</summary>
    public int TestFrameHigh { get; init; } = 8;

    /// <summary>The learning rate <paramref name="architecture"/> trains with.</summary>
    public float LearningRateFor(Architecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return LearningRate ?? architecture.DefaultLearningRate;
    }

    /// <summary>Throws with a precise message if a value is out of range (whatever the architecture).</summary>
    public void Validate()
    {
        if (HiddenSizes is null) throw new ArgumentNullException(nameof(HiddenSizes));
        for (int i = 0; i < HiddenSizes.Count; i++)
            if (HiddenSizes[i] < 1) throw new ArgumentOutOfRangeException(nameof(HiddenSizes), HiddenSizes[i], $"Layer {i + 1} has {HiddenSizes[i]} neurons; each needs at least 1.");
        if (LearningRate is float lr && !(lr > 0 && float.IsFinite(lr))) throw new ArgumentOutOfRangeException(nameof(LearningRate), lr, "The learning rate must be a positive finite number.");
        if (!(ClassifierLearningRate > 0 && float.IsFinite(ClassifierLearningRate))) throw new ArgumentOutOfRangeException(nameof(ClassifierLearningRate), ClassifierLearningRate, "The classifier learning rate must be a positive finite number.");
        if (!float.IsFinite(Threshold)) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "The threshold must be finite.");
        if (!(Beta > 0 && Beta <= 1)) throw new ArgumentOutOfRangeException(nameof(Beta), Beta, "Beta must be in (0, 1].");
        if (TrainFrames < 1) throw new ArgumentOutOfRangeException(nameof(TrainFrames), TrainFrames, "K_train must be at least 1.");
        if (TestFrameLow < 0) throw new ArgumentOutOfRangeException(nameof(TestFrameLow), TestFrameLow, "K_testlow must be non-negative.");
        if (TestFrameHigh <= TestFrameLow + 1)
            throw new ArgumentOutOfRangeException(nameof(TestFrameHigh), TestFrameHigh, $"K_testhigh ({TestFrameHigh}) must exceed K_testlow + 1 ({TestFrameLow + 1}) so that at least one frame is scored.");
    }
}

/// <summary>Which of the <see cref="ModelSettings"/> beyond widths and learning rate an architecture uses (sweeps vary and record only those).</summary>
[Flags]
public enum ModelSettingKinds
{
    /// <summary>Widths and learning rate only.</summary>
    None = 0,

    /// <summary>The FF threshold θ.</summary>
    Threshold = 1,

    /// <summary>The FF loss direction.</summary>
    Loss = 2,

    /// <summary>A classifier learning rate (FFNN+C).</summary>
    ClassifierLearningRate = 4,

    /// <summary>Recurrent dynamics: β, K_train, K_testlow, K_testhigh (FFRNN).</summary>
    RecurrentDynamics = 8,
}
