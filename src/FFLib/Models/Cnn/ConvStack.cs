using System.Globalization;
using System.Text.Json.Nodes;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>An image's shape: channels × height × width (datasets store CIFAR channel-major; the CNNs compute NHWC).</summary>
public sealed record ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Values per image.</summary>
    public int Features => Channels * Height * Width;

    /// <summary>
    /// The shape of images of <paramref name="features"/> values: 784 → 1×28×28 (MNIST,
    /// FashionMNIST), 3072 → 3×32×32 (CIFAR-10), otherwise a square grey image if it is one.
    /// Throws <see cref="ArgumentException"/> saying so when the count is neither.
    /// </summary>
    public static ImageShape FromFeatures(int features)
    {
        if (features == 3072) return new(3, 32, 32);
        int side = (int)Math.Round(Math.Sqrt(features));
        if (features > 0 && side * side == features) return new(1, side, side);
        throw new ArgumentException($"A convolutional network needs square images (1 channel) or 32×32×3 ones; images of {features} values are neither.");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Channels}×{Height}×{Width}";
}

/// <summary>One convolutional layer of a stack as <c>--conv</c> gives it: kernel side, and whether 2×2 max-pooling follows.</summary>
public readonly record struct ConvLayerSpec(int Kernel, bool Pool);

/// <summary>
/// The shape of a CNN's convolutional stack (FF or backprop): the image, each layer's output
/// channels (its width: <c>--layers</c>, what channel pruning cuts) and kernel (stride 1, "same"
/// zero padding K/2, then optional 2×2 max-pooling). Layer l's input is layer l−1's pooled output.
/// </summary>
public sealed record ConvStack(ImageShape Image, int[] Channels, ConvLayerSpec[] Layers)
{
    /// <summary>The text form of the per-layer kernels and pooling, e.g. "5p,3p,3" (the <c>conv</c> setting).</summary>
    public string KernelText => Format(Layers);

    /// <summary>Number of convolutional layers.</summary>
    public int Count => Channels.Length;

    /// <summary>Layer l's convolution (its input: the image or the layer below after pooling).</summary>
    public ConvGeometry Geometry(int l)
    {
        var (c, h, w) = l == 0 ? (Image.Channels, Image.Height, Image.Width) : PooledShape(l - 1);
        return ConvGeometry.Same(c, h, w, Layers[l].Kernel);
    }

    /// <summary>Layer l's output after its optional pooling, channels × height × width.</summary>
    public (int Channels, int Height, int Width) PooledShape(int l)
    {
        var g = Geometry(l);
        return Layers[l].Pool ? (Channels[l], g.OutHeight / 2, g.OutWidth / 2) : (Channels[l], g.OutHeight, g.OutWidth);
    }

    /// <summary>Values per image after the last layer's pooling (the input of a classifier head).</summary>
    public int FeatureSize { get { var (c, h, w) = PooledShape(Count - 1); return c * h * w; } }

    /// <summary>Multiply-adds of one forward pass per image: Σ positions × patch × channels (plus <paramref name="extraInputChannels"/> per layer, e.g. label planes).</summary>
    public double MultiplyAdds(int extraInputChannels = 0)
    {
        double total = 0;
        for (int l = 0; l < Count; l++)
        {
            var g = Geometry(l);
            total += (double)g.Positions * g.Kernel * g.Kernel * (g.Channels + extraInputChannels) * Channels[l];
        }
        return total;
    }

    /// <summary>Why this stack cannot be built, or null (a kernel larger than its input, pooling below 1×1, zero channels).</summary>
    public string? Problem()
    {
        if (Channels.Length == 0) return "a convolutional network needs at least one layer";
        if (Channels.Length != Layers.Length) return $"the layer widths give {Channels.Length} channel count(s) but conv {KernelText} describes {Layers.Length} layer(s)";
        for (int l = 0; l < Count; l++)
        {
            if (Channels[l] < 1) return $"layer {l + 1} has {Channels[l]} channels; each needs at least 1";
            if (Layers[l].Kernel < 1 || Layers[l].Kernel % 2 == 0) return $"layer {l + 1}'s kernel is {Layers[l].Kernel}; kernels are odd (1, 3, 5, …) so that padding keeps the size";
            var g = Geometry(l);
            if (Layers[l].Kernel > Math.Min(g.Height, g.Width))
                return $"layer {l + 1}'s {Layers[l].Kernel}×{Layers[l].Kernel} kernel is larger than its {g.Height}×{g.Width} input";
            if (Layers[l].Pool && (g.OutHeight < 2 || g.OutWidth < 2)) return $"layer {l + 1} pools a {g.OutHeight}×{g.OutWidth} map below 1×1";
        }
        return null;
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> (parameter "conv") with <see cref="Problem"/>'s text.</summary>
    public void Validate()
    {
        if (Problem() is { } why) throw new ArgumentOutOfRangeException("conv", KernelText, why + ".");
    }

    /// <summary>
    /// "5p,3p,3" → kernels 5, 3, 3, pooling after the first two; '/' separates layers too ("5p/3p/3",
    /// for sweep grids, whose values are separated by commas). <see cref="FormatException"/> saying what is expected.
    /// </summary>
    public static ConvLayerSpec[] Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split([',', '/'], StringSplitOptions.TrimEntries);
        var result = new ConvLayerSpec[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string p = parts[i].ToLowerInvariant();
            bool pool = p.EndsWith('p');
            string k = pool ? p[..^1] : p;
            if (!int.TryParse(k, NumberStyles.None, CultureInfo.InvariantCulture, out int kernel) || kernel < 1)
                throw new FormatException($"'{text}' is not a list of kernel sides, each optionally followed by 'p' for 2×2 max-pooling (e.g. 5p,3p,3)");
            result[i] = new(kernel, pool);
        }
        return result;
    }

    /// <summary>The written form of a layer list ("5p,3p,3").</summary>
    public static string Format(IEnumerable<ConvLayerSpec> layers) => string.Join(",", layers.Select(l => l.Kernel.ToString(CultureInfo.InvariantCulture) + (l.Pool ? "p" : "")));

    /// <summary>Writes the stack into a model configuration (image_channels/height/width, channels, conv).</summary>
    public void WriteTo(JsonObject config)
    {
        config["image_channels"] = Image.Channels;
        config["image_height"] = Image.Height;
        config["image_width"] = Image.Width;
        config["channels"] = ConfigJson.IntArray(Channels);
        config["conv"] = KernelText;
    }

    /// <summary>Reads <see cref="WriteTo"/>'s form back and validates it.</summary>
    public static ConvStack Read(JsonObject config)
    {
        var stack = new ConvStack(new ImageShape(ConfigJson.Get<int>(config, "image_channels"), ConfigJson.Get<int>(config, "image_height"), ConfigJson.Get<int>(config, "image_width")),
            ConfigJson.IntArray(config, "channels"), Parse(ConfigJson.Get<string>(config, "conv")));
        if (stack.Image.Channels < 1 || stack.Image.Height < 1 || stack.Image.Width < 1) throw new FormatException($"config image shape {stack.Image} is not a valid image");
        if (stack.Problem() is { } why) throw new FormatException($"config describes an invalid stack: {why}");
        return stack;
    }
}
