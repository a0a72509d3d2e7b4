namespace FFLib.Training;

/// <summary>Training-loop settings (defaults: the paper's Table 1).</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 60;

    /// <summary>Positive samples per batch (each also gives one negative sample). The last batch of an epoch may be smaller.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Whether to measure validation accuracy after every epoch (needs a validation set).</summary>
    public bool ValidateEachEpoch { get; init; } = true;

    /// <summary>How negative data are made (FF phases only).</summary>
    public NegativeMode Negatives { get; init; } = NegativeMode.Random;

    /// <summary>
    /// A wrong label for every training image, by its index (e.g. a teacher's second choice, <c>Distillation</c>): with
    /// <see cref="NegativeMode.Random"/>, FF phases use it instead of a random draw (the draw is still made, so the
    /// shuffles stay those of a run without it). Null: random negatives.
    /// </summary>
    public IReadOnlyList<int>? GivenNegatives { get; init; }

    /// <summary>
    /// Negative labels drawn every epoch from a ranking of each image's wrong classes (e.g. a teacher's, <c>Distillation</c>),
    /// with <see cref="NegativeMode.Random"/>: FF phases use the draw instead of a uniform one (which is still made, so the
    /// shuffles stay those of a run without it). Null: random negatives.
    /// </summary>
    public RankedNegatives? RankedNegatives { get; init; }

    /// <summary>How the learning rate moves over each training phase (default: constant, the paper's).</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Throws with a precise message if any value is out of range.</summary>
    public void Validate()
    {
        if (Epochs < 0) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be non-negative.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (GivenNegatives is not null && Negatives != NegativeMode.Random)
            throw new ArgumentException($"GivenNegatives replace random negatives; they cannot be combined with {Negatives} negatives.", nameof(GivenNegatives));
        if (RankedNegatives is not null && (GivenNegatives is not null || Negatives != NegativeMode.Random))
            throw new ArgumentException($"RankedNegatives replace random negatives; they cannot be combined with {(GivenNegatives is not null ? "GivenNegatives" : Negatives + " negatives")}.", nameof(RankedNegatives));
        if (!Enum.IsDefined(Schedule)) throw new ArgumentOutOfRangeException(nameof(Schedule), Schedule, "Unknown learning-rate schedule.");
    }
}

/// <summary>How the negative sample of each image is labelled (docs/architectures.md, "Data conventions").</summary>
public enum NegativeMode
{
    /// <summary>A wrong label drawn uniformly from the other classes (the paper's choice).</summary>
    Random,

    /// <summary>The reference's "inverse" generator: every wrong label set to 1, the true one 0.</summary>
    Inverse,

    /// <summary>The wrong label the current model finds most plausible (needs a model that scores labels: FFNN, FFRNN, the FFNN+C stack).</summary>
    Hard,

    /// <summary>A wrong label sampled with probability ∝ exp(plausibility) under the current model, as in Hinton's paper.</summary>
    HardSampled,
}
