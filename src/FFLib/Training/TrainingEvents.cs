using FFLib.Models;

namespace FFLib.Training;

// The small records the training loop reports through: where it is, what an epoch measured, where it stopped.

/// <summary>The state passed to the before-epoch hook.</summary>
/// <param name="Epoch">1-based epoch about to start.</param>
/// <param name="Epochs">Total epochs of the run.</param>
/// <param name="Phase">What the epoch will train.</param>
/// <param name="Model">The model (its <see cref="ITrainableModel.AllOptimizers"/> accept new learning rates).</param>
public sealed record EpochStart(int Epoch, int Epochs, TrainingPhase Phase, ITrainableModel Model);

/// <summary>The state passed to the before-batch hook.</summary>
public sealed record BatchStart(int Epoch, int Batch, int Batches, TrainingPhase Phase, ITrainableModel Model);

/// <summary>Where a training run is, reported after every batch.</summary>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, long SamplesSeen, float Loss, TimeSpan Elapsed);

/// <summary>
/// Where training stopped inside an epoch (cancelled between two batches): with the model, its
/// optimisers and the random source as they were then, all an exact resume needs.
/// </summary>
/// <param name="Epoch">The 1-based epoch that was interrupted.</param>
/// <param name="BatchesDone">Batches of it already trained.</param>
/// <param name="Order">The epoch's shuffled order of the training images.</param>
/// <param name="LossSums">Per loss, the sum over the batches done.</param>
/// <param name="Seconds">Training seconds spent in the epoch so far.</param>
public sealed record PartialEpoch(int Epoch, int BatchesDone, int[] Order, double[] LossSums, double Seconds);

/// <summary>Metrics of one finished epoch.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Phase">What the epoch trained.</param>
/// <param name="LossNames">Names of <paramref name="LayerLosses"/> (e.g. "layer 1" or "cross-entropy").</param>
/// <param name="LayerLosses">Mean of each loss over the epoch's batches (FF: one per layer).</param>
/// <param name="ValidationAccuracy">Accuracy on the validation set, or null when none was measured.</param>
/// <param name="TrainSeconds">Wall time of the epoch's training batches.</param>
/// <param name="ValidationSeconds">Wall time of the validation pass.</param>
public sealed record EpochMetrics(int Epoch, TrainingPhase Phase, IReadOnlyList<string> LossNames, IReadOnlyList<double> LayerLosses, double? ValidationAccuracy, double TrainSeconds, double ValidationSeconds)
{
    /// <summary>Whether the model's plan still has a classifier epoch to come (FFNN+C, an FF CNN's linear head): the
    /// validation accuracy went through a classifier not trained yet.</summary>
    public bool ClassifierPending { get; init; }
}
