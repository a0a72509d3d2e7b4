using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Analysis;
using FFLib.Data;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>A grid of runs: every combination of the listed values, times the seeds.</summary>
public sealed record SweepSpec
{
    /// <summary>Architectures.</summary>
    public IReadOnlyList<Architecture> Models { get; init; } = [Architecture.Ffnn];

    /// <summary>Datasets.</summary>
    public IReadOnlyList<DatasetKind> Datasets { get; init; } = [DatasetKind.Mnist];

    /// <summary>Learning rates (null: each architecture's default, 0.02 FF / 1e-4 BPNN).</summary>
    public IReadOnlyList<float>? LearningRates { get; init; }

    /// <summary>Thresholds θ.</summary>
    public IReadOnlyList<float> Thresholds { get; init; } = [20f];

    /// <summary>Hidden layer widths.</summary>
    public IReadOnlyList<int[]> Layers { get; init; } = [[2000, 2000]];

    /// <summary>Loss directions (L− and/or L+).</summary>
    public IReadOnlyList<LossDirection> Losses { get; init; } = [LossDirection.Minimize];

    /// <summary>Seeds 0..Seeds−1.</summary>
    public int Seeds { get; init; } = 10;

    /// <summary>Epochs per run.</summary>
    public int Epochs { get; init; } = 60;

    /// <summary>Batch size.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Training images used (first N of the training file).</summary>
    public int? TrainLimit { get; init; }

    /// <summary>Test images used.</summary>
    public int? TestLimit { get; init; }

    /// <summary>Record every weight matrix's sparsity every N batches in each run's record (Figures 9–12); null: off.</summary>
    public int? TrackSparsityEvery { get; init; }

    /// <summary>FFNN+C classifier learning rate.</summary>
    public float ClassifierLearningRate { get; init; } = 1e-4f;

    /// <summary>FFRNN dynamics (β, K_train, K_testlow, K_testhigh); widths, θ, loss and learning rates come from the grid.</summary>
    public ModelSettings Recurrent { get; init; } = new();

    /// <summary>Where the data come from.</summary>
    public DatasetLoadOptions Data { get; init; } = new();

    /// <summary>Where every run computes (null: the CPU). Not part of a run's id: results compare across devices.</summary>
    public Compute.ComputeBackend? Backend { get; init; }

    /// <summary>Every run of the grid, in a fixed order (dataset, model, layers, loss, lr, θ, seed).</summary>
    public IReadOnlyList<RunSpec> Expand()
    {
        var runs = new List<RunSpec>();
        foreach (var d in Datasets)
            foreach (var m in Models)
                foreach (var layers in Layers)
                    // An architecture without a loss direction or threshold (the BPNN) runs once for them.
                    foreach (var loss in m.UsedSettings.HasFlag(ModelSettingKinds.Loss) ? Losses : [LossDirection.Minimize])
                        foreach (var lr in LearningRates ?? [m.DefaultLearningRate])
                            foreach (var theta in m.UsedSettings.HasFlag(ModelSettingKinds.Threshold) ? Thresholds : [Thresholds[0]])
                                for (int seed = 0; seed < Seeds; seed++)
                                    runs.Add(new RunSpec
                                    {
                                        Architecture = m,
                                        Dataset = d,
                                        Model = Recurrent with
                                        {
                                            HiddenSizes = layers, Threshold = theta, Loss = loss, LearningRate = lr, ClassifierLearningRate = ClassifierLearningRate,
                                        },
                                        Training = new TrainingOptions { Epochs = Epochs, BatchSize = BatchSize },
                                        Seed = seed,
                                        TrainLimit = TrainLimit,
                                        TestLimit = TestLimit,
                                        TrackSparsityEvery = TrackSparsityEvery,
                                        Data = Data,
                                        Backend = Backend,
                                    });
        return runs;
    }
}

/// <summary>The record of one finished (or failed) run in a results folder.</summary>
public sealed record RunRecord(
    string Id, string Status, string? Reason, string Architecture, string Dataset, int[] Layers, string Loss, float LearningRate, float Threshold,
    int Seed, int Epochs, double? TestAccuracy, IReadOnlyList<ParameterReport>? Sparsity, double Seconds, string FinishedUtc,
    IReadOnlyList<SparsitySample>? SparsityOverTraining = null);

