using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// Which parameter slice a hidden neuron owns: along <see cref="Axis"/> of the named parameter,
/// neuron j of the hidden layer is index <see cref="Offset"/> + j (axis 0: its row or bias entry;
/// axis 1: the column through which the next layer, a neighbour or a classifier reads it).
/// </summary>
/// <param name="Parameter">Full parameter name, e.g. "layers.1.weight".</param>
/// <param name="Axis">0 (rows) or 1 (columns).</param>
/// <param name="Offset">Where the layer's neurons start along that axis (e.g. in a classifier over concatenated layers).</param>
public sealed record NeuronSlice(string Parameter, int Axis, int Offset = 0);

/// <summary>
/// A model whose hidden neurons can be removed (structural pruning): it says which parameter
/// slices each hidden neuron owns and how its configuration reads with other hidden widths;
/// <see cref="Pruning.NeuronPruning"/> does the cutting for any such model.
/// </summary>
public interface INeuronPrunable : IClassifierModel
{
    /// <summary>Widths of the hidden layers that may be pruned (input and output layers never are).</summary>
    IReadOnlyList<int> HiddenWidths { get; }

    /// <summary>Every slice that neuron j of hidden layer <paramref name="layer"/> (0-based) owns, for all j.</summary>
    IReadOnlyList<NeuronSlice> NeuronSlices(int layer);

    /// <summary>This model's configuration with other hidden widths (everything else unchanged).</summary>
    System.Text.Json.Nodes.JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths);
}

/// <summary>A model that has a label scorer inside it (FFNN+C's FF stack), used for hard negatives.</summary>
public interface ILabelScorerSource
{
    /// <summary>The scorer that rates every label of an image.</summary>
    ILabelScorer LabelScorer { get; }
}

/// <summary>A model that draws random numbers while it trains (FFRNN's initial states): a resume checkpoint stores the generator's state.</summary>
public interface IRandomStateOwner
{
    /// <summary>The model's own random source.</summary>
    FFRandom StateRandom { get; }
}
