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
        var (w, b) = OnCpu;
        Forward(be, be.Attach(x.Data).All, rows, w, prepared: null, b, be.Allocate(rows).All, computeNorms: true, be.Attach(h.Data).All);
        return h;
    }

    /// <summary>
    /// The layer's forward on a backend, for a model that computes on one (see
    /// examples/CustomArchitecture): h (rows × out) = ReLU((x·Wᵀ) ⊙ invNorm + b) with
    /// invNorm_r = 1/(‖x_r‖ + 1e-4), written to <paramref name="invNorm"/> for <see cref="Deltas"/>.
    /// <paramref name="weight"/> and <paramref name="bias"/> are the backend's copies of W and b
    /// (a <see cref="Modules.ComputeModule"/>'s Device(...)). Every span lives on <paramref name="backend"/>.
    /// </summary>
    public void Forward(ComputeBackend backend, DeviceSpan x, int rows, DeviceSpan weight, DeviceSpan bias, DeviceSpan invNorm, DeviceSpan h)
    {
        Check(backend, rows, (x, rows * InFeatures, nameof(x)), (weight, Weight.Length, nameof(weight)), (bias, OutFeatures, nameof(bias)),
            (invNorm, rows, nameof(invNorm)), (h, rows * OutFeatures, nameof(h)));
        Forward(backend, x, rows, weight, prepared: null, bias, invNorm, computeNorms: true, h);
    }

    /// <summary>
    /// The same forward, unchecked, with the library's options: <paramref name="prepared"/> W as
    /// <see cref="ComputeBackend.Prepare"/> left it (or null), and without <paramref name="computeNorms"/>
    /// the row norms as an earlier call on the same x left them (same input, new weights).
    /// </summary>
    internal void Forward(ComputeBackend be, DeviceSpan x, int rows, DeviceSpan weight, object? prepared, DeviceSpan bias, DeviceSpan invNorm, bool computeNorms, DeviceSpan h)
    {
        int inF = InFeatures, outF = OutFeatures;
        if (computeNorms) be.InverseRowNorms(x, rows, inF, invNorm);
        be.Gemm(rows, outF, inF, x, inF, prepared, transB: true, weight, inF, h, outF, accumulate: false);
        be.ScaleBiasRelu(h, rows, outF, invNorm, bias);
    }

    /// <summary>
    /// The first half of the layer's backward on a backend: h (the forward's output) becomes δ,
    /// δ_r = coefficient_r·h_r / s_r (the 1/s of the normalisation folded in, <paramref name="invNorm"/>
    /// from <see cref="Forward(ComputeBackend, DeviceSpan, int, DeviceSpan, DeviceSpan, DeviceSpan, DeviceSpan)"/>),
    /// and db = Σ_r coefficient_r·h_r into <paramref name="gradBias"/>. The coefficients are the FF
    /// loss's (<see cref="ComputeBackend.FFGoodnessAndLoss"/>). <see cref="WeightGradient"/> then gives dW.
    /// </summary>
    public void Deltas(ComputeBackend backend, DeviceSpan h, int rows, DeviceSpan coefficient, DeviceSpan invNorm, DeviceSpan gradBias)
    {
        Check(backend, rows, (h, rows * OutFeatures, nameof(h)), (coefficient, rows, nameof(coefficient)), (invNorm, rows, nameof(invNorm)), (gradBias, OutFeatures, nameof(gradBias)));
        DeltasUnchecked(backend, h, rows, coefficient, invNorm, gradBias);
    }

    /// <summary><see cref="Deltas"/> without the argument check (the library's models, whose buffers are sized once).</summary>
    internal void DeltasUnchecked(ComputeBackend be, DeviceSpan h, int rows, DeviceSpan coefficient, DeviceSpan invNorm, DeviceSpan gradBias) =>
        be.FFBackward(h, rows, OutFeatures, coefficient, invNorm, gradBias);

    /// <summary>As <see cref="DeltasUnchecked(ComputeBackend, DeviceSpan, int, DeviceSpan, DeviceSpan, DeviceSpan)"/>, adding <paramref name="extra"/> (a regulariser's ∂/∂z) to the deltas.</summary>
    internal void DeltasUnchecked(ComputeBackend be, DeviceSpan h, int rows, DeviceSpan coefficient, DeviceSpan invNorm, DeviceSpan gradBias, DeviceSpan extra) =>
        be.FFBackward(h, rows, OutFeatures, coefficient, invNorm, gradBias, extra);

    /// <summary>dW = δᵀ·x (out × in) on a backend into <paramref name="gradWeight"/>, from <see cref="Deltas"/>' δ and the layer's input x.</summary>
    public void WeightGradient(ComputeBackend backend, DeviceSpan delta, DeviceSpan x, int rows, DeviceSpan gradWeight)
    {
        Check(backend, rows, (delta, rows * OutFeatures, nameof(delta)), (x, rows * InFeatures, nameof(x)), (gradWeight, Weight.Length, nameof(gradWeight)));
        WeightGradientUnchecked(backend, delta, x, rows, gradWeight);
    }

    /// <summary><see cref="WeightGradient"/> without the argument check.</summary>
    internal void WeightGradientUnchecked(ComputeBackend be, DeviceSpan delta, DeviceSpan x, int rows, DeviceSpan gradWeight) =>
        be.Gemm(true, false, OutFeatures, InFeatures, rows, delta, OutFeatures, x, InFeatures, gradWeight, InFeatures, accumulate: false);

    /// <summary>The public backend methods' argument check: one backend, room for the rows.</summary>
    private static void Check(ComputeBackend backend, int rows, params (DeviceSpan Span, int Needed, string Name)[] spans)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        foreach (var (span, needed, name) in spans)
        {
            if (span.Array is null) throw new ArgumentException($"{name} is an empty DeviceSpan (no array).", name);
            if (span.Array.Backend != backend) throw new ArgumentException($"{name} lives on the {span.Array.Backend.Name} backend, not {backend.Name}.", name);
            if (span.Length < needed) throw new ArgumentException($"{name} has {span.Length} floats; {rows} rows need {needed}.", name);
        }
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
        // The models' backward step (Deltas, WeightGradient), on copies: h and the caller's spans stay as given until the end.
        var be = ComputeBackend.Cpu;
        int rows = x.Rows;
        var xs = be.Attach(x.Data).All;
        var delta = be.Attach((float[])h.Data.Clone()).All;
        var invNorm = be.Allocate(rows).All;
        var (gw, gb) = (be.Allocate(Weight.Length).All, be.Allocate(OutFeatures).All);
        be.InverseRowNorms(xs, rows, InFeatures, invNorm);
        DeltasUnchecked(be, delta, rows, be.Attach(rowCoefficients[..rows].ToArray()).All, invNorm, gb);
        WeightGradientUnchecked(be, delta, xs, rows, gw);
        be.Read(gw).CopyTo(gradWeight);
        be.Read(gb).CopyTo(gradBias);
    }
}
