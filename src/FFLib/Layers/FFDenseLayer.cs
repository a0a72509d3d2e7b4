using FFLib.Compute;

namespace FFLib.Layers;

/// <summary>
/// The Forward-Forward dense layer (the reference's FFLinear, docs/architectures.md):
/// h = ReLU(x̂ Wᵀ + b) with x̂ = x / (‖x‖ + 1e-4), goodness = mean_j h_j².
/// The normalisation is folded into the product, (x/s)Wᵀ = (xWᵀ)/s, so x̂ is never materialised.
/// </summary>
public sealed class FFDenseLayer : AffineLayer
{
    /// <summary>Creates a layer with PyTorch nn.Linear's initialisation: W and b uniform in ±1/√in.</summary>
    public FFDenseLayer(int inFeatures, int outFeatures, FFRandom random)
        : base(inFeatures, outFeatures, random)
    {
    }

    /// <summary>Wraps existing parameters (no copy). <paramref name="weight"/> is out×in.</summary>
    public FFDenseLayer(Matrix weight, float[] bias)
        : base(weight, bias)
    {
    }

    /// <summary>Activations h = ReLU(x̂Wᵀ + b) for every row of x.</summary>
    public Matrix Forward(Matrix x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Cols != InFeatures) throw new ArgumentException($"x has {x.Cols} columns but the layer expects {InFeatures}.", nameof(x));
        var be = ComputeBackend.Cpu;
        int rows = x.Rows;
        var h = new Matrix(rows, OutFeatures);
        var (xs, hs, invNorm) = (be.Attach(x.Data).All, be.Attach(h.Data).All, be.Allocate(rows).All);
        var (w, b) = OnCpu;
        be.InverseRowNorms(xs, rows, InFeatures, invNorm);
        be.Gemm(false, true, rows, OutFeatures, InFeatures, xs, InFeatures, w, InFeatures, hs, OutFeatures, accumulate: false);
        be.ScaleBiasRelu(hs, rows, OutFeatures, invNorm, b);
        return h;
    }

    /// <summary>Goodness before the threshold, mean_j h_j², of each row of activations.</summary>
    public static float[] MeanSquares(Matrix h)
    {
        ArgumentNullException.ThrowIfNull(h);
        var g = new float[h.Rows];
        Kernels.MeanSquares(h.Data, h.Rows, h.Cols, g);
        return g;
    }

    /// <summary>
    /// Weight and bias gradients of a loss whose gradient with respect to activation row h_r is
    /// rowCoefficients[r]·h_r (the FF loss: <see cref="FFLoss.LossAndRowCoefficients"/> gives them):
    /// δ_r = c_r·h_r, db = Σ_r δ_r, dW = Σ_r δ_r ⊗ x̂_r = Σ_r (δ_r / (‖x_r‖ + 1e-4)) ⊗ x_r. FF layers
    /// learn locally: x is a constant input (no gradient flows to it or to the layer below).
    /// <paramref name="h"/> is this layer's output for <paramref name="x"/>; neither is changed.
    /// </summary>
    public void Gradients(Matrix x, Matrix h, ReadOnlySpan<float> rowCoefficients, Span<float> gradWeight, Span<float> gradBias)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(h);
        if (x.Cols != InFeatures) throw new ArgumentException($"x has {x.Cols} columns but the layer expects {InFeatures}.", nameof(x));
        if (h.Rows != x.Rows || h.Cols != OutFeatures) throw new ArgumentException($"h is {h.Rows}×{h.Cols} but must be {x.Rows}×{OutFeatures} (this layer's output for x).", nameof(h));
        if (rowCoefficients.Length < x.Rows) throw new ArgumentException($"rowCoefficients has {rowCoefficients.Length} entries for {x.Rows} rows.", nameof(rowCoefficients));
        if (gradWeight.Length != Weight.Length) throw new ArgumentException($"gradWeight has {gradWeight.Length} entries but the weight has {Weight.Length}.", nameof(gradWeight));
        if (gradBias.Length != OutFeatures) throw new ArgumentException($"gradBias has {gradBias.Length} entries but the layer has {OutFeatures} neurons.", nameof(gradBias));
        // The models' backward step (ComputeBackend.FFBackward), on copies: h and the caller's spans stay as given until the end.
        var be = ComputeBackend.Cpu;
        int rows = x.Rows;
        var xs = be.Attach(x.Data).All;
        var delta = be.Attach((float[])h.Data.Clone()).All;
        var invNorm = be.Allocate(rows).All;
        var (gw, gb) = (be.Allocate(Weight.Length).All, be.Allocate(OutFeatures).All);
        be.InverseRowNorms(xs, rows, InFeatures, invNorm);
        be.FFBackward(delta, rows, OutFeatures, be.Attach(rowCoefficients[..rows].ToArray()).All, invNorm, gb);
        be.Gemm(true, false, OutFeatures, InFeatures, rows, delta, OutFeatures, xs, InFeatures, gw, InFeatures, accumulate: false);
        be.Read(gw).CopyTo(gradWeight);
        be.Read(gb).CopyTo(gradBias);
    }
}
