using System.Text.Json.Nodes;

namespace FFLib.Models;

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

    /// <summary>
    /// The configuration of the model cut to the neurons in <paramref name="kept"/> (per hidden layer, the kept
    /// indices in any order). By default <see cref="ConfigWithHiddenWidths"/> of their counts; a model whose
    /// configuration depends on which neurons remain (not only how many) overrides it.
    /// </summary>
    JsonObject ConfigWithKeptNeurons(IReadOnlyList<int[]> kept) => ConfigWithHiddenWidths(kept.Select(k => k.Length).ToArray());
}
