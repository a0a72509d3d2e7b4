using FFLib.Layers;

namespace FFLib.Models;

/// <summary>Shape and dynamics of an FFRNN (docs/architectures.md; defaults = the paper's Table 1).</summary>
public sealed record FFRecurrentConfig
{
    /// <summary>Pixels per image: the bottom state.</summary>
    public int ImageFeatures { get; init; } = 784;

    /// <summary>Number of classes: the top state is the one-hot label.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Widths of the hidden (recurrent) layers.</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [2000, 2000];

    /// <summary>Loss threshold θ.</summary>
    public float Threshold { get; init; } = 20f;

    /// <summary>L− (Minimize) or L+ (Maximize).</summary>
    public LossDirection Loss { get; init; } = LossDirection.Minimize;

    /// <summary>Adam learning rate of every hidden layer.</summary>
    public float LearningRate { get; init; } = 0.02f;

    /// <summary>Damping β: new state = β·ReLU(…) + (1 − β)·old state.</summary>
    public float Beta { get; init; } = 0.7f;

    /// <summary>K_train: synchronous frames (each with one Adam step per layer) per training batch.</summary>
    public int TrainFrames { get; init; } = 10;

    /// <summary>K_testlow: goodness is averaged over prediction frames strictly after this one (0-based).</summary>
    public int TestFrameLow { get; init; } = 3;

    /// <summary>K_testhigh: prediction frames run per label.</summary>
    public int TestFrameHigh { get; init; } = 8;

    /// <summary>Regularisers of every hidden layer's training (peer normalisation, activity L1, weight decay; default: none).</summary>
    public FFRegularization Regularization { get; init; } = FFRegularization.None;

    /// <summary>Seed of the uniform initial states used at prediction, so predictions are reproducible.</summary>
    public long PredictionSeed { get; init; } = 0x5EED;

    /// <summary>Throws with a precise message if any value is out of range.</summary>
    public void Validate()
    {
        if (ImageFeatures < 1) throw new ArgumentOutOfRangeException(nameof(ImageFeatures), ImageFeatures, "ImageFeatures must be at least 1.");
        if (Classes < 2) throw new ArgumentOutOfRangeException(nameof(Classes), Classes, "A classifier needs at least 2 classes.");
        if (HiddenSizes is null || HiddenSizes.Count == 0) throw new ArgumentException("An FFRNN needs at least one hidden layer.", nameof(HiddenSizes));
        for (int i = 0; i < HiddenSizes.Count; i++)
            if (HiddenSizes[i] < 1) throw new ArgumentOutOfRangeException(nameof(HiddenSizes), HiddenSizes[i], $"Layer {i + 1} has {HiddenSizes[i]} neurons; each needs at least 1.");
        if (!float.IsFinite(Threshold)) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "The threshold must be finite.");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
        if (!(Beta > 0 && Beta <= 1)) throw new ArgumentOutOfRangeException(nameof(Beta), Beta, "Beta must be in (0, 1].");
        if (TrainFrames < 1) throw new ArgumentOutOfRangeException(nameof(TrainFrames), TrainFrames, "K_train must be at least 1.");
        if (TestFrameLow < 0) throw new ArgumentOutOfRangeException(nameof(TestFrameLow), TestFrameLow, "K_testlow must be non-negative.");
        if (TestFrameHigh <= TestFrameLow + 1)
            throw new ArgumentOutOfRangeException(nameof(TestFrameHigh), TestFrameHigh, $"K_testhigh ({TestFrameHigh}) must exceed K_testlow + 1 ({TestFrameLow + 1}) so that at least one frame is scored.");
        ArgumentNullException.ThrowIfNull(Regularization);
        Regularization.Validate();
    }

    /// <summary>All state widths: image, hidden…, classes.</summary>
    public int[] Dimensions => [ImageFeatures, .. HiddenSizes, Classes];
}
