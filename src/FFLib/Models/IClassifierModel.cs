using FFLib.Compute;

namespace FFLib.Models;

/// <summary>The network families of the paper.</summary>
public enum Architecture
{
    /// <summary>FFNN: a stack of FF dense layers, prediction by trying every label.</summary>
    Ffnn,

    /// <summary>FFNN+C: an FF stack plus a linear classifier on its concatenated outputs.</summary>
    Ffc,

    /// <summary>FFRNN: Hinton's recurrent FF network.</summary>
    Ffrnn,

    /// <summary>BPNN: the backprop-trained MLP baseline.</summary>
    Bpnn,
}

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

/// <summary>A trained model that maps images to classes.</summary>
public interface IClassifierModel
{
    /// <summary>Which network family.</summary>
    Architecture Architecture { get; }

    /// <summary>Values per image.</summary>
    int ImageFeatures { get; }

    /// <summary>Number of classes.</summary>
    int Classes { get; }

    /// <summary>Predicted class of every row of <paramref name="images"/>.</summary>
    int[] Predict(Matrix images);
}

/// <summary>A model that a <see cref="Training.Trainer"/> can train batch by batch.</summary>
public interface ITrainableModel : IClassifierModel
{
    /// <summary>The phase of each epoch for a run of <paramref name="requestedEpochs"/> epochs.</summary>
    IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs);

    /// <summary>Names of the losses <see cref="TrainBatch"/> returns in a phase (e.g. one per FF layer).</summary>
    IReadOnlyList<string> LossNames(TrainingPhase phase);

    /// <summary>
    /// One training step. <paramref name="negativeLabels"/> hold one wrong label per image (used by
    /// the FF phases; ignored otherwise). Returns the losses named by <see cref="LossNames"/>.
    /// </summary>
    float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, ReadOnlySpan<int> negativeLabels, TrainingPhase phase);
}
