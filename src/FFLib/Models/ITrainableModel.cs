using FFLib.Compute;

namespace FFLib.Models;

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
