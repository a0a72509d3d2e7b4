using FFLib.Compute;
using FFLib.Modules;

namespace FFLib.Layers;

/// <summary>
/// The parameters every affine layer shares: W (out×in, row-major) and b, with PyTorch nn.Linear's
/// initialisation (both uniform in ±1/√in, drawn W first, then b).
/// </summary>
public abstract class AffineLayer : Module
{
    /// <summary>A freshly initialised layer.</summary>
    protected AffineLayer(int inFeatures, int outFeatures, FFRandom random)
    {
        if (inFeatures < 1) throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, "A layer needs at least one input feature.");
        if (outFeatures < 1) throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, "A layer needs at least one neuron.");
        ArgumentNullException.ThrowIfNull(random);
        Weight = new Matrix(outFeatures, inFeatures);
        Bias = new float[outFeatures];
        float bound = 1f / MathF.Sqrt(inFeatures);
        LayerParameters.FillUniform(Weight.Data, bound, random);
        LayerParameters.FillUniform(Bias, bound, random);
        (WeightParameter, BiasParameter) = Declare();
    }

    /// <summary>Wraps existing parameters (no copy).</summary>
    protected AffineLayer(Matrix weight, float[] bias)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        if (weight.Rows < 1 || weight.Cols < 1) throw new ArgumentException($"weight is {weight.Rows}×{weight.Cols}; a layer needs at least 1×1.", nameof(weight));
        if (bias.Length != weight.Rows) throw new ArgumentException($"bias has {bias.Length} entries but weight has {weight.Rows} rows (neurons).", nameof(bias));
        Weight = weight;
        Bias = bias;
        (WeightParameter, BiasParameter) = Declare();
    }

    private (LocalParameter, LocalParameter) Declare() =>
        (new("weight", "weight", [OutFeatures, InFeatures], Weight.Data), new("bias", "bias", [OutFeatures], Bias));

    /// <summary>W with its state (gradient, moments, device copies).</summary>
    public LocalParameter WeightParameter { get; }

    /// <summary>b with its state.</summary>
    public LocalParameter BiasParameter { get; }

    /// <summary>W, out×in, row-major (one row per neuron).</summary>
    public Matrix Weight { get; }

    /// <summary>b, one entry per neuron.</summary>
    public float[] Bias { get; }

    /// <summary>Input width.</summary>
    public int InFeatures => Weight.Cols;

    /// <summary>Number of neurons (outputs).</summary>
    public int OutFeatures => Weight.Rows;

    /// <summary>W and b as the CPU backend's arrays (the same memory): the public layer calls run the backend's operations, the models' code path.</summary>
    internal (DeviceSpan Weight, DeviceSpan Bias) OnCpu => (ComputeBackend.Cpu.Attach(Weight.Data).All, ComputeBackend.Cpu.Attach(Bias).All);

    /// <summary>"weight" [out, in] and "bias" [out].</summary>
    protected internal override IEnumerable<LocalParameter> LocalParameters() => [WeightParameter, BiasParameter];
}

/// <summary>Initialisation shared by the layer types.</summary>
internal static class LayerParameters
{
    /// <summary>PyTorch nn.Linear's initialisation: every value uniform in ±<paramref name="bound"/>, drawn in order.</summary>
    public static void FillUniform(Span<float> values, float bound, FFRandom random)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (2f * random.NextSingle() - 1f) * bound;
    }
}
