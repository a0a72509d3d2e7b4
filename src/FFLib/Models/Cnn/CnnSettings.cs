namespace FFLib.Models;

/// <summary>How an FF CNN shows the label to its layers.</summary>
public enum LabelEncoding
{
    /// <summary>A class-specific grating added to the whole image (spatially extended, after Scodellaro et al. 2025): every position of a shared kernel sees the label.</summary>
    Fourier,

    /// <summary>Hinton's one-hot label in the first pixels of the image (of its first channel): only the kernels at the top-left corner see it.</summary>
    Corner,
}

/// <summary>The settings of the convolutional architectures (FF CNN and backprop CNN), declared once for both.</summary>
public static class CnnSettings
{
    /// <summary>Per layer: kernel side and optional 2×2 max-pooling ("5p,3p,3"); the channels are the widths (<c>--layers</c>).</summary>
    public static readonly ModelSetting<string> Conv = ModelSetting.Text("conv", "5p,3p,3",
        "Convolutional layers: kernel side per layer, 'p' for 2×2 max-pooling after it (e.g. 5p,3p,3); the channels are --layers (e.g. 32,64,128).",
        text => ConvStack.Format(ConvStack.Parse(text)));

    /// <summary>The FF CNN's label encoding: fourier (default) or corner.</summary>
    public static readonly ModelSetting<LabelEncoding> Labels = ModelSetting.Choice("label_encoding", LabelEncoding.Fourier,
        "How the FF CNN sees the label: fourier (a class grating over the whole image, the default) or corner (Hinton's one-hot pixels).",
        [(LabelEncoding.Fourier, ["fourier"]), (LabelEncoding.Corner, ["corner", "one-hot", "onehot"])]);

    /// <summary>The widths a CNN trains with when none are given: 32, 64, 128 channels.</summary>
    public static readonly IReadOnlyList<int> DefaultChannels = [32, 64, 128];
}
