using FFLib.Compute;

namespace FFLib.Models;

/// <summary>A model that scores every label of an image (FFNN, FFRNN): the basis of prediction and of hard negatives.</summary>
public interface ILabelScorer
{
    /// <summary>Row i, column c: the model's score for image i with label c.</summary>
    Matrix LabelScores(Matrix images);

    /// <summary>Minimize: the lowest score is the most plausible label (L−); Maximize: the highest (L+).</summary>
    Layers.LossDirection ScoreDirection { get; }
}
