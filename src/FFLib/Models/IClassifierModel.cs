using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Modules;

namespace FFLib.Models;

/// <summary>What a training step works on (FFNN+C switches from FF to classifier training halfway).</summary>
public enum TrainingPhase
{
    /// <summary>Greedy layer-local FF training on positive and negative data.</summary>
    ForwardForward,

    /// <summary>The FFNN+C classifier, trained with cross-entropy on the frozen FF stack's outputs.</summary>
    Classifier,

    /// <summary>End-to-end backpropagation (BPNN).</summary>
    Backprop,
}

/// <summary>
/// A model that maps images to classes. Every model is a module: its parameters are one list of
/// named tensors, and its configuration is a JSON object its <see cref="Architecture"/> reads
/// back. Saving, loading, cloning, analysis and pruning work through these alone.
/// </summary>
public interface IClassifierModel
{
    /// <summary>Which network family (the registry entry that can rebuild it).</summary>
    Architecture Architecture { get; }

    /// <summary>Every parameter tensor, named as in model files (see <see cref="Module.Parameters"/>).</summary>
    IReadOnlyList<Parameter> Parameters();

    /// <summary>The configuration as JSON: what <see cref="Architecture.FromConfig"/> needs to rebuild the model's shape.</summary>
    JsonObject ConfigToJson();

    /// <summary>Values per image.</summary>
    int ImageFeatures { get; }

    /// <summary>Number of classes.</summary>
    int Classes { get; }

    /// <summary>Predicted class of every row of <paramref name="images"/>.</summary>
    int[] Predict(Matrix images);
}

/// <summary>
/// One layer's activations during a training step, for observers (sparsity tracking,
/// activation maps, debugging). Spans are only valid during the call.
/// </summary>
public readonly ref struct LayerActivation
{
    /// <summary>Describes one layer's activations (a model raises this for its <see cref="ITrainableModel.ActivationObserver"/>).</summary>
    public LayerActivation(int layer, int frame, int rows, int positives, int width, ReadOnlySpan<float> activations, ReadOnlySpan<float> meanSquares)
    {
        Layer = layer; Frame = frame; Rows = rows; Positives = positives; Width = width; Activations = activations; MeanSquares = meanSquares;
    }

    /// <summary>0-based layer index (input side first).</summary>
    public int Layer { get; }

    /// <summary>FFRNN frame (0-based); 0 for the other models.</summary>
    public int Frame { get; }

    /// <summary>Number of rows (samples) in <see cref="Activations"/>.</summary>
    public int Rows { get; }

    /// <summary>The first <see cref="Positives"/> rows are positive data, the rest negative (FF); all rows for BPNN.</summary>
    public int Positives { get; }

    /// <summary>Neurons in the layer.</summary>
    public int Width { get; }

    /// <summary>Rows × Width activations, row-major.</summary>
    public ReadOnlySpan<float> Activations { get; }

    /// <summary>Per-row mean squared activation (goodness before the threshold); empty for BPNN.</summary>
    public ReadOnlySpan<float> MeanSquares { get; }
}

/// <summary>Receives every layer's activations during training (before that layer's update).</summary>
public delegate void LayerActivationObserver(in LayerActivation activation);

