using FFLib.Compute;
using FFLib.Export;
using FFLib.Layers;
using FFLib.Modules;

namespace FFLib.Models;

/// <summary>
/// What the convolutional models share: the stack of <see cref="Conv2dLayer"/>s built from a
/// <see cref="ConvStack"/>, their working buffers on the backend, the image check and the feature-map
/// shapes. The FF CNN and the backprop CNN add their training rule and prediction.
/// </summary>
public abstract class ConvNetwork : ComputeModule, IFeatureMapSource
{
    private ConvBuffers? _buffers;

    /// <summary>
    /// The layers of <paramref name="stack"/>, each reading <paramref name="extraInputChannels"/> more
    /// input channels than the stack gives it (label planes); initialised from <paramref name="random"/>
    /// layer by layer (W then b), or all zeros without one (to be filled by a checkpoint or a pruning cut).
    /// </summary>
    private protected ConvNetwork(ConvStack stack, int classes, int extraInputChannels, FFRandom? random)
    {
        ArgumentNullException.ThrowIfNull(stack);
        (Stack, Classes) = (stack, classes);
        ConvLayers = new Conv2dLayer[stack.Count];
        for (int l = 0; l < stack.Count; l++)
        {
            var g = stack.Geometry(l);
            g = g with { Channels = g.Channels + extraInputChannels };
            ConvLayers[l] = random is null
                ? new Conv2dLayer(g, stack.Channels[l], new float[stack.Channels[l] * g.PatchSize], new float[stack.Channels[l]])
                : new Conv2dLayer(g, stack.Channels[l], random);
        }
    }

    /// <summary>The image, channels, kernels and pooling.</summary>
    public ConvStack Stack { get; }

    /// <summary>The convolutional layers, input side first.</summary>
    public IReadOnlyList<Conv2dLayer> Layers => ConvLayers;

    private protected Conv2dLayer[] ConvLayers { get; }

    /// <summary>Values per image.</summary>
    public int ImageFeatures => Stack.Image.Features;

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Output channels per layer (what channel pruning cuts).</summary>
    public IReadOnlyList<int> HiddenWidths => Stack.Channels;

    /// <inheritdoc />
    public (int Channels, int Height, int Width) MapShape(int layer) => (ConvLayers[layer].OutChannels, ConvLayers[layer].Geometry.OutHeight, ConvLayers[layer].Geometry.OutWidth);

    /// <inheritdoc />
    public abstract Matrix[] LayerActivations(Matrix images, int? label);

    /// <summary>Images per chunk when predicting (bounds the patches' memory).</summary>
    private protected const int ChunkImages = 256;

    /// <summary>The model's working arrays on its backend.</summary>
    private protected ConvBuffers Work => _buffers ??= new ConvBuffers(Backend);

    /// <inheritdoc />
    protected override void ReleaseWorkspaces()
    {
        _buffers?.Release();
        _buffers = null;
    }

    /// <summary>Throws naming both shapes when the images are not this network's size.</summary>
    private protected void CheckImages(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != ImageFeatures)
            throw new ArgumentException($"The images have {images.Cols} values each but this network was built for {Stack.Image} images ({ImageFeatures} values).", nameof(images));
    }

    /// <summary>Each row's class of highest logit (the first on a tie): the prediction of a model with a classifier output.</summary>
    private protected static int[] ArgMaxRows(Matrix logits)
    {
        var p = new int[logits.Rows];
        for (int r = 0; r < logits.Rows; r++)
        {
            var row = logits.Row(r);
            int best = 0;
            for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
            p[r] = best;
        }
        return p;
    }

    /// <summary>The inference graph's image as the layers read it: NHWC (a colour image's channel-major pixels gathered).</summary>
    private protected int GraphImage(InferenceGraph g)
    {
        var (c, h, w) = (Stack.Image.Channels, Stack.Image.Height, Stack.Image.Width);
        if (c == 1) return g.Input;
        var index = new int[c * h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < c; ch++) index[(y * w + x) * c + ch] = (ch * h + y) * w + x;
        return g.Gather(g.Input, index);
    }

    /// <summary>Layer l's convolution of <paramref name="x"/> in the inference graph, without bias (parameters by their names in <c>Parameters()</c>).</summary>
    private protected int GraphConv(InferenceGraph g, int l, int x) => g.Conv2d(x, $"layers.{l}.weight", ConvLayers[l].Geometry);

    /// <summary>Layer l's output <paramref name="h"/> as the next layer's input: 2×2 max-pooled when the stack says so.</summary>
    private protected int GraphNext(InferenceGraph g, int l, int h)
    {
        var geometry = ConvLayers[l].Geometry;
        return Stack.Layers[l].Pool ? g.MaxPool(h, ConvLayers[l].OutChannels, geometry.OutHeight, geometry.OutWidth) : h;
    }

    /// <summary>Images in the dataset's order (channel-major for colour) as NHWC.</summary>
    private protected float[] ToNhwc(Matrix images) => CnnImages.ToNhwc(images, Stack.Image);
}
