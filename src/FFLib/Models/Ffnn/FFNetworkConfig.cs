using FFLib.Layers;

namespace FFLib.Models;

/// <summary>
/// The shape and training rule of an FFNN (docs/architectures.md; defaults = the paper's Table 1).
/// </summary>
public sealed record FFNetworkConfig
{
    /// <summary>Pixels per image (784 for MNIST). The control vector (one-hot label) is appended to them.</summary>
    public int ImageFeatures { get; init; } = 784;

    /// <summary>Number of classes, the length of the control vector.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Widths of the FF layers, first to last. The paper's FFNN is [2000, 2000]; FFNN3 has three.</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [2000, 2000];

    /// <summary>Loss threshold θ.</summary>
    public float Threshold { get; init; } = 20f;

    /// <summary>L− (Minimize, default) or L+ (Maximize).</summary>
    public LossDirection Loss { get; init; } = LossDirection.Minimize;

    /// <summary>Adam learning rate of every FF layer.</summary>
    public float LearningRate { get; init; } = 0.02f;

    /// <summary>Training regularisers (none by default).</summary>
    public FFRegularization Regularization { get; init; } = FFRegularization.None;

    /// <summary>Input width of the first layer: image plus control vector.</summary>
    public int InputFeatures => ImageFeatures + Classes;

    /// <summary>Throws with a precise message if any value is out of range.</summary>
    public void Validate()
    {
        if (ImageFeatures < 1) throw new ArgumentOutOfRangeException(nameof(ImageFeatures), ImageFeatures, "ImageFeatures must be at least 1.");
        if (Classes < 2) throw new ArgumentOutOfRangeException(nameof(Classes), Classes, "A classifier needs at least 2 classes.");
        if (HiddenSizes is null || HiddenSizes.Count == 0) throw new ArgumentException("An FFNN needs at least one FF layer.", nameof(HiddenSizes));
        for (int i = 0; i < HiddenSizes.Count; i++)
            if (HiddenSizes[i] < 1) throw new ArgumentOutOfRangeException(nameof(HiddenSizes), HiddenSizes[i], $"Layer {i + 1} has {HiddenSizes[i]} neurons; each needs at least 1.");
        if (!float.IsFinite(Threshold)) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "The threshold must be finite.");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
        ArgumentNullException.ThrowIfNull(Regularization);
        Regularization.Validate();
    }
}
