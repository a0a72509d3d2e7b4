using FFLib.Layers;

namespace FFLib.Models;

/// <summary>An FF CNN's shape and training rule.</summary>
/// <param name="Stack">Image, channels, kernels and pooling.</param>
/// <param name="Classes">Number of classes.</param>
/// <param name="Threshold">θ of the FF loss (goodness = mean over a layer's whole output map of h²).</param>
/// <param name="Loss">L− or L+.</param>
/// <param name="LearningRate">Adam's step size for every layer.</param>
/// <param name="Labels">How the label enters the image.</param>
/// <param name="Goodness">Over what the goodness is taken: the layer's whole map, or each position's channels.</param>
/// <param name="Head">How the model predicts: by goodness, or with a linear classifier.</param>
/// <param name="ClassifierLearningRate">The linear classifier's Adam step size.</param>
public sealed record FFConvNetworkConfig(ConvStack Stack, int Classes, float Threshold, LossDirection Loss, float LearningRate, LabelEncoding Labels,
    ConvGoodness Goodness = ConvGoodness.Map, ConvHead Head = ConvHead.Goodness, float ClassifierLearningRate = 1e-4f)
{
    /// <summary>Regularisers of every conv layer's training (default: none). A channel is one unit: its activity is
    /// its mean over positions; activity L1 is taken per position (mean over images and positions of Σ_channels h).</summary>
    public FFRegularization Regularization { get; init; } = FFRegularization.None;

    /// <summary>What the layers learn (default: positive against negative data).</summary>
    public ConvObjective Objective { get; init; } = ConvObjective.Contrast;

    /// <summary>
    /// Competitive objective: per layer, how many channels each class owns, in class order (contiguous blocks;
    /// a pruned model keeps its survivors' classes this way). Null: an even split, channel j of C owned by ⌊j·K/C⌋.
    /// </summary>
    public IReadOnlyList<int[]>? ChannelGroups { get; init; }

    /// <summary>
    /// Competitive objective: per layer, the factor s of the input normalisation x·s/‖x‖. Null: √(input size), i.e.
    /// x/RMS(x). A pruned model keeps the original's factors, so removing a channel acts exactly as zeroing it.
    /// </summary>
    public IReadOnlyList<float>? InputScales { get; init; }

    /// <summary>Competitive objective: batch normalisation of every layer's output after its ReLU (<see cref="Layers.ChannelBatchNorm"/>); the goodness and the next layer read the normalised map.</summary>
    public bool BatchNorm { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> if the configuration cannot build a model.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Stack);
        Stack.Validate();
        if (Classes < 2) throw new ArgumentOutOfRangeException(nameof(Classes), Classes, "At least 2 classes.");
        if (!float.IsFinite(Threshold)) throw new ArgumentOutOfRangeException("threshold", Threshold, "The threshold must be finite.");
        if (!(LearningRate > 0 && float.IsFinite(LearningRate))) throw new ArgumentOutOfRangeException("lr", LearningRate, "The learning rate must be a positive finite number.");
        if (!(ClassifierLearningRate > 0 && float.IsFinite(ClassifierLearningRate))) throw new ArgumentOutOfRangeException("classifier_lr", ClassifierLearningRate, "The classifier learning rate must be a positive finite number.");
        if (Labels == LabelEncoding.Corner && Classes > Stack.Image.Height * Stack.Image.Width)
            throw new ArgumentOutOfRangeException("label_encoding", "corner", $"{Classes} one-hot pixels do not fit a {Stack.Image.Height}×{Stack.Image.Width} image.");
        if (Objective == ConvObjective.Competitive && ChannelGroups is null && Stack.Channels.Min() < Classes)
            throw new ArgumentOutOfRangeException("objective", "competitive", $"The competitive objective gives each of the {Classes} classes a share of every layer's channels: layer {Array.IndexOf(Stack.Channels, Stack.Channels.Min()) + 1} has only {Stack.Channels.Min()}.");
        if (BatchNorm && Objective != ConvObjective.Competitive)
            throw new ArgumentOutOfRangeException("batch_norm", "on", "Batch normalisation is built for the competitive objective only (objective competitive).");
        if (ChannelGroups is { } groups)
        {
            if (groups.Count != Stack.Count) throw new ArgumentException($"channel_groups has {groups.Count} layer(s), the stack {Stack.Count}.", "channel_groups");
            for (int l = 0; l < groups.Count; l++)
                if (groups[l] is null || groups[l].Length != Classes || groups[l].Any(n => n < 0) || groups[l].Sum() != Stack.Channels[l])
                    throw new ArgumentException($"channel_groups of layer {l + 1} must be {Classes} non-negative counts summing to its {Stack.Channels[l]} channels.", "channel_groups");
        }
        if (InputScales is { } scales && (scales.Count != Stack.Count || scales.Any(v => !(v > 0 && float.IsFinite(v)))))
            throw new ArgumentException($"input_scales must be {Stack.Count} positive finite numbers.", "input_scales");
        ArgumentNullException.ThrowIfNull(Regularization);
        Regularization.Validate();
    }
}
