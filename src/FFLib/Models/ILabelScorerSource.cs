namespace FFLib.Models;

/// <summary>A model that has a label scorer inside it (FFNN+C's FF stack), used for hard negatives.</summary>
public interface ILabelScorerSource
{
    /// <summary>The scorer that rates every label of an image.</summary>
    ILabelScorer LabelScorer { get; }
}
