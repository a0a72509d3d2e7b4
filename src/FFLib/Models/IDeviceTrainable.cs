using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// A training step on a batch that is already on the model's backend, its losses left there: the
/// <see cref="Training.Trainer"/>'s path, which keeps a device busy (the batch gathered on the device from a
/// resident copy of the training set, the losses read every few batches). The public
/// <see cref="ITrainableModel.TrainBatch"/> stages the batch and reads the losses at once; both
/// run the same step.
/// </summary>
internal interface IDeviceTrainable
{
    /// <summary>
    /// One step. <paramref name="images"/>: labels.Length × <see cref="IClassifierModel.ImageFeatures"/>
    /// on the model's backend; <paramref name="losses"/>: the step's loss record,
    /// floats on the backend (<see cref="LossRecordLength"/>), written, not read.
    /// </summary>
    void TrainBatch(DeviceSpan images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase, DeviceSpan losses);

    /// <summary>Floats a step writes into its loss record (the FFRNN: one per layer and frame); by default one per loss.</summary>
    int LossRecordLength(TrainingPhase phase) => ((ITrainableModel)this).LossNames(phase).Count;

    /// <summary>The losses named by <see cref="ITrainableModel.LossNames"/> from a step's record, read back; by default the record itself.</summary>
    void ReduceLosses(TrainingPhase phase, ReadOnlySpan<float> record, Span<float> losses) => record.Slice(0, losses.Length).CopyTo(losses);
}
