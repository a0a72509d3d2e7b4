using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>Everything that defines one training run on a built-in dataset.</summary>
public sealed record RunSpec
{
    /// <summary>Which network family to train.</summary>
    public Architecture Architecture { get; init; } = Architecture.Ffnn;

    /// <summary>Which dataset.</summary>
    public DatasetKind Dataset { get; init; } = DatasetKind.Mnist;

    /// <summary>The model's settings (widths, learning rate, θ, loss, FFNN+C and FFRNN extras); image size and classes come from the data.</summary>
    public ModelSettings Model { get; init; } = new();

    /// <summary>Loop settings.</summary>
    public TrainingOptions Training { get; init; } = new();

    /// <summary>Seed of the run's random source (initialisation, shuffles, negative labels).</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Use only the first N images of the training file (before the validation split).</summary>
    public int? TrainLimit { get; init; }

    /// <summary>Evaluate on only the first N test images.</summary>
    public int? TestLimit { get; init; }

    /// <summary>Fraction of the (limited) training file held out at its end for validation.</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Where to find the data.</summary>
    public DatasetLoadOptions Data { get; init; } = new();

    /// <summary>Record the four sparsity metrics of every weight tensor every N batches (written to sparsity.csv); null: off.</summary>
    public int? TrackSparsityEvery { get; init; }

    /// <summary>Write a resumable <see cref="TrainingCheckpoint"/> every N epochs (and after the last); null: off.</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary>
    /// Also checkpoint inside an epoch, at the first batch after this many minutes since the last
    /// checkpoint (for long epochs: a kill loses at most this much); null: only at epoch ends.
    /// </summary>
    public double? CheckpointMinutes { get; init; }

    /// <summary>Where the arithmetic runs (null: the CPU). Not part of the saved specification: a resumed run names its device again.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ComputeBackend? Backend { get; init; }

    /// <summary>Folder for model.safetensors and run.json; null writes nothing.</summary>
    public string? OutputDirectory { get; init; }
}
