namespace FFLib.Compute;

/// <summary>
/// The shape of one 2-D convolution over NHWC images (FFLib's layout for convolutions: the
/// product im2col(x)·Wᵀ then lands as [images·outHeight·outWidth, outChannels], already NHWC, with
/// no transpose; a position's channels are contiguous). The kernel is square, zero-padded.
/// </summary>
/// <param name="Channels">Input channels C.</param>
/// <param name="Height">Input height H.</param>
/// <param name="Width">Input width W.</param>
/// <param name="Kernel">Kernel side K.</param>
/// <param name="Stride">Step between output positions.</param>
/// <param name="Padding">Zeros added on each side.</param>
public readonly record struct ConvGeometry(int Channels, int Height, int Width, int Kernel, int Stride = 1, int Padding = 0)
{
    /// <summary>A stride-1 convolution that keeps the image size for odd kernels (padding K/2).</summary>
    public static ConvGeometry Same(int channels, int height, int width, int kernel) => new(channels, height, width, kernel, 1, kernel / 2);

    /// <summary>Output height: (H + 2P − K) / S + 1.</summary>
    public int OutHeight => (Height + 2 * Padding - Kernel) / Stride + 1;

    /// <summary>Output width: (W + 2P − K) / S + 1.</summary>
    public int OutWidth => (Width + 2 * Padding - Kernel) / Stride + 1;

    /// <summary>Values per patch, K·K·C: the columns of im2col and of a weight row ([out, K, K, C]).</summary>
    public int PatchSize => Kernel * Kernel * Channels;

    /// <summary>Values per input image, H·W·C.</summary>
    public int InputSize => Height * Width * Channels;

    /// <summary>Output positions per image.</summary>
    public int Positions => OutHeight * OutWidth;

    /// <summary>Why this geometry cannot be convolved, or null.</summary>
    public string? Problem()
    {
        if (Channels < 1) return $"a convolution needs at least 1 input channel, not {Channels}";
        if (Height < 1 || Width < 1) return $"the image is {Height}×{Width}";
        if (Kernel < 1) return $"the kernel side must be at least 1, not {Kernel}";
        if (Stride < 1) return $"the stride must be at least 1, not {Stride}";
        if (Padding < 0 || Padding >= Kernel) return $"the padding must be in [0, kernel), not {Padding} for kernel {Kernel}";
        if (Kernel > Height + 2 * Padding || Kernel > Width + 2 * Padding)
            return $"a {Kernel}×{Kernel} kernel does not fit a {Height}×{Width} image (padding {Padding})";
        return null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> with <see cref="Problem"/>'s text.</summary>
    public void Validate()
    {
        if (Problem() is { } why) throw new ArgumentException($"Invalid convolution: {why}.");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Channels}×{Height}×{Width} * {Kernel}×{Kernel} (stride {Stride}, padding {Padding}) → {OutHeight}×{OutWidth}";
}
