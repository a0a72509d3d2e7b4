using FFLib.Compute;
using FFLib.Modules;

namespace FFLib.Models;

/// <summary>
/// One FFRNN hidden layer: forward weights from the layer below, backward weights from the layer
/// above, bias; and its maths on a backend (the damped update and its gradients), which the
/// network composes frame by frame.
/// </summary>
public sealed class FFRecurrentLayer : Module
{
    internal FFRecurrentLayer(Matrix forward, Matrix backward, float[] bias)
    {
        ForwardWeight = forward;
        BackwardWeight = backward;
        Bias = bias;
        ForwardParameter = new("forward_weight", "forward", [Width, forward.Cols], forward.Data);
        BackwardParameter = new("backward_weight", "backward", [Width, backward.Cols], backward.Data);
        BiasParameter = new("bias", "bias", [Width], bias);
    }

    /// <summary>Wf with its state (gradient, moments, device copies).</summary>
    public LocalParameter ForwardParameter { get; }

    /// <summary>Wb with its state.</summary>
    public LocalParameter BackwardParameter { get; }

    /// <summary>b with its state.</summary>
    public LocalParameter BiasParameter { get; }

    /// <summary>Wf, width × (width below).</summary>
    public Matrix ForwardWeight { get; }

    /// <summary>Wb, width × (width above).</summary>
    public Matrix BackwardWeight { get; }

    /// <summary>b.</summary>
    public float[] Bias { get; }

    /// <summary>Number of neurons.</summary>
    public int Width => Bias.Length;

    /// <summary>"forward_weight", "backward_weight", "bias" (the optimiser's order).</summary>
    protected internal override IEnumerable<LocalParameter> LocalParameters() => [ForwardParameter, BackwardParameter, BiasParameter];

    /// <summary>
    /// The damped update on a backend: pre = x̂_below·Wfᵀ + x̂_above·Wbᵀ + b, result = β·ReLU(pre) + (1 − β)·old.
    /// <paramref name="weights"/>: the backend's copies of Wf, Wb, b. With <paramref name="belowProductInPre"/>,
    /// pre already holds x̂_below·Wfᵀ (the network's shared image product for layer 1). <paramref name="preparedForward"/>
    /// and <paramref name="preparedBackward"/>: Wf and Wb as <see cref="ComputeBackend.Prepare"/> left them, or null.
    /// </summary>
    internal void Forward(ComputeBackend be, (DeviceSpan Forward, DeviceSpan Backward, DeviceSpan Bias) weights, DeviceSpan belowNormed, DeviceSpan aboveNormed,
        DeviceSpan old, int rows, float beta, DeviceSpan pre, DeviceSpan result, bool belowProductInPre = false, object? preparedForward = null, object? preparedBackward = null)
    {
        int w = Width, inF = ForwardWeight.Cols, inB = BackwardWeight.Cols;
        if (!belowProductInPre)
            be.Gemm(rows, w, inF, belowNormed, inF, preparedForward, transB: true, weights.Forward, inF, pre, w, accumulate: false);
        be.Gemm(rows, w, inB, aboveNormed, inB, preparedBackward, transB: true, weights.Backward, inB, pre, w, accumulate: true);
        FFRecurrentFusedOps.For(be).DampedRelu(pre, rows, w, weights.Bias, old.Slice(0, rows * w), beta, result);
    }

    /// <summary>
    /// The first half of the backward on a backend, from the FF loss's row coefficients: pre becomes
    /// δ = coef_r·β·result·[pre &gt; 0] (the (1 − β)·old term carries no gradient), and db = Σ_r δ_r.
    /// </summary>
    internal void Deltas(ComputeBackend be, DeviceSpan pre, DeviceSpan result, DeviceSpan coefficient, int rows, float beta, DeviceSpan gradBias)
    {
        FFRecurrentFusedOps.For(be).DampedReluBackward(pre, result, coefficient, beta, rows, Width);
        be.ColumnSums(pre, rows, Width, gradBias);
    }

    /// <summary>As <see cref="Deltas(ComputeBackend, DeviceSpan, DeviceSpan, DeviceSpan, int, float, DeviceSpan)"/>, adding β·<paramref name="extra"/>
    /// (a regulariser's gradient with respect to ReLU(pre), rows × width) to δ before the bias gradient.</summary>
    internal void Deltas(ComputeBackend be, DeviceSpan pre, DeviceSpan result, DeviceSpan coefficient, int rows, float beta, DeviceSpan gradBias, DeviceSpan extra)
    {
        FFRecurrentFusedOps.For(be).DampedReluBackward(pre, result, coefficient, beta, rows, Width);
        be.AddScaled(beta, extra.Slice(0, rows * Width), 1f, pre.Slice(0, rows * Width));
        be.ColumnSums(pre, rows, Width, gradBias);
    }

    /// <summary>dWf = δᵀ·x̂_below and dWb = δᵀ·x̂_above on a backend, from the δ the Deltas methods leave.</summary>
    internal void WeightGradients(ComputeBackend be, DeviceSpan delta, DeviceSpan belowNormed, DeviceSpan aboveNormed, int rows, DeviceSpan gradForward, DeviceSpan gradBackward)
    {
        int w = Width, inF = ForwardWeight.Cols, inB = BackwardWeight.Cols;
        be.Gemm(true, false, w, inF, rows, delta, w, belowNormed, inF, gradForward, inF, false);
        be.Gemm(true, false, w, inB, rows, delta, w, aboveNormed, inB, gradBackward, inB, false);
    }
}
