using FFLib.Models;
using FFLib.Data;

namespace FFLib.Training;

/// <summary>The outcome of a <see cref="TrainingRun"/>.</summary>
public sealed record RunResult(
    ITrainableModel Model,
    IReadOnlyList<EpochMetrics> Epochs,
    double TestAccuracy,
    int TrainSamples,
    int ValidationSamples,
    int TestSamples,
    double TrainSeconds,
    double TestSeconds,
    DatasetLocation DataLocation,
    string? ModelPath,
    string? RunJsonPath,
    IReadOnlyList<Analysis.SparsitySample>? SparsitySamples = null,
    string? SparsityCsvPath = null,
    IReadOnlyList<DeadNeuronSample>? DeadNeuronSamples = null,
    string? DeadNeuronsCsvPath = null);
