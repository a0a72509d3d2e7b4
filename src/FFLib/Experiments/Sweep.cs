using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Analysis;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>The record of one finished (or failed) run in a results folder (with sparsity tracking: the four sparsity metrics and the dead neurons per layer over training).</summary>
/// <remarks>Seconds: the whole run's, from setup to the sparsity report; a resumed run adds the training time its checkpoint carries from earlier calls.</remarks>
public sealed record RunRecord(
    string Id, string Status, string? Reason, string Architecture, string Dataset, int[] Layers, string Loss, float LearningRate, float Threshold,
    int Seed, int Epochs, double? TestAccuracy, IReadOnlyList<ParameterReport>? Sparsity, double Seconds, string FinishedUtc,
    IReadOnlyList<SparsitySample>? SparsityOverTraining = null, string? Worker = null, int? ResumedFromEpoch = null, JsonObject? Settings = null,
    IReadOnlyList<DeadNeuronSample>? DeadNeuronsOverTraining = null);

/// <summary>How a sweep worker shares a results folder with others.</summary>
public sealed record SweepWorkerOptions
{
    /// <summary>Run again the runs recorded as diverged or failed.</summary>
    public bool RetryFailed { get; init; }

    /// <summary>A claim whose heartbeat is older than this is taken over (its worker is presumed dead). Default 5 minutes.</summary>
    public TimeSpan ClaimTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// When every unfinished run is held by other workers: wait for them (and take over any whose
    /// worker dies) until the whole list is finished (true, the default), or return at once.
    /// </summary>
    public bool WaitForOthers { get; init; } = true;

    /// <summary>Write an exact-resume checkpoint into work/ID/ every N epochs, so a run interrupted or taken over continues from it; null: off.</summary>
    public int? CheckpointEvery { get; init; } = 1;

    /// <summary>Also checkpoint inside an epoch every M minutes (see <see cref="RunSpec.CheckpointMinutes"/>); null: only at epoch ends.</summary>
    public double? CheckpointMinutes { get; init; }

    /// <summary>Keep each completed run's model as models/ID.safetensors.</summary>
    public bool SaveModels { get; init; }

    /// <summary>This worker's name in claims, records and workers/NAME.log (null: host-pid-random).</summary>
    public string? Worker { get; init; }

    /// <summary>Progress lines.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>What one worker did: the records it wrote, and how many of its runs are still unfinished (held by others when it stopped waiting).</summary>
public sealed record SweepOutcome(IReadOnlyList<RunRecord> Written, int Unfinished, IReadOnlyList<string> Warnings, string Worker);



/// <summary>
/// Runs a sweep into a results folder: one JSON record per run in DIR/runs/ID.json, the ID a hash
/// of the run's full configuration. Any number of workers (processes, machines) may run the same
/// list into one folder at once: each claims a run before training it (<see cref="RunClaims"/>),
/// so no run is trained twice while its worker lives, and a run whose worker died is taken over
/// after the claim timeout, continuing from the run's last checkpoint in DIR/work/ID/. Finished
/// runs are skipped, so running the sweep again resumes it. Runs go longest first, so the end of a
/// sweep is not one long run on one worker. Shards (<see cref="Shard"/>) give a fixed partition instead.
/// </summary>
public static partial class SweepRunner
{
    /// <summary>Stable identifier of a run: SHA-256 of its canonical configuration (<see cref="RunSettings"/>), 16 hex digits.</summary>
    public static string RunId(RunSpec run) => IdOf(RunSettings(run));

