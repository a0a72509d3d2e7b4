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
        var zs = be.Attach(z.Data).All;
        be.Gemm(false, true, x.Rows, OutFeatures, InFeatures, be.Attach(x.Data).All, InFeatures, w, InFeatures, zs, OutFeatures, accumulate: false);
        be.BiasActivation(zs, x.Rows, OutFeatures, b, relu: false);
        return z;
    }
}
