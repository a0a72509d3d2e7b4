using FFLib.Compute;
using FFLib.Modules;

namespace FFLib.Models;

/// <summary>One FFRNN hidden layer: forward weights from the layer below, backward weights from the layer above, bias.</summary>
public sealed class FFRecurrentLayer : Module
{
    internal FFRecurrentLayer(Matrix forward, Matrix backward, float[] bias)
    {
        ForwardWeight = forward;
        BackwardWeight = backward;
        Bias = bias;
    }

    /// <summary>Wf, width × (width below).</summary>
    public Matrix ForwardWeight { get; }

    /// <summary>Wb, width × (width above).</summary>
    public Matrix BackwardWeight { get; }

    /// <summary>b.</summary>
    public float[] Bias { get; }

    /// <summary>Number of neurons.</summary>
    public int Width => Bias.Length;

    /// <summary>"forward_weight", "backward_weight", "bias" (the optimiser's order).</summary>
    protected internal override IEnumerable<LocalParameter> LocalParameters() =>
    [
        new("forward_weight", "forward", [Width, ForwardWeight.Cols], ForwardWeight.Data),
        new("backward_weight", "backward", [Width, BackwardWeight.Cols], BackwardWeight.Data),
        new("bias", "bias", [Width], Bias),
    ];
}