    /// <summary>The id a record's <see cref="RunRecord.Settings"/> hash to; a record whose id differs is not counted.</summary>
    public static string IdOf(JsonObject settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(settings.ToJsonString())))[..16];
    }

    /// <summary>
    /// A run's canonical configuration: every setting that changes its numbers and nothing else. Its
    /// hash is the run's id, and every record carries it, so a record can be checked against its own name.
    /// </summary>
    /// <remarks>
    /// The layout is that of the first version, so that every id ever written still names its run:
    /// slots "loss" ("ce" for an architecture without a loss direction), "threshold", "classifier_lr"
    /// and "recurrent" (β/K_train/K_testlow/K_testhigh) hold the built-in settings an architecture
    /// declares, null where it declares none. Any other setting the architecture declares follows
    /// the fixed keys, under its key, only when its value is not its default: a hyperparameter added
    /// later, left at its default (which must reproduce the runs before it), changes no id.
    /// </remarks>
    public static JsonObject RunSettings(RunSpec run)
    {
        ArgumentNullException.ThrowIfNull(run);
        // The settings the architecture reads, and only those (an id never depends on a value the run ignores).
        var arch = run.Architecture;
        var m = run.Model;
        string? Slot(params ModelSetting[] settings) => settings.All(arch.Uses) ? string.Join("/", settings.Select(s => s.Format(m.Get(s)))) : null;
        var canonical = new JsonObject
        {
            ["architecture"] = arch.Id,
            ["dataset"] = DatasetCatalog.IdOf(run.Dataset),
            ["layers"] = new JsonArray(m.HiddenSizes.Select(h => (JsonNode)h).ToArray()),
            ["loss"] = LossId(run),
            ["lr"] = m.LearningRateFor(arch).ToString("R", CultureInfo.InvariantCulture),
            ["threshold"] = Slot(FFSettings.Threshold),
            ["classifier_lr"] = Slot(FFClassifierSettings.ClassifierLearningRate),
            ["recurrent"] = Slot(RecurrentSlot),
            ["epochs"] = run.Training.Epochs,
            ["batch"] = run.Training.BatchSize,
            ["negatives"] = run.Training.Negatives.ToString(),
            ["seed"] = run.Seed,
            ["train_limit"] = run.TrainLimit,
            ["test_limit"] = run.TestLimit,
            ["validation"] = run.ValidationFraction,
        };
        // Products in TF32 give other numbers; fp32 (every device's default) leaves the ids as they always were.
        if (run.Backend is { Precision: not "fp32" } backend) canonical["precision"] = backend.Precision;
        if (run.Training.Schedule != LearningRateSchedule.Constant) canonical["lr_schedule"] = LearningRateSchedules.Id(run.Training.Schedule);
        foreach (var s in arch.Settings)
            if (!LegacySlots.Contains(s) && !Equals(m.Get(s), s.DefaultValue)) canonical[s.Key] = s.Format(m.Get(s));
        return canonical;
    }

    private static readonly ModelSetting[] RecurrentSlot = [FFRecurrentSettings.Beta, FFRecurrentSettings.TrainFrames, FFRecurrentSettings.TestFrameLow, FFRecurrentSettings.TestFrameHigh];

    /// <summary>The settings the first id layout has slots for (<see cref="RunSettings"/>).</summary>
    private static readonly ModelSetting[] LegacySlots = [FFSettings.Loss, FFSettings.Threshold, FFClassifierSettings.ClassifierLearningRate, .. RecurrentSlot];

    /// <summary>The runs of shard <paramref name="index"/> of <paramref name="count"/>: those at positions p with p mod count = index.</summary>
    public static IReadOnlyList<RunSpec> Shard(IReadOnlyList<RunSpec> runs, int index, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "The shard count must be at least 1.");
        if ((uint)index >= (uint)count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The shard index must be in [0, {count}).");
        return runs.Where((_, p) => p % count == index).ToArray();
    }

    /// <summary>Path of a run's record.</summary>
    public static string RecordPath(string resultsDir, string id) => Path.Combine(resultsDir, "runs", id + ".json");

    /// <summary>
    /// Trains every run of the list that has no finished record, sharing the folder with any other
    /// workers through claims. Returns when every run is finished (or, with
    /// <see cref="SweepWorkerOptions.WaitForOthers"/> off, when the rest are held by others).
    /// Cancelling stops the run in progress at its next batch, checkpoints it there for whoever
    /// continues it (when checkpoints are on), releases its claim and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public static SweepOutcome Run(IReadOnlyList<RunSpec> runs, string resultsDir, SweepWorkerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentException.ThrowIfNullOrEmpty(resultsDir);
        options ??= new SweepWorkerOptions();
        if (options.CheckpointEvery is < 1) throw new ArgumentOutOfRangeException(nameof(options), options.CheckpointEvery, "CheckpointEvery must be at least 1 epoch.");
        foreach (var sub in new[] { "runs", "claims", "work", "models", "workers" }) RefuseLink(Path.Combine(resultsDir, sub));
        Directory.CreateDirectory(Path.Combine(resultsDir, "runs"));
        var claims = new RunClaims(resultsDir, options.Worker ?? RunClaims.NewWorkerName(), options.ClaimTimeout);
        var worker = new WorkerLog(resultsDir, claims.Worker);
        var log = options.Log;
        // Longest first (a stable sort: equal runs keep the grid's order).
        var order = runs.Select((r, i) => (Run: r, Id: RunId(r), Position: i + 1)).OrderByDescending(x => Reproduction.EstimateSeconds([x.Run])).ToArray();
        var finished = new HashSet<string>(StringComparer.Ordinal);
        var written = new List<RunRecord>();
        var warnings = new List<string>();
        bool announced = false;
        while (true)
        {
            var heldBy = new Dictionary<string, string>(StringComparer.Ordinal);
            bool trained = false;
            foreach (var (run, id, position) in order)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (finished.Contains(id) || IsFinished(resultsDir, id, options.RetryFailed, out _)) { finished.Add(id); continue; }
                using var claim = claims.TryAcquire(id, out var holder, out var takenOver, Describe(run));
                if (claim is null) { heldBy[id] = holder ?? "?"; continue; }
                // Checked again now that it is ours: another worker may have finished it just before.
                if (IsFinished(resultsDir, id, options.RetryFailed, out var problem)) { finished.Add(id); continue; }
                if (problem is not null) warnings.Add(SetAside(resultsDir, id, problem, log));
                string where = $"[{position}/{runs.Count}] {id} {Describe(run)}";
                if (takenOver is not null) log?.Invoke($"{where}: taking over from {takenOver} (no heartbeat for {claims.Timeout.TotalSeconds:F0} s)");
                var record = TrainOne(run, id, resultsDir, options, claim, worker, where, cancellationToken);
                if (record is null) continue; // lost to another worker
                written.Add(record);
                finished.Add(id);
                trained = true;
            }
            if (heldBy.Count == 0) return new SweepOutcome(written, 0, warnings, claims.Worker);
            if (!options.WaitForOthers)
            {
                log?.Invoke($"{heldBy.Count} unfinished run(s) are held by other workers ({string.Join(", ", heldBy.Values.Distinct().Take(3))}); not waiting for them");
                return new SweepOutcome(written, heldBy.Count, warnings, claims.Worker);
            }
            if (trained) continue;
            if (!announced)
                log?.Invoke($"waiting for {heldBy.Count} run(s) held by other workers ({string.Join(", ", heldBy.Values.Distinct().Take(3))}); a claim without a heartbeat for {claims.Timeout.TotalSeconds:F0} s is taken over");
            announced = true;
            cancellationToken.WaitHandle.WaitOne(claims.HeartbeatInterval < TimeSpan.FromSeconds(10) ? claims.HeartbeatInterval : TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>The runs of <paramref name="runs"/> that have no finished record in <paramref name="resultsDir"/> yet (what a worker would still train).</summary>
    public static IReadOnlyList<RunSpec> Unfinished(IReadOnlyList<RunSpec> runs, string resultsDir)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentException.ThrowIfNullOrEmpty(resultsDir);
        return runs.Where(r => !IsFinished(resultsDir, RunId(r), retryFailed: false, out _)).ToArray();
    }

    /// <summary>Whether run <paramref name="id"/> has a record that ends it; <paramref name="problem"/> says why a file in its place is not a record.</summary>
    private static bool IsFinished(string resultsDir, string id, bool retryFailed, out string? problem)
    {
        problem = null;
        string path = RecordPath(resultsDir, id);
        if (!File.Exists(path) && !Directory.Exists(path) && new FileInfo(path).LinkTarget is null) return false;
        var (record, why) = SweepResults.TryRead(path);
        if (record is null) { problem = why; return false; }
        return record.Status == "completed" || !retryFailed;
    }

    /// <summary>The results folder's own subfolders are never reached through a link: a write there would land wherever it points.</summary>
    private static void RefuseLink(string path)
    {
        if (new DirectoryInfo(path).LinkTarget is string target)
            throw new IOException($"{path} is a symbolic link (to {target}); FFLib never writes through links inside a results folder. Replace it with a real folder.");
    }

    /// <summary>Moves a damaged file out of a run's record slot (into runs/bad/) so the run can be trained; nothing is deleted.</summary>
    private static string SetAside(string resultsDir, string id, string problem, Action<string>? log)
    {
        string path = RecordPath(resultsDir, id);
        string bad = Path.Combine(resultsDir, "runs", "bad");
        Directory.CreateDirectory(bad);
        string dest = Path.Combine(bad, $"{id}.json.{DateTime.UtcNow:yyyyMMddTHHmmssfff}");
        if (Directory.Exists(path) && new FileInfo(path).LinkTarget is null) Directory.Move(path, dest);
        else File.Move(path, dest);
        string message = $"{path} was not a usable record ({problem}); moved to {dest} and the run is trained again";
        log?.Invoke("warning: " + message);
        return message;
    }

    private static RunRecord? TrainOne(RunSpec run, string id, string resultsDir, SweepWorkerOptions options, RunClaim claim, WorkerLog worker,
        string where, CancellationToken cancellationToken)
    {
        var log = options.Log;
        string work = Path.Combine(resultsDir, "work", id);
        if (new DirectoryInfo(work).LinkTarget is string target)
        {
            // A run's scratch folder is the sweep's own: a link in its place goes (not what it points to), and a real folder is made.
            new FileInfo(work).Delete();
            log?.Invoke($"warning: {work} was a symbolic link (to {target}); removed, and the run writes into a folder of its own");
        }
        string checkpoint = Path.Combine(work, TrainingCheckpoint.FileName);
        var resumeFrom = ResumablePoint(checkpoint, id, log);
        bool keepFiles = options.CheckpointEvery is not null || options.CheckpointMinutes is not null || options.SaveModels;
        log?.Invoke(resumeFrom is { } r0 ? $"{where}: resuming after {Describe(r0)}" : $"{where}: running");
        worker.Write(resumeFrom is { } r1 ? $"resumed {id} after {Describe(r1)}" : $"started {id}");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, claim.Lost);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        // A resumed run's seconds include what its checkpoint carries from the calls before this one.
        double Seconds() => sw.Elapsed.TotalSeconds + (resumeFrom?.Seconds ?? 0);
        RunRecord record;
        try
        {
            // A run lost to another worker leaves the checkpoint to its new owner; one stopped by SIGTERM saves where it is.
            bool SaveOnStop() => !claim.Lost.IsCancellationRequested;
            // A line per epoch, and inside a long epoch one every 10 s: no run sits silent at "running".
            var progress = log is null ? null : new QuietProgress(log, "    ");
            void Epoch(EpochMetrics m) => log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"    epoch {m.Epoch}{(m.ValidationAccuracy is double v ? $": validation accuracy {v * 100:F2}%" : "")}, {m.TrainSeconds:F1} s"));
            var result = resumeFrom is not null
                ? TrainingRun.Resume(work, progress, Epoch, stop.Token, backend: run.Backend, data: run.Data, checkpointWhenCancelled: SaveOnStop)
                : TrainingRun.Execute(run with { OutputDirectory = keepFiles ? work : null, CheckpointEvery = options.CheckpointEvery, CheckpointMinutes = options.CheckpointMinutes }, progress, Epoch, stop.Token, checkpointWhenCancelled: SaveOnStop);
            var report = ModelAnalysis.Analyze(result.Model);
            // Done with the model: on a GPU, its memory goes now (a long sweep must not wait for the collector).
            if (result.Model is Modules.ComputeModule trained) trained.DiscardDeviceMemory();
            record = Make(id, run, "completed", null, result.TestAccuracy, report.Parameters, Seconds())
                with { SparsityOverTraining = result.SparsitySamples, DeadNeuronsOverTraining = result.DeadNeuronSamples, Worker = worker.Name, ResumedFromEpoch = resumeFrom?.Epochs };
        }
        catch (TrainingDivergedException e)
        {
            record = Make(id, run, "diverged", e.Message, null, null, Seconds()) with { Worker = worker.Name, ResumedFromEpoch = resumeFrom?.Epochs };
        }
        catch (OperationCanceledException) when (claim.Lost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            log?.Invoke($"{where}: lost the claim to {claim.LostTo}; left to it");
            worker.Write($"lost {id} to {claim.LostTo}");
            return null;
        }
        catch (OperationCanceledException)
        {
            var kept = ResumablePoint(checkpoint, id, null);
            log?.Invoke($"{where}: interrupted; {(kept is { } k ? $"checkpointed after {Describe(k)} for whoever continues it" : "no checkpoint yet")}");
            worker.Write($"interrupted {id}{(kept is { } k2 ? $" after {Describe(k2)}" : "")}");
            throw;
        }
        if (claim.Lost.IsCancellationRequested) { worker.Write($"lost {id} to {claim.LostTo}"); return null; }
        if (options.SaveModels && File.Exists(Path.Combine(work, "model.safetensors")))
            File.Move(Path.Combine(work, "model.safetensors"), Path.Combine(Directory.CreateDirectory(Path.Combine(resultsDir, "models")).FullName, id + ".safetensors"), overwrite: true);
        AtomicFile.WriteAllText(RecordPath(resultsDir, id), JsonSerializer.Serialize(record, TrainingCheckpoint.Json) + "\n");
        worker.Write($"{record.Status} {id}");
        try { if (Directory.Exists(work)) Directory.Delete(work, recursive: true); } catch (IOException) { }
        log?.Invoke($"    {record.Status}{(record.TestAccuracy is double a ? $", test accuracy {a * 100:F2}%" : "")} in {record.Seconds:F1} s");
        return record;
    }

    /// <summary>Where a run's checkpoint stands (epochs done, and batches of the next one when it was interrupted inside it), when there is one of this very run that can be read.</summary>
    private static (int Epochs, int? Batches, double Seconds)? ResumablePoint(string checkpoint, string id, Action<string>? log)
    {
        if (!File.Exists(checkpoint)) return null;
        if (new FileInfo(checkpoint).LinkTarget is not null) { log?.Invoke($"warning: {checkpoint} is a symbolic link; links are never followed in a results folder, starting over"); return null; }
        try
        {
            var (spec, done, batches, seconds) = TrainingCheckpoint.ReadHeader(checkpoint);
            if (spec is null || RunId(spec) != id) { log?.Invoke($"warning: {checkpoint} belongs to another run; starting over"); return null; }
            return done is int d ? (d, batches, seconds) : null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException or EndOfStreamException)
        {
            log?.Invoke($"warning: {checkpoint} cannot be read ({e.Message}); starting over");
            return null;
        }
    }

    private static string Describe((int Epochs, int? Batches, double Seconds) point) =>
        point.Batches is int b ? $"epoch {point.Epochs + 1}, batch {b}" : $"epoch {point.Epochs}";

    /// <summary>"min" or "max" for an FF loss direction; "ce" for an architecture without one (cross-entropy).</summary>
    private static string LossId(RunSpec run) =>
        run.Architecture.Uses(FFSettings.Loss) ? FFSettings.Loss.Format(run.Model.Get(FFSettings.Loss)) : "ce";

    private static RunRecord Make(string id, RunSpec run, string status, string? reason, double? acc, IReadOnlyList<ParameterReport>? sparsity, double seconds) =>
        new(id, status, reason, run.Architecture.Id, DatasetCatalog.IdOf(run.Dataset),
            run.Model.HiddenSizes.ToArray(), LossId(run), run.Model.LearningRateFor(run.Architecture), run.Model.Threshold, (int)run.Seed, run.Training.Epochs, acc, sparsity, seconds,
            DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture), Settings: RunSettings(run));

    /// <summary>
    /// A run in the command line's words, only the settings its architecture declares ("ffnn mnist
    /// layers 2000,2000 lr 0.02 threshold 20 loss min seed 3"); a setting beyond θ and the loss
    /// direction is named only when it is not at its default.
    /// </summary>
    public static string Describe(RunSpec r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var m = r.Model;
        var inv = CultureInfo.InvariantCulture;
        var settings = r.Architecture.Settings
            .Where(s => s == FFSettings.Threshold || s == FFSettings.Loss || !Equals(m.Get(s), s.DefaultValue))
            .Select(s => $" {s.OptionName} {s.Format(m.Get(s))}");
        return $"{r.Architecture.Id} {DatasetCatalog.IdOf(r.Dataset)} layers {string.Join(",", m.HiddenSizes)} lr {m.LearningRateFor(r.Architecture).ToString(inv)}"
            + string.Concat(settings) + $" seed {r.Seed.ToString(inv)}";
    }

    /// <summary>A progress line inside an epoch at most every 10 s (sweeps print one line per epoch otherwise).</summary>
    private sealed class QuietProgress(Action<string> log, string indent) : IProgress<TrainingProgress>
    {
        private readonly System.Diagnostics.Stopwatch _since = System.Diagnostics.Stopwatch.StartNew();

        public void Report(TrainingProgress p)
        {
            if (_since.Elapsed.TotalSeconds < 10) return;
            _since.Restart();
            log(string.Create(CultureInfo.InvariantCulture, $"{indent}epoch {p.Epoch}/{p.Epochs}, batch {p.Batch}/{p.Batches}, loss {p.Loss:F4}"));
        }
    }

    /// <summary>workers/NAME.log: one line per run this worker started, resumed, finished, lost or left (who trained what, for audits and tests).</summary>
    private sealed class WorkerLog(string resultsDir, string name)
    {
        public string Name { get; } = name;

        public void Write(string line)
        {
            string dir = Path.Combine(resultsDir, "workers");
            Directory.CreateDirectory(dir);
            File.AppendAllText(Path.Combine(dir, Name + ".log"), $"{DateTime.UtcNow:o} {line}\n");
        }
    }
}
