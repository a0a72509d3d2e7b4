using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// A model that predicts the class of highest score from one score per class (a backprop head's logits, the
/// FFNN+C's classifier): what a student learns from as a teacher's preference order (distillation).
/// Models that score labels by goodness are <see cref="ILabelScorer"/>s instead.
/// </summary>
public interface IClassScorer : IClassifierModel
{
    /// <summary>One score per class and image (images × classes); the prediction is each row's highest.</summary>
    Matrix ClassScores(Matrix images);
}
