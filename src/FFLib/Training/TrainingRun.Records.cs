using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;

namespace FFLib.Training;

/// <summary>What a run writes about itself: the model file's training metadata and run.json (docs/run-format.md).</summary>
public static partial class TrainingRun
{
    /// <summary>The "training" metadata stored in the model file.</summary>
    public static JsonObject TrainingMetadata(RunSpec spec, RunResult? result) => JsonNumbers.Finite(new JsonObject
    {
        ["dataset"] = DatasetCatalog.IdOf(spec.Dataset),
        ["architecture"] = spec.Architecture.Id,
        ["seed"] = spec.Seed,
        ["epochs"] = spec.Training.Epochs,
        ["batch_size"] = spec.Training.BatchSize,
        ["train_limit"] = spec.TrainLimit,
        ["test_limit"] = spec.TestLimit,
        ["validation_fraction"] = spec.ValidationFraction,
        ["train_samples"] = result?.TrainSamples,
        ["test_accuracy"] = result?.TestAccuracy,
    });

    /// <summary>The run record written to run.json: config, per-epoch metrics, test accuracy, timings, machine.</summary>
    public static JsonObject RunJson(RunSpec spec, RunResult r)
    {
        var c = r.Model.ConfigToJson();
        // Every setting the architecture declares, under its key (the one spelling of options, grids and ids): any architecture's runs are recorded alike.
        var config = new JsonObject
        {
            ["model"] = spec.Architecture.Id,
            ["dataset"] = DatasetCatalog.IdOf(spec.Dataset),
            ["layers"] = c["hidden_sizes"]?.DeepClone(),
            ["image_features"] = r.Model.ImageFeatures,
            ["classes"] = r.Model.Classes,
            ["lr"] = spec.Model.LearningRateFor(spec.Architecture),
        };
        foreach (var s in spec.Architecture.Settings) config[s.Key] = s.ToJson(spec.Model.Get(s));
        // A backprop model's objective (its architecture has no FF loss direction).
        if (!config.ContainsKey("loss") && !spec.Architecture.UsesNegativeData) config["loss"] = "cross-entropy";
        config["epochs"] = spec.Training.Epochs;
        config["batch_size"] = spec.Training.BatchSize;
        config["negatives"] = NegativeModes.Id(spec.Training.Negatives);
        // Written only when it is not the paper's constant rate: earlier records stay as they were.
        if (spec.Training.Schedule != LearningRateSchedule.Constant) config["lr_schedule"] = LearningRateSchedules.Id(spec.Training.Schedule);
        config["seed"] = spec.Seed;
        config["train_limit"] = spec.TrainLimit;
        config["test_limit"] = spec.TestLimit;
        config["validation_fraction"] = spec.ValidationFraction;
        config["threads"] = ComputeSettings.Threads;
        config["device"] = (spec.Backend ?? ComputeBackend.Cpu).Name;
        config["precision"] = (spec.Backend ?? ComputeBackend.Cpu).Precision;
        config["device_name"] = (spec.Backend ?? ComputeBackend.Cpu).Description;
        // Non-finite numbers (a loss that overflowed) are written as null: a record never fails to write.
        var record = JsonNumbers.Finite(new JsonObject
        {
            ["format"] = "fflib-run",
            ["format_version"] = 1,
            ["status"] = "completed",
            ["library_version"] = ModelCheckpoint.LibraryVersion,
            ["created_utc"] = DateTime.UtcNow.ToString("o"),
            ["config"] = config,
            ["model_config"] = c,
            ["data"] = new JsonObject
            {
                ["source"] = r.DataLocation.Source,
                ["folder"] = r.DataLocation.Folder,
                ["train_samples"] = r.TrainSamples,
                ["validation_samples"] = r.ValidationSamples,
                ["test_samples"] = r.TestSamples,
            },
            ["epochs"] = EpochsJson(r.Epochs),
            ["test_accuracy"] = r.TestAccuracy,
            ["timings"] = new JsonObject
            {
                ["train_seconds"] = r.TrainSeconds,
                ["seconds_per_epoch"] = r.Epochs.Count > 0 ? r.Epochs.Average(e => e.TrainSeconds) : null,
                ["test_seconds"] = r.TestSeconds,
            },
            ["machine"] = new JsonObject
            {
                ["processors"] = Environment.ProcessorCount,
                ["simd"] = ComputeSettings.SimdPath,
                ["vector512"] = Vector512.IsHardwareAccelerated,
                ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            },
        });
        // With sparsity tracking: each layer's dead neurons on the probe after training (dead-neurons.csv has the series).
        if (r.DeadNeuronSamples is { Count: > 0 } dead)
        {
            long last = dead[^1].Step;
            record["dead_neurons"] = new JsonArray(dead.Where(d => d.Step == last).Select(d => (JsonNode)new JsonObject
            {
                ["layer"] = d.Layer, ["neurons"] = d.Neurons, ["dead"] = d.Dead,
            }).ToArray());
        }
        return record;
    }

    /// <summary>Per-epoch metrics as run.json records them.</summary>
    private static JsonArray EpochsJson(IEnumerable<EpochMetrics> epochs) => new(epochs.Select(e => (JsonNode)new JsonObject
    {
        ["epoch"] = e.Epoch,
        ["phase"] = e.Phase.ToString(),
        ["loss_names"] = new JsonArray(e.LossNames.Select(x => (JsonNode)x).ToArray()),
        ["layer_losses"] = new JsonArray(e.LayerLosses.Select(x => (JsonNode)x).ToArray()),
        ["validation_accuracy"] = e.ValidationAccuracy,
        ["train_seconds"] = e.TrainSeconds,
        ["validation_seconds"] = e.ValidationSeconds,
    }).ToArray());
}
