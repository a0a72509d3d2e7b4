using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>Load data, build, train, test and save a model: the library call behind <c>fflib train</c>.</summary>
public static partial class TrainingRun
{
    /// <summary>Runs <paramref name="spec"/>; writes model.safetensors and run.json when an output folder is set.</summary>
    /// <remarks>
    /// Cancelling stops training between two batches; with <see cref="RunSpec.CheckpointEvery"/> set and an
    /// output folder, the state at that batch is saved as the checkpoint first (unless
    /// <paramref name="checkpointWhenCancelled"/> says no), so <see cref="Resume"/> continues mid-epoch.
    /// </remarks>
    public static RunResult Execute(RunSpec spec, IProgress<TrainingProgress>? progress = null,
        Action<EpochMetrics>? epochCompleted = null, CancellationToken cancellationToken = default, Func<bool>? checkpointWhenCancelled = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec);
        var split = Prepare(spec);
        var random = new FFRandom(spec.Seed);
        var model = CreateModel(spec, split.Train.Features, split.Train.Classes, random);
        return Run(spec, split, new StartState(model, random, 0, [], null), new Hooks(progress, epochCompleted, cancellationToken, checkpointWhenCancelled));
    }

    /// <summary>
    /// Continues the run whose <see cref="TrainingCheckpoint"/> is in <paramref name="folder"/> (written with
    /// <see cref="RunSpec.CheckpointEvery"/>) to its planned epochs; ends bit-identical to an uninterrupted run.
    /// </summary>
    /// <remarks><paramref name="data"/>: where to find the data now (null: as the checkpoint recorded); a run taken over on another machine names its own.</remarks>
    public static RunResult Resume(string folder, IProgress<TrainingProgress>? progress = null,
        Action<EpochMetrics>? epochCompleted = null, CancellationToken cancellationToken = default, ComputeBackend? backend = null,
        DatasetLoadOptions? data = null, Func<bool>? checkpointWhenCancelled = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string path = Directory.Exists(folder) ? Path.Combine(folder, TrainingCheckpoint.FileName) : folder;
        if (!File.Exists(path)) throw new FileNotFoundException($"No training checkpoint at {path}: resume needs a run started with RunSpec.CheckpointEvery set.", path);
        var state = TrainingCheckpoint.Load(path);
        var spec = state.Spec with { OutputDirectory = Directory.Exists(folder) ? folder : Path.GetDirectoryName(Path.GetFullPath(path)), Backend = backend, Data = data ?? state.Spec.Data };
        Validate(spec);
        (progress as IRunPhaseObserver)?.PhaseStarted(state.Partial is { } inside
            ? $"resuming after epoch {state.EpochsDone}, batch {inside.BatchesDone} of epoch {inside.Epoch}"
            : $"resuming after epoch {state.EpochsDone}");
        return Run(spec, Prepare(spec), new StartState(state.Model, state.Random, state.EpochsDone, state.History, state.Partial),
            new Hooks(progress, epochCompleted, cancellationToken, checkpointWhenCancelled));
    }

    private static void Validate(RunSpec spec)
    {
        if (spec.TrainLimit is < 1) throw new ArgumentOutOfRangeException(nameof(spec), spec.TrainLimit, "TrainLimit must be at least 1.");
        if (spec.TestLimit is < 1) throw new ArgumentOutOfRangeException(nameof(spec), spec.TestLimit, "TestLimit must be at least 1.");
        if (spec.CheckpointEvery is < 1) throw new ArgumentOutOfRangeException(nameof(spec), spec.CheckpointEvery, "CheckpointEvery must be at least 1 epoch.");
        if (spec.CheckpointMinutes is double cm && !(cm > 0 && double.IsFinite(cm))) throw new ArgumentOutOfRangeException(nameof(spec), cm, "CheckpointMinutes must be a positive number of minutes.");
        spec.Training.Validate();
    }

    /// <summary>Images the dead-neuron count is taken on: up to 500 validation images (training images when there is no validation split).</summary>
    private static DeadNeuronTracker DeadNeuronProbe(Split split, int everyBatches)
    {
        var source = split.Validation.Count > 0 ? split.Validation : split.Train;
        int n = Math.Min(500, source.Count);
        var labels = Enumerable.Range(0, n).Select(source.Label).ToArray();
        return new DeadNeuronTracker(everyBatches, source.ToMatrix(0, n), labels, source.Classes);
    }

    private sealed record Split(ImageDataset Train, ImageDataset Validation, ImageDataset Test, DatasetLocation Location);

    private static Split Prepare(RunSpec spec)
    {
        var data = DatasetLoader.Load(spec.Dataset, spec.Data);
        var trainFile = spec.TrainLimit is int tl ? data.Train.Take(tl) : data.Train;
        var (train, validation) = trainFile.SplitLast(spec.ValidationFraction);
        var test = spec.TestLimit is int tsl ? data.Test.Take(tsl) : data.Test;
        if (train.Count == 0) throw new ArgumentException($"No training images are left after the {spec.ValidationFraction:P0} validation split of {trainFile.Count}.");
        // Checked before training: an accuracy over no images is undefined, and a finished training must not be lost to it.
        if (test.Count == 0) throw new InvalidDataException($"The {data.Test.Name} set holds no images ({data.Location.Folder}); a run needs a test set to report on.");
        return new Split(train, validation, test, data.Location);
    }

    /// <summary>Where a run starts: a fresh model (0 epochs done), or a checkpoint's model, random source and history.</summary>
    private sealed record StartState(ITrainableModel Model, FFRandom Random, int EpochsDone, IReadOnlyList<EpochMetrics> History, PartialEpoch? Partial);

    /// <summary>What the caller listens and stops with.</summary>
    private sealed record Hooks(IProgress<TrainingProgress>? Progress, Action<EpochMetrics>? EpochCompleted, CancellationToken Cancellation, Func<bool>? CheckpointWhenCancelled);

    private static RunResult Run(RunSpec spec, Split split, StartState start, Hooks hooks)
    {
        try
        {
            // The output folder is this run's until it returns: a second process given the same folder is refused at once.
            using var hold = spec.OutputDirectory is string dir ? FolderLock.Acquire(dir) : null;
            return RunModel(spec, split, start, hooks);
        }
        catch when (start.Model is Modules.ComputeModule { Backend: var b } m && b != ComputeBackend.Cpu)
        {
            // The caller never sees a model whose run failed (diverged, stopped, a full disk): its
            // device memory goes now, not whenever a collection runs, and nothing is copied back.
            try { m.DiscardDeviceMemory(); }
            catch (Exception) { } // a GPU that failed keeps failing; the first error is the one to report
            throw;
        }
    }

    private static RunResult RunModel(RunSpec spec, Split split, StartState start, Hooks hooks)
    {
        var (model, random, epochsDone, previous, partial) = start;
        var (progress, epochCompleted, cancellationToken, checkpointWhenCancelled) = hooks;
        var history = previous.ToList();
        var phases = progress as IRunPhaseObserver;
        phases?.PhaseStarted($"data: {split.Location.Source} ({split.Location.Folder}); train {split.Train.Count}, validation {split.Validation.Count}, test {split.Test.Count}");
        if (spec.Backend is { } backend)
        {
            if (model is not Modules.ComputeModule device)
                throw new ArgumentException($"{model.Architecture.DisplayName} models compute on the CPU only (the class is not a ComputeModule computing through its Backend, as examples/CustomArchitecture's is); the {backend.Name} backend was asked for.", nameof(spec));
            device.Backend = backend;
        }
        string? dir = spec.OutputDirectory;
        if (dir is not null) Directory.CreateDirectory(dir);
        var tracker = spec.TrackSparsityEvery is int every ? new SparsityTracker(every) : null;
        string? sparsityCsv = dir is null ? null : Path.Combine(dir, "sparsity.csv");
        if (tracker is not null && (epochsDone > 0 || partial is not null))
        {
            // Resuming: the samples written with the checkpoint, and the batch count where it was taken.
            long batchesPerEpoch = (split.Train.Count + spec.Training.BatchSize - 1) / spec.Training.BatchSize;
            var earlier = sparsityCsv is not null && File.Exists(sparsityCsv) ? SparsityTracker.ReadCsv(sparsityCsv) : [];
            tracker.Restore(earlier, epochsDone * batchesPerEpoch + (partial?.BatchesDone ?? 0));
        }
        // Dead neurons beside the weight metrics, on a fixed probe: the first validation images (training ones without a validation split).
        var dead = tracker is null || model is not IActivationSource ? null : DeadNeuronProbe(split, tracker.EveryBatches);
        string? deadCsv = dir is null ? null : Path.Combine(dir, "dead-neurons.csv");
        if (dead is not null && (epochsDone > 0 || partial is not null))
        {
            long batchesPerEpoch = (split.Train.Count + spec.Training.BatchSize - 1) / spec.Training.BatchSize;
            var earlier = deadCsv is not null && File.Exists(deadCsv) ? DeadNeuronTracker.ReadCsv(deadCsv) : [];
            dead.Restore(earlier, epochsDone * batchesPerEpoch + (partial?.BatchesDone ?? 0));
        }
        bool checkpointing = dir is not null && (spec.CheckpointEvery is not null || spec.CheckpointMinutes is not null);
        var sinceCheckpoint = Stopwatch.StartNew();
        // Every checkpoint: after epochsDone epochs, or inside the next one; the sparsity record so far goes
        // with it, so a resumed run continues the same series.
        void SaveCheckpoint(int done, PartialEpoch? inside)
        {
            TrainingCheckpoint.Save(Path.Combine(dir!, TrainingCheckpoint.FileName), model, random, done, history, spec, inside);
            tracker?.WriteCsv(sparsityCsv!);
            dead?.WriteCsv(deadCsv!);
            sinceCheckpoint.Restart();
        }
        void OnEpoch(EpochMetrics m)
        {
            history.Add(m);
            // Written after the epoch's validation, when model and random source are in their post-epoch state.
            if (checkpointing && (m.Epoch % (spec.CheckpointEvery ?? 1) == 0 || m.Epoch == model.PlanEpochs(spec.Training.Epochs).Count))
                SaveCheckpoint(m.Epoch, null);
            epochCompleted?.Invoke(m);
        }
        void SaveInside(PartialEpoch p) => SaveCheckpoint(p.Epoch - 1, p);
        // Stopped between two batches (SIGTERM, preemption): the state at this batch becomes the checkpoint.
        void OnInterrupted(PartialEpoch p)
        {
            if (checkpointing && (checkpointWhenCancelled?.Invoke() ?? true)) SaveInside(p);
        }
        var trainer = new Trainer
        {
            Progress = progress, EpochCompleted = OnEpoch, BeforeBatch = tracker is null ? null : b => { tracker.BeforeBatch(b); dead?.BeforeBatch(b); }, Interrupted = OnInterrupted,
            SnapshotDue = checkpointing && spec.CheckpointMinutes is double minutes ? () => sinceCheckpoint.Elapsed.TotalMinutes >= minutes : null,
            Snapshot = checkpointing ? SaveInside : null,
        };
        var sw = Stopwatch.StartNew();
        try
        {
            if (partial is not null) trainer.Train(model, split.Train, split.Validation, spec.Training, random, partial, cancellationToken);
            else trainer.Train(model, split.Train, split.Validation, spec.Training, random, epochsDone + 1, cancellationToken);
        }
        catch (TrainingDivergedException e) when (dir is not null)
        {
            // Keep the last good checkpoint as it is; record why the run stopped.
            var record = JsonNumbers.Finite(new JsonObject
            {
                ["format"] = "fflib-run",
                ["format_version"] = 1,
                ["status"] = "diverged",
                ["reason"] = e.Message,
                ["epoch"] = e.Epoch,
                ["layer"] = e.Layer,
                ["spec"] = JsonNode.Parse(JsonSerializer.Serialize(spec, TrainingCheckpoint.Json)),
                ["epochs"] = EpochsJson(history),
            });
            AtomicFile.WriteAllText(Path.Combine(dir, "run.json"), record.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            throw;
        }
        double trainSeconds = sw.Elapsed.TotalSeconds + previous.Sum(e => e.TrainSeconds + e.ValidationSeconds) + (partial?.Seconds ?? 0);
        tracker?.RecordFinal(model);
        dead?.RecordFinal(model);
        sw.Restart();
        phases?.PhaseStarted($"testing on {split.Test.Count} images");
        double testAcc = Evaluation.Accuracy(model, split.Test);
        double testSeconds = sw.Elapsed.TotalSeconds;

        var result = new RunResult(model, history, testAcc, split.Train.Count, split.Validation.Count, split.Test.Count,
            trainSeconds, testSeconds, split.Location, null, null, tracker?.Samples, DeadNeuronSamples: dead?.Samples);
        if (dir is not null)
        {
            // The folder's files are replaced as a set, run.json last: a folder whose run.json is missing
            // or not "completed" is an unfinished run, and a failed write (a full disk) replaces nothing.
            string modelPath = Path.Combine(dir, "model.safetensors");
            string runPath = Path.Combine(dir, "run.json");
            using var files = new FileSet();
            try
            {
                ModelCheckpoint.Save(files.Stage(modelPath), model, TrainingMetadata(spec, result));
                result = result with { ModelPath = modelPath, RunJsonPath = runPath };
                if (tracker is not null)
                {
                    tracker.WriteCsv(files.Stage(sparsityCsv!));
                    result = result with { SparsityCsvPath = sparsityCsv };
                }
                if (dead is not null)
                {
                    dead.WriteCsv(files.Stage(deadCsv!));
                    result = result with { DeadNeuronsCsvPath = deadCsv };
                }
                files.WriteAllText(runPath, RunJson(spec, result).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            }
            catch (IOException e)
            {
                throw new IOException($"saving the trained model into {dir} failed ({e.Message.Split(" : '")[0]}); model.safetensors and run.json were left as they were.", e);
            }
            files.Commit();
        }
        return result;
    }

    /// <summary>A freshly initialised model of the spec's architecture, sized for the data.</summary>
    public static ITrainableModel CreateModel(RunSpec spec, int imageFeatures, int classes, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(spec.Architecture);
        ArgumentNullException.ThrowIfNull(spec.Model);
        spec.Architecture.ValidateSettings(spec.Model);
        return spec.Architecture.Create(spec.Model, imageFeatures, classes, random);
    }
}
