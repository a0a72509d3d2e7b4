using FFLib.Compute;

namespace FFLib.Layers;

/// <summary>
/// A plain affine layer z = xWᵀ + b (PyTorch nn.Linear), used by the BPNN and the FFNN+C classifier.
/// </summary>
public sealed class DenseLayer : AffineLayer
{
    /// <summary>Creates a layer with nn.Linear's initialisation: W and b uniform in ±1/√in.</summary>
    public DenseLayer(int inFeatures, int outFeatures, FFRandom random)
        : base(inFeatures, outFeatures, random)
    {
    }

    /// <summary>Wraps existing parameters (no copy).</summary>
    public DenseLayer(Matrix weight, float[] bias)
        : base(weight, bias)
    {
    }

    /// <summary>z = xWᵀ + b.</summary>
    public Matrix Forward(Matrix x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Cols != InFeatures) throw new ArgumentException($"x has {x.Cols} columns but the layer expects {InFeatures}.", nameof(x));
        var be = ComputeBackend.Cpu;
        var z = new Matrix(x.Rows, OutFeatures);
        var (w, b) = OnCpu;
        Forward(be, be.Attach(x.Data).All, x.Rows, w, prepared: null, b, relu: false, be.Attach(z.Data).All);
        return z;
    }

    /// <summary>
    /// The layer's forward on a backend, the one every dense layer runs (the BPNN's layers, the
    /// FFNN+C's classifier, <see cref="Forward(Matrix)"/> on the CPU): z (rows × out) = x·Wᵀ + b,
    /// then ReLU when <paramref name="relu"/>. <paramref name="weight"/> and <paramref name="bias"/>
    /// are the backend's copies of W and b; <paramref name="prepared"/> W as
    /// <see cref="ComputeBackend.Prepare"/> left it, or null.
    /// </summary>
    internal void Forward(ComputeBackend be, DeviceSpan x, int rows, DeviceSpan weight, object? prepared, DeviceSpan bias, bool relu, DeviceSpan z)
    {
        be.Gemm(rows, OutFeatures, InFeatures, x, InFeatures, prepared, transB: true, weight, InFeatures, z, OutFeatures, accumulate: false);
        be.BiasActivation(z, rows, OutFeatures, bias, relu);
    }

    /// <summary>The parameter gradients on a backend from δ = dLoss/dz (rows × out) and the input x: dW = δᵀ·x, db = Σ_r δ_r.</summary>
    internal void ParameterGradients(ComputeBackend be, DeviceSpan delta, DeviceSpan x, int rows, DeviceSpan gradWeight, DeviceSpan gradBias)
    {
        be.Gemm(true, false, OutFeatures, InFeatures, rows, delta, OutFeatures, x, InFeatures, gradWeight, InFeatures, accumulate: false);
        be.ColumnSums(delta, rows, OutFeatures, gradBias);
    }

    /// <summary>dLoss/dx = δ·W (rows × in) on a backend: the gradient handed to the layer below.</summary>
    internal void InputGradient(ComputeBackend be, DeviceSpan delta, int rows, DeviceSpan weight, DeviceSpan gradInput) =>
        be.Gemm(false, false, rows, InFeatures, OutFeatures, delta, OutFeatures, weight, InFeatures, gradInput, InFeatures, accumulate: false);
}
