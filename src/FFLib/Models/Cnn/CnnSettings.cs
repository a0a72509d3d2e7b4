namespace FFLib.Models;

/// <summary>How an FF CNN shows the label to its layers.</summary>
public enum LabelEncoding
{
    /// <summary>A class-specific grating added to the whole image (spatially extended, after Scodellaro et al. 2025): every position of a shared kernel sees the label.</summary>
    Fourier,

    /// <summary>Hinton's one-hot label in the first pixels of the image (of its first channel): only the kernels at the top-left corner see it.</summary>
    Corner,

    /// <summary>The one-hot label as K constant planes appended to every layer's input channels (spatially extended, and seen by every layer, not only the first).</summary>
    Channels,
}

/// <summary>Over what an FF conv layer's goodness (mean of h²) is taken.</summary>
public enum ConvGoodness
{
    /// <summary>The whole output map of an image (positions × channels): one goodness, one loss term per image.</summary>
    Map,

    /// <summary>Each position's channels: one goodness and one loss term per image and position (as the self-contrastive FF of Chen et al. 2025), scores averaged over positions.</summary>
    Position,
}

/// <summary>How an FF CNN predicts.</summary>
public enum ConvHead
{
    /// <summary>Try every label and pick the best Σ_layers softplus(goodness − θ) (the FFNN's probe).</summary>
    Goodness,

    /// <summary>A linear classifier on the last layer's (pooled) map with no label, trained with cross-entropy on the frozen FF layers in the second half of the epochs (as the FFNN+C); one pass to predict.</summary>
    Linear,
}

/// <summary>What an FF CNN's layers learn to tell apart.</summary>
public enum ConvObjective
{
    /// <summary>Positive from negative data (the paper's FF): the label in the input, goodness above or below θ.</summary>
    Contrast,

    /// <summary>
    /// Channel-wise competitive FF (after Papachristodoulou et al., AAAI 2024): no label in the input and no
    /// negative data; each class owns a contiguous 1/K share of every layer's channels, its goodness is the
    /// mean of h² over those channels and all positions, and each layer minimises the cross-entropy of its
    /// K class goodnesses. Predicts by the last layer's class goodnesses (one pass).
    /// </summary>
    Competitive,
}

/// <summary>The settings of the convolutional architectures (FF CNN and backprop CNN), declared once for both.</summary>
public static class CnnSettings
{
    /// <summary>Per layer: kernel side and optional 2×2 max-pooling ("5p,3p,3"); the channels are the layer widths.</summary>
    public static readonly ModelSetting<string> Conv = ModelSetting.Text("conv", "5p,3p,3",
        "Convolutional layers: kernel side per layer, 'p' for 2×2 max-pooling after it (e.g. 5p,3p,3); the channels per layer are the layer widths (e.g. 32,64,128).",
        text => ConvStack.Format(ConvStack.Parse(text)));

    /// <summary>The FF CNN's label encoding: fourier (default) or corner.</summary>
    public static readonly ModelSetting<LabelEncoding> Labels = ModelSetting.Choice("label_encoding", LabelEncoding.Fourier,
        "How the FF CNN sees the label: fourier (a class grating over the whole image, the default), corner (Hinton's one-hot pixels) or channels (one-hot planes appended to every layer's input).",
        [(LabelEncoding.Fourier, ["fourier"]), (LabelEncoding.Corner, ["corner", "one-hot", "onehot"]), (LabelEncoding.Channels, ["channels"])]);

    /// <summary>The FF CNN's goodness: map (default) or position.</summary>
    public static readonly ModelSetting<ConvGoodness> Goodness = ModelSetting.Choice("goodness", ConvGoodness.Map,
        "Over what the FF CNN's goodness is taken: map (the whole output map of an image) or position (each position's channels, one loss term per position).",
        [(ConvGoodness.Map, ["map"]), (ConvGoodness.Position, ["position"])]);

    /// <summary>The FF CNN's prediction: goodness (default) or linear.</summary>
    public static readonly ModelSetting<ConvHead> Head = ModelSetting.Choice("head", ConvHead.Goodness,
        "How the FF CNN predicts: goodness (try every label, the default) or linear (a classifier on the last layer's map, trained on the frozen FF layers in the second half of the epochs, as the FFNN+C).",
        [(ConvHead.Goodness, ["goodness"]), (ConvHead.Linear, ["linear"])]);

    /// <summary>The FF CNN's objective: contrast (default) or competitive.</summary>
    public static readonly ModelSetting<ConvObjective> Objective = ModelSetting.Choice("objective", ConvObjective.Contrast,
        "What the FF CNN's layers learn: contrast (positive against negative data with the label in the input, the paper's FF; the default) or competitive (channel-wise competitive FF: each class owns a share of every layer's channels, cross-entropy of the class goodnesses, no negatives; label_encoding, goodness, threshold and loss are then unused).",
        [(ConvObjective.Contrast, ["contrast"]), (ConvObjective.Competitive, ["competitive", "cwc"])]);

    /// <summary>The competitive FF CNN's batch normalisation after each layer's ReLU: off (default) or on.</summary>
    public static readonly ModelSetting<bool> BatchNorm = ModelSetting.Choice("batch_norm", false,
        "Batch normalisation of every FF CNN layer's output after its ReLU (per channel: batch statistics in training, running ones at prediction; trained scale and shift), as CwComp does; the goodness is taken after it. on or off (the default); competitive objective only.",
        [(false, ["off", "no", "false"]), (true, ["on", "yes", "true"])]);

    /// <summary>The widths a CNN trains with when none are given: 32, 64, 128 channels.</summary>
    public static readonly IReadOnlyList<int> DefaultChannels = [32, 64, 128];
}
