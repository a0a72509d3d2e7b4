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

/// <summary>A model that scores every label of an image (FFNN, FFRNN): the basis of prediction and of hard negatives.</summary>
public interface ILabelScorer
{
    /// <summary>Row i, column c: the model's score for image i with label c.</summary>
    Matrix LabelScores(Matrix images);

    /// <summary>Minimize: the lowest score is the most plausible label (L−); Maximize: the highest (L+).</summary>
    Layers.LossDirection ScoreDirection { get; }
}

/// <summary>A model whose hidden layers' activations can be read for given inputs (activation and HSV maps).</summary>
public interface IActivationSource
{
    /// <summary>
    /// Each hidden layer's activations (rows = images). <paramref name="label"/> is the control
    /// vector's label for FF models (null: all zeros); the BPNN ignores it. FFRNN: the states
    /// after K_testhigh frames.
    /// </summary>
    Matrix[] LayerActivations(Matrix images, int? label);

    /// <summary>Whether the activations depend on the label (FF models); false for models that ignore it (BPNN).</summary>
    bool ActivationsDependOnLabel => true;
}

/// <summary>A model that a <see cref="Training.Trainer"/> can train batch by batch.</summary>
public interface ITrainableModel : IClassifierModel
{
    /// <summary>Every optimiser of the model (e.g. for a learning-rate schedule in a before-epoch hook).</summary>
    IReadOnlyList<Optim.AdamOptimizer> AllOptimizers { get; }

    /// <summary>Called with each layer's activations during <see cref="TrainBatch"/>; null for none.</summary>
    LayerActivationObserver? ActivationObserver { get; set; }

    /// <summary>The phase of each epoch for a run of <paramref name="requestedEpochs"/> epochs.</summary>
    IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs);

    /// <summary>Names of the losses <see cref="TrainBatch"/> returns in a phase (e.g. one per FF layer).</summary>
    IReadOnlyList<string> LossNames(TrainingPhase phase);

    /// <summary>
    /// One training step. <paramref name="negativeControl"/> (images × classes) holds the control
    /// vector of each image's negative sample: a one-hot wrong label, or any other vector (e.g. the
    /// "inverse" all-wrong-labels one). Used by the FF phases, ignored otherwise. Returns the losses
    /// named by <see cref="LossNames"/>.
    /// </summary>
    float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase);
}
