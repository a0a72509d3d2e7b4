using System.CommandLine;
using System.Globalization;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary><c>fflib train</c>: wires the options into <see cref="TrainingRun.Execute"/>.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Architecture: " + string.Join("; ", ArchitectureRegistry.All.Select(a => $"{a.Id} ({a.DisplayName}: {a.Description})")) + ".", DefaultValueFactory = _ => "ffnn" };
        var dataset = new Option<string>("--dataset") { Description = "mnist, fashion-mnist or cifar10.", DefaultValueFactory = _ => "mnist" };
        var layers = new Option<string?>("--layers") { Description = "Comma-separated hidden layer widths (channels per layer for ffcnn/bpcnn). Default: 2000,2000 (CNNs: 32,64,128)." };
        var epochs = new Option<int?>("--epochs", "-e") { Description = "Training epochs (default and --preset paper: 60 for MNIST/FashionMNIST, 120 for CIFAR-10; FFNN+C: first half FF, second half classifier)." };
        var preset = new Option<string?>("--preset") { Description = "'paper': the paper's Table 1 settings for the model and dataset (explicit options still win)." };
        var batch = new Option<int>("--batch-size") { Description = "Batch size.", DefaultValueFactory = _ => 128 };
        var lr = new Option<float?>("--lr") { Description = "Adam learning rate (default: 0.02 for FF layers, 1e-4 for bpnn, 1e-3 for bpcnn)." };
        // θ, the loss direction and every other architecture's setting: one option per declared setting.
        var settingOptions = new SettingOptions();
        var negatives = new Option<string>("--negatives") { Description = "Negative data: random (a uniformly drawn wrong label), inverse (every wrong label set), hard (the wrong label the model finds most plausible) or hard-sampled.", DefaultValueFactory = _ => "random" };
        var schedule = new Option<string>("--lr-schedule") { Description = "Learning rate over training: constant (the paper's) or cosine (decays to 0 over each phase, per batch).", DefaultValueFactory = _ => "constant" };
        var seed = new Option<long>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 42 };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Use only the first N training images (before the 10% validation split)." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Evaluate on only the first N test images." };
        var valFraction = new Option<double>("--validation-fraction") { Description = "Share of the training file held out at its end.", DefaultValueFactory = _ => 0.1 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var outDir = new Option<string?>("--out", "-o") { Description = "Output folder for model.safetensors and run.json (default: a new runs/TIME-MODEL-DATASET; runs/latest points at the newest)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the model in an --out folder that already holds one." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files (IDX, raw or .gz)." };
        var noDownload = new Option<bool>("--no-download") { Description = "Never download; fail if no local copy is found." };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Save a resumable checkpoint (model, optimiser, random state) in the output folder every N epochs." };
        var checkpointMinutes = new Option<double?>("--checkpoint-minutes") { Description = "Also checkpoint inside an epoch, every M minutes (long epochs: a kill loses at most M minutes)." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its checkpoint (its settings come from the checkpoint)." };
        var trackSparsity = new Option<int?>("--track-sparsity") { Description = "Record the four sparsity metrics of every weight matrix every N batches: sparsity.csv and one PNG per metric in the output folder." };

        var device = Cli.DeviceOption();
        var precision = Cli.PrecisionOption();
        var cmd = new Command("train", "Train a model on a dataset, report validation and test accuracy, save it.")
        {
            device, precision,
            model, dataset, preset, layers, epochs, batch, lr, schedule, negatives, seed, trainLimit, testLimit, valFraction, threads, outDir, overwrite, dataDir, noDownload, trackSparsity, checkpointEvery, checkpointMinutes, resume,
        };
        foreach (var o in settingOptions.Options) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Run(() =>
        {
            if (pr.GetValue(resume) is { } resumeDir)
            {
                int rt = pr.GetValue(threads);
                if (rt < 1) throw new UsageException($"--threads must be at least 1, not {rt}.");
                ComputeSettings.Threads = rt;
                Console.Error.WriteLine($"fflib train: resuming {resumeDir}");
                RunResult resumed;
                using (var interrupt = new Interruption($"fflib train --resume {resumeDir} continues from the last checkpoint"))
                using (var display = new ProgressDisplay())
                    resumed = TrainingRun.Resume(resumeDir, display, display.EpochCompleted, interrupt.Token, backend: Cli.OpenDevice(pr.GetValue(device)!, pr.GetValue(precision)!));
                Report(resumed, null, null);
                return 0;
            }
            Architecture arch;
            try { arch = ModelCheckpoint.ParseArchitecture(pr.GetValue(model)!); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            string? presetName = pr.GetValue(preset)?.Trim().ToLowerInvariant();
            if (presetName is not null and not "paper") throw new UsageException($"--preset must be 'paper', not '{presetName}'.");
            var kind = Cli.ParseDataset(pr.GetValue(dataset)!);
            var sizes = pr.GetValue(layers) is { } layerText ? ParseLayers(layerText) : arch.DefaultHiddenSizes.ToArray();
            var negativeMode = NegativeModes.Parse(pr.GetValue(negatives)!)
                ?? throw new UsageException($"--negatives must be random, inverse, hard or hard-sampled, not '{pr.GetValue(negatives)}'.");
            if (!arch.UsesNegativeData && negativeMode != NegativeMode.Random)
                throw new UsageException($"--negatives applies to FF models; a {arch.Id} model uses no negative data.");
            LearningRateSchedule lrSchedule;
            try { lrSchedule = LearningRateSchedules.Parse(pr.GetValue(schedule)!); }
            catch (FormatException e) { throw new UsageException($"--lr-schedule: {e.Message}"); }
            int nThreads = pr.GetValue(threads);
            if (nThreads < 1) throw new UsageException($"--threads must be at least 1, not {nThreads}.");
            ComputeSettings.Threads = nThreads;
            // Table 1: 60 epochs for MNIST and FashionMNIST (CIFAR-10: 120); lr 0.02 for FF layers, 1e-4 for the BPNN.
            int epochCount = pr.GetValue(epochs) ?? (kind == DatasetKind.Cifar10 ? 120 : 60);
            if (epochCount < 1) throw new UsageException($"--epochs must be at least 1, not {epochCount}.");
            // Every run gets its own folder unless --out names one; a folder holding a model is not overwritten silently.
            float learningRate = pr.GetValue(lr) ?? arch.DefaultLearningRate;
            var spec = new RunSpec
            {
                Architecture = arch,
                Dataset = kind,
                Model = settingOptions.Apply(pr, arch, new ModelSettings { HiddenSizes = sizes, LearningRate = learningRate }),
                Training = new TrainingOptions { Epochs = epochCount, BatchSize = pr.GetValue(batch), Negatives = negativeMode, Schedule = lrSchedule },
                Seed = pr.GetValue(seed),
                TrainLimit = pr.GetValue(trainLimit),
                TestLimit = pr.GetValue(testLimit),
                ValidationFraction = pr.GetValue(valFraction),
                Data = Cli.DataOptions(pr.GetValue(dataDir), pr.GetValue(noDownload)),
                Backend = Cli.OpenDevice(pr.GetValue(device)!, pr.GetValue(precision)!),
                TrackSparsityEvery = pr.GetValue(trackSparsity),
                CheckpointEvery = pr.GetValue(checkpointEvery),
                CheckpointMinutes = pr.GetValue(checkpointMinutes),
            };
            if (spec.CheckpointEvery is < 1) throw new UsageException($"--checkpoint-every must be at least 1 epoch, not {spec.CheckpointEvery}.");
            if (spec.CheckpointMinutes is double cm && !(cm > 0 && double.IsFinite(cm))) throw new UsageException($"--checkpoint-minutes must be a positive number of minutes, not {cm}.");
            if (spec.TrackSparsityEvery is < 1) throw new UsageException($"--track-sparsity must be at least 1 batch, not {spec.TrackSparsityEvery}.");
            SettingOptions.Validate(arch, spec.Model);
            if (spec.Training.BatchSize < 1) throw new UsageException($"--batch-size must be at least 1, not {spec.Training.BatchSize}.");
            if (spec.TrainLimit is < 1) throw new UsageException($"--train-limit must be at least 1, not {spec.TrainLimit}.");
            if (spec.TestLimit is < 1) throw new UsageException($"--test-limit must be at least 1, not {spec.TestLimit}.");
            if (!(spec.ValidationFraction is >= 0 and < 1)) throw new UsageException($"--validation-fraction must be at least 0 and below 1, not {spec.ValidationFraction}.");
            try { FFLib.Experiments.SweepSpec.CheckShape(sizes, kind); }
            catch (ArgumentOutOfRangeException e)
            {
                string why = Cli.Clean(e.Message);
                throw new UsageException($"--layers {string.Join(",", sizes)}: {why[(why.IndexOf(": ", StringComparison.Ordinal) + 2)..]}");
            }
            if (arch.ShapeProblem(spec.Model, kind == DatasetKind.Cifar10 ? 3072 : 784) is { } shapeProblem)
                throw new UsageException($"--layers {string.Join(",", sizes)}{(arch.Uses(CnnSettings.Conv) ? $" --conv {spec.Model.Get(CnnSettings.Conv)}" : "")}: {shapeProblem} ({DatasetCatalog.IdOf(kind)} images).");
            if ((long)spec.Training.BatchSize * sizes.Max() * 2 > Array.MaxLength)
                throw new UsageException($"--batch-size {spec.Training.BatchSize} with --layers {string.Join(",", sizes)}: a batch's activations ({spec.Training.BatchSize}×{sizes.Max()}, positive and negative) are more than one array can hold ({Array.MaxLength} values).");
            spec.Training.Validate();

            // The folder is locked before it is checked, and held until the run ends: two processes never share one.
            string? chosenOut = pr.GetValue(outDir);
            bool defaultOut = chosenOut is null;
            if (chosenOut is not null && File.Exists(chosenOut)) throw new UsageException($"--out must be a folder; {chosenOut} is a file.");
            var (runDir, hold) = chosenOut is null
                ? RunFolders.ClaimNew("runs", $"{ModelCheckpoint.ArchitectureId(arch)}-{DatasetCatalog.IdOf(kind)}")
                : (chosenOut, FolderLock.Acquire(chosenOut));
            using var held = hold;
            spec = spec with { OutputDirectory = runDir };
            if (File.Exists(Path.Combine(runDir, "model.safetensors")) && !pr.GetValue(overwrite))
                throw new UsageException($"--out {runDir} already holds a model; pass --overwrite to replace it, or choose another folder.");
            // Every setting as its option spells it, and only those the architecture declares; one that is off (0, its
            // default: the regularisers) is left out, so the line names what shapes this run.
            var declared = arch.Settings
                .Where(s => !(s.DefaultValue is float d && d == 0f && spec.Model.Get(s) is float v && v == 0f))
                .Select(s => $"{s.OptionName} {s.Format(spec.Model.Get(s))}");
            if (!arch.Uses(FFSettings.Loss) && !arch.UsesNegativeData) declared = declared.Prepend("loss cross-entropy");
            if (arch.UsesNegativeData) declared = declared.Append($"negatives {NegativeModes.Id(negativeMode)}");
            string rule = string.Join(", ", declared);
            Console.Error.WriteLine($"fflib train: {ModelCheckpoint.ArchitectureId(arch)} on {DatasetCatalog.IdOf(kind)}, layers {string.Join(",", sizes)}, {spec.Training.Epochs} epoch{(spec.Training.Epochs == 1 ? "" : "s")}, batch size {spec.Training.BatchSize}, lr {learningRate.ToString(CultureInfo.InvariantCulture)}{(lrSchedule == LearningRateSchedule.Constant ? "" : $" ({LearningRateSchedules.Id(lrSchedule)})")}, {rule}, seed {spec.Seed}, {nThreads} thread(s), {(spec.Backend is Gpu.GpuBackend gpu ? $"{gpu.Description}, {gpu.Precision}" : ComputeSettings.SimdPath)}");
            foreach (var caveat in arch.Caveats(spec.Model)) Console.Error.WriteLine($"note: {caveat}");
            // From this machine's measured speed (cached for a day, then replaced by what each finished run showed): the same command runs 2.5× longer on some machines than on others.
            if (spec.Backend is not Gpu.GpuBackend)
                Console.Error.WriteLine($"estimated time: {FFLib.Experiments.Reproduction.Range(FFLib.Experiments.Reproduction.EstimateSeconds([spec], FFLib.Experiments.MachineSpeed.Current()))} on this machine");
            RunResult result;
            using (var interrupt = new Interruption(spec.CheckpointEvery is null && spec.CheckpointMinutes is null
                       ? "nothing was saved (--checkpoint-every N makes a run resumable)"
                       : $"fflib train --resume {spec.OutputDirectory} continues from the last checkpoint"))
            using (var display = new ProgressDisplay())
                result = TrainingRun.Execute(spec, display, display.EpochCompleted, interrupt.Token);
            if (defaultOut) RunFolders.PointLatestAt("runs", runDir);
            // What this run took is the best estimate of the next one's speed on this machine.
            if (spec.Backend is not Gpu.GpuBackend && FFLib.Experiments.Reproduction.ObservedSecondsPerWeightImage(spec, result) is double observed)
                FFLib.Experiments.MachineSpeed.Observe(observed);
            Report(result, spec.OutputDirectory, $"{ModelCheckpoint.ArchitectureId(arch)} layers {string.Join(",", sizes)} on {DatasetCatalog.IdOf(kind)}");
            return 0;
        }));
        return cmd;
    }

    private static void Report(RunResult result, string? dir, string? title)
    {
        Console.WriteLine($"test accuracy: {result.TestAccuracy * 100:F2}%  ({result.TestSamples} images, {result.TestSeconds:F1} s)");
        Console.WriteLine($"training: {result.TrainSeconds:F1} s in all, {(result.Epochs.Count > 0 ? result.Epochs.Average(e => e.TrainSeconds) : 0):F1} s per epoch");
        if (result.ModelPath is not null) Console.WriteLine($"saved: {result.ModelPath}, {result.RunJsonPath}");
        if (result.SparsitySamples is { Count: > 0 } samples && dir is not null)
        {
            var pngs = FFLib.Plotting.Plots.SparsityOverTraining(samples, dir, title ?? "sparsity");
            Console.WriteLine($"sparsity: {result.SparsityCsvPath}, {string.Join(", ", pngs.Select(Path.GetFileName))}");
        }
        if (result.DeadNeuronSamples is { Count: > 0 } dead && dir is not null)
        {
            string png = Path.Combine(dir, "dead-neurons.png");
            FFLib.Plotting.DeadNeuronPlots.OverTraining(png, dead, title ?? "training");
            var last = dead.Where(d => d.Step == dead[^1].Step).Select(d => $"layer {d.Layer} {d.Dead}/{d.Neurons}");
            Console.WriteLine($"dead neurons after training: {string.Join(", ", last)} ({result.DeadNeuronsCsvPath}, {Path.GetFileName(png)})");
        }
    }

    internal static int[] ParseLayers(string text, string option = "--layers")
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.All(p => p.Length == 0)) throw new UsageException($"{option} needs at least one count, e.g. {option} 2000,2000.");
        if (parts.Any(p => p.Length == 0)) throw new UsageException($"{option} '{text}' has an empty entry; list counts separated by single commas, e.g. {option} 2000,2000.");
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] < 1)
                throw new UsageException($"{option}: '{parts[i]}' is not a positive count.");
        return sizes;
    }
}
