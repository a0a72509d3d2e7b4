using System.Numerics.Tensors;
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
        var z = new Matrix(x.Rows, OutFeatures);
        ForwardInto(x.Data, x.Rows, z.Data);
        return z;
    }

    internal void ForwardInto(ReadOnlySpan<float> x, int rows, Span<float> z, PackedMatrix? packedWeight = null)
    {
        MultiplyByWeightTransposed(x, rows, z, packedWeight);
        for (int r = 0; r < rows; r++)
        {
            var row = z.Slice(r * OutFeatures, OutFeatures);
            TensorPrimitives.Add(row, Bias, row);
        }
    }

    /// <summary>dW = δᵀx and db = Σ_r δ_r for upstream gradient δ (rows×out).</summary>
    internal void Gradients(ReadOnlySpan<float> x, ReadOnlySpan<float> delta, int rows, Span<float> gradW, Span<float> gradB)
    {
        Gemm.Multiply(true, false, OutFeatures, InFeatures, rows, delta, OutFeatures, x, InFeatures, gradW, InFeatures, accumulate: false);
        Kernels.ColumnSums(delta, rows, OutFeatures, gradB);
    }

    /// <summary>dx = δW (rows×in).</summary>
    internal void InputGradient(ReadOnlySpan<float> delta, int rows, Span<float> dx) =>
        Gemm.Multiply(false, false, rows, InFeatures, OutFeatures, delta, OutFeatures, Weight.Data, InFeatures, dx, InFeatures, accumulate: false);
}
