namespace FFLib.Models;

/// <summary>Shape and training rule of the BPNN baseline (docs/architectures.md; defaults = the paper's Table 1).</summary>
public sealed record BackpropNetworkConfig
{
    /// <summary>Pixels per image.</summary>
    public int ImageFeatures { get; init; } = 784;

    /// <summary>Number of classes (output width).</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Hidden widths (ReLU after each).</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [2000, 2000];

    /// <summary>Adam learning rate (1e-4 in the paper).</summary>
    public float LearningRate { get; init; } = 1e-4f;

    /// <summary>Throws with a precise message if any value is out of range.</summary>
    public void Validate()
    {
        if (ImageFeatures < 1) throw new ArgumentOutOfRangeException(nameof(ImageFeatures), ImageFeatures, "ImageFeatures must be at least 1.");
        if (Classes < 2) throw new ArgumentOutOfRangeException(nameof(Classes), Classes, "A classifier needs at least 2 classes.");
        if (HiddenSizes is null) throw new ArgumentNullException(nameof(HiddenSizes));
        for (int i = 0; i < HiddenSizes.Count; i++)
            if (HiddenSizes[i] < 1) throw new ArgumentOutOfRangeException(nameof(HiddenSizes), HiddenSizes[i], $"Hidden layer {i + 1} has {HiddenSizes[i]} neurons; each needs at least 1.");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
    }
}