/// <summary>
/// Runs a sweep into a results folder: one JSON record per run in DIR/runs/ID.json, the ID a
/// hash of the run's full configuration. Finished runs are skipped when the sweep is run again
/// (a kill loses at most the run in progress); failed ones are retried on request. Sharding
/// gives shard i the runs at positions p with p mod N = i, so N processes (Slurm array, Kubernetes
/// Indexed Job) share one folder without overlap or clashes.
/// </summary>
public static class SweepRunner
{
    /// <summary>Stable identifier of a run: SHA-256 of its canonical configuration, 16 hex digits.</summary>
    public static string RunId(RunSpec run)
    {
        // The settings the architecture reads, and only those (an id never depends on a value the run ignores).
        var used = run.Architecture.UsedSettings;
        var m = run.Model;
        var canonical = new JsonObject
        {
            ["architecture"] = run.Architecture.Id,
            ["dataset"] = DatasetCatalog.IdOf(run.Dataset),
            ["layers"] = new JsonArray(m.HiddenSizes.Select(h => (JsonNode)h).ToArray()),
            ["loss"] = LossId(run),
            ["lr"] = m.LearningRateFor(run.Architecture).ToString("R", CultureInfo.InvariantCulture),
            ["threshold"] = used.HasFlag(ModelSettingKinds.Threshold) ? m.Threshold.ToString("R", CultureInfo.InvariantCulture) : null,
            ["classifier_lr"] = used.HasFlag(ModelSettingKinds.ClassifierLearningRate) ? m.ClassifierLearningRate.ToString("R", CultureInfo.InvariantCulture) : null,
            ["recurrent"] = used.HasFlag(ModelSettingKinds.RecurrentDynamics) ? $"{m.Beta:R}/{m.TrainFrames}/{m.TestFrameLow}/{m.TestFrameHigh}" : null,
            ["epochs"] = run.Training.Epochs,
            ["batch"] = run.Training.BatchSize,
            ["negatives"] = run.Training.Negatives.ToString(),
            ["seed"] = run.Seed,
            ["train_limit"] = run.TrainLimit,
            ["test_limit"] = run.TestLimit,
            ["validation"] = run.ValidationFraction,
        };
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToJsonString())))[..16];
    }

    /// <summary>The runs of shard <paramref name="index"/> of <paramref name="count"/>.</summary>
    public static IReadOnlyList<RunSpec> Shard(IReadOnlyList<RunSpec> runs, int index, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "The shard count must be at least 1.");
        if ((uint)index >= (uint)count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The shard index must be in [0, {count}).");
        return runs.Where((_, p) => p % count == index).ToArray();
    }

    /// <summary>The shard index from Slurm (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX), if set.</summary>
    public static int? ShardIndexFromEnvironment()
    {
        foreach (var name in new[] { "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX" })
            if (int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int i)) return i;
        return null;
    }

    /// <summary>Path of a run's record.</summary>
    public static string RecordPath(string resultsDir, string id) => Path.Combine(resultsDir, "runs", id + ".json");

    /// <summary>
    /// Runs every run of the list that has no completed record (and, with <paramref name="retryFailed"/>,
    /// those that failed). Returns the records written now.
    /// </summary>
    public static IReadOnlyList<RunRecord> Run(IReadOnlyList<RunSpec> runs, string resultsDir, bool retryFailed = false,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Path.Combine(resultsDir, "runs"));
        var written = new List<RunRecord>();
        int i = 0;
        foreach (var run in runs)
        {
            i++;
            cancellationToken.ThrowIfCancellationRequested();
            string id = RunId(run);
            string path = RecordPath(resultsDir, id);
            if (File.Exists(path))
            {
                var old = Read(path);
                if (old.Status == "completed" || !retryFailed) { log?.Invoke($"[{i}/{runs.Count}] {id} {Describe(run)}: {old.Status}, skipped"); continue; }
            }
            log?.Invoke($"[{i}/{runs.Count}] {id} {Describe(run)}: running");
            var sw = System.Diagnostics.Stopwatch.StartNew();
            RunRecord record;
            try
            {
                var result = TrainingRun.Execute(run with { OutputDirectory = null }, cancellationToken: cancellationToken);
                var report = ModelAnalysis.Analyze(result.Model);
                record = Make(id, run, "completed", null, result.TestAccuracy, report.Parameters, sw.Elapsed.TotalSeconds) with { SparsityOverTraining = result.SparsitySamples };
            }
            catch (TrainingDivergedException e)
            {
                record = Make(id, run, "diverged", e.Message, null, null, sw.Elapsed.TotalSeconds);
            }
            AtomicFile.WriteAllText(path, JsonSerializer.Serialize(record, TrainingCheckpoint.Json) + "\n");
            log?.Invoke($"    {record.Status}{(record.TestAccuracy is double a ? $", test accuracy {a * 100:F2}%" : "")} in {record.Seconds:F1} s");
            written.Add(record);
        }
        return written;
    }

    /// <summary>All records of a results folder, sorted by id.</summary>
    public static IReadOnlyList<RunRecord> ReadAll(string resultsDir)
    {
        string runsDir = Path.Combine(resultsDir, "runs");
        if (!Directory.Exists(resultsDir)) throw new DirectoryNotFoundException($"The results folder {resultsDir} does not exist.");
        if (!Directory.Exists(runsDir)) throw new DirectoryNotFoundException($"{resultsDir} holds no runs/ folder: is it a sweep results folder?");
        return Directory.GetFiles(runsDir, "*.json").Select(Read).OrderBy(r => r.Id, StringComparer.Ordinal).ToArray();
    }

    private static RunRecord Read(string path)
    {
        try { return JsonSerializer.Deserialize<RunRecord>(File.ReadAllText(path), TrainingCheckpoint.Json) ?? throw new InvalidDataException($"{path}: empty run record."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a run record ({e.Message})."); }
    }

    /// <summary>"min" or "max" for an FF loss direction; "ce" for an architecture without one (cross-entropy).</summary>
    private static string LossId(RunSpec run) =>
        !run.Architecture.UsedSettings.HasFlag(ModelSettingKinds.Loss) ? "ce" : run.Model.Loss == LossDirection.Minimize ? "min" : "max";

    private static RunRecord Make(string id, RunSpec run, string status, string? reason, double? acc, IReadOnlyList<ParameterReport>? sparsity, double seconds) =>
        new(id, status, reason, run.Architecture.Id, DatasetCatalog.IdOf(run.Dataset),
            run.Model.HiddenSizes.ToArray(), LossId(run), run.Model.LearningRateFor(run.Architecture), run.Model.Threshold, (int)run.Seed, run.Training.Epochs, acc, sparsity, seconds,
            DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture));

    private static string Describe(RunSpec r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Architecture.Id} {DatasetCatalog.IdOf(r.Dataset)} {string.Join("×", r.Model.HiddenSizes)} lr {r.Model.LearningRateFor(r.Architecture)} θ {r.Model.Threshold} {r.Model.Loss} seed {r.Seed}");
}
