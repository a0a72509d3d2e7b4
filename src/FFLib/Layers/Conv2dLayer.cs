using FFLib.Compute;
using FFLib.Modules;

namespace FFLib.Layers;

/// <summary>
/// A 2-D convolution's parameters and maths over NHWC images (see <see cref="ConvGeometry"/>):
/// weight [out, K, K, in] (one row of K·K·in per output channel, so generic code that treats a
/// tensor's first axis as its neurons — pruning, per-row quantisation, analysis — sees channels),
/// bias [out]. PyTorch nn.Conv2d's initialisation: both uniform in ±1/√(in·K·K). The products run
/// as im2col + GEMM on the backend; <c>ConvKernels</c> keeps the direct convolution the tests compare with.
/// </summary>
public sealed class Conv2dLayer : Module
{
    /// <summary>A freshly initialised layer (W then b drawn from <paramref name="random"/>).</summary>
    public Conv2dLayer(ConvGeometry geometry, int outChannels, FFRandom random)
        : this(geometry, outChannels, new float[outChannels * geometry.PatchSize], new float[outChannels])
    {
        ArgumentNullException.ThrowIfNull(random);
        float bound = 1f / MathF.Sqrt(geometry.PatchSize);
        LayerParameters.FillUniform(Weight, bound, random);
        LayerParameters.FillUniform(Bias, bound, random);
    }

    /// <summary>Wraps existing parameters (no copy): <paramref name="weight"/> is [out, K, K, in] row-major.</summary>
    public Conv2dLayer(ConvGeometry geometry, int outChannels, float[] weight, float[] bias)
    {
        geometry.Validate();
        if (outChannels < 1) throw new ArgumentOutOfRangeException(nameof(outChannels), outChannels, "A convolution needs at least one output channel.");
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        if (weight.Length != outChannels * geometry.PatchSize) throw new ArgumentException($"weight has {weight.Length} values; [{outChannels}, {geometry.Kernel}, {geometry.Kernel}, {geometry.Channels}] needs {outChannels * geometry.PatchSize}.", nameof(weight));
        if (bias.Length != outChannels) throw new ArgumentException($"bias has {bias.Length} values for {outChannels} channels.", nameof(bias));
        (Geometry, OutChannels, Weight, Bias) = (geometry, outChannels, weight, bias);
        WeightParameter = new("weight", "kernel", [outChannels, geometry.Kernel, geometry.Kernel, geometry.Channels], weight);
        BiasParameter = new("bias", "bias", [outChannels], bias);
    }

    /// <summary>Input shape, kernel, stride and padding.</summary>
    public ConvGeometry Geometry { get; }

    /// <summary>Output channels (the layer's "neurons").</summary>
    public int OutChannels { get; }

    /// <summary>W, [out, K, K, in] row-major.</summary>
    public float[] Weight { get; }

    /// <summary>b, one entry per output channel.</summary>
    public float[] Bias { get; }

    /// <summary>W with its state.</summary>
    public LocalParameter WeightParameter { get; }

    /// <summary>b with its state.</summary>
    public LocalParameter BiasParameter { get; }

    /// <summary>Values per output image, OH·OW·out.</summary>
    public int OutputSize => Geometry.Positions * OutChannels;

    /// <summary>"weight" [out, K, K, in] and "bias" [out].</summary>
    protected internal override IEnumerable<LocalParameter> LocalParameters() => [WeightParameter, BiasParameter];

    /// <summary>
    /// z = im2col(x)·Wᵀ, [images·OH·OW, out] (NHWC), without bias. <paramref name="columns"/>
    /// (images·OH·OW × K·K·in) keeps the patches for <see cref="WeightGradient"/>.
    /// </summary>
    public void Convolve(ComputeBackend backend, DeviceSpan x, int images, DeviceSpan weight, DeviceSpan columns, DeviceSpan z)
    {
        ArgumentNullException.ThrowIfNull(backend);
        int rows = images * Geometry.Positions, patch = Geometry.PatchSize;
        backend.Im2Col(x, images, Geometry, columns);
        backend.Gemm(false, true, rows, OutChannels, patch, columns, patch, weight, patch, z, OutChannels, accumulate: false);
    }

    /// <summary>The product again from patches <see cref="Convolve"/> left (same input, new weights).</summary>
    public void ConvolveColumns(ComputeBackend backend, DeviceSpan columns, int images, DeviceSpan weight, DeviceSpan z)
    {
        ArgumentNullException.ThrowIfNull(backend);
        int rows = images * Geometry.Positions, patch = Geometry.PatchSize;
        backend.Gemm(false, true, rows, OutChannels, patch, columns, patch, weight, patch, z, OutChannels, accumulate: false);
    }

    /// <summary>dW = δᵀ·columns ([out, K·K·in]) from the output gradient δ ([images·OH·OW, out]) and the patches.</summary>
    public void WeightGradient(ComputeBackend backend, DeviceSpan delta, DeviceSpan columns, int images, DeviceSpan gradWeight)
    {
        ArgumentNullException.ThrowIfNull(backend);
        int rows = images * Geometry.Positions, patch = Geometry.PatchSize;
        backend.Gemm(true, false, OutChannels, patch, rows, delta, OutChannels, columns, patch, gradWeight, patch, accumulate: false);
    }

    /// <summary>dx = col2im(δ·W) (NHWC, overwritten); <paramref name="columnScratch"/> holds images·OH·OW × K·K·in floats.</summary>
    public void InputGradient(ComputeBackend backend, DeviceSpan delta, DeviceSpan weight, int images, DeviceSpan columnScratch, DeviceSpan dx)
    {
        ArgumentNullException.ThrowIfNull(backend);
        int rows = images * Geometry.Positions, patch = Geometry.PatchSize;
        backend.Gemm(false, false, rows, patch, OutChannels, delta, OutChannels, weight, patch, columnScratch, patch, accumulate: false);
        backend.Col2Im(columnScratch, images, Geometry, dx);
    }
}
