using System.CommandLine;
using System.Globalization;
using FFLib.Data;
using FFLib.Experiments;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary><c>fflib sweep</c>: a grid × seeds into a results folder shared by any number of workers (status, report and reproduce are in the other SweepCommand files).</summary>
internal static partial class SweepCommand
{
    public static Command CreateSweep()
    {
        var models = new Option<string>("--model") { Description = "Comma-separated architectures (" + ArchitectureRegistry.KnownIds + ").", DefaultValueFactory = _ => "ffnn" };
        var datasets = new Option<string>("--dataset") { Description = "Comma-separated datasets.", DefaultValueFactory = _ => "mnist" };
        var grid = new Option<string[]>("--grid") { Description = "lr=0.001,0.02 | threshold=1,5,20 | layers=2000x2000;500x500 | loss=min,max (one --grid per parameter).", AllowMultipleArgumentsPerToken = false };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per configuration.", DefaultValueFactory = _ => 10 };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per run.", DefaultValueFactory = _ => 60 };
        var batch = new Option<int>("--batch-size") { Description = "Batch size.", DefaultValueFactory = _ => 128 };
        var schedule = new Option<string>("--lr-schedule") { Description = "Every run's learning rate over training: constant (the paper's) or cosine.", DefaultValueFactory = _ => "constant" };
        var trainLimit = new Option<int?>("--train-limit") { Description = "First N training images." };
        var testLimit = new Option<int?>("--test-limit") { Description = "First N test images." };
        var results = new Option<string>("--results") { Description = "Results folder, shared by every worker.", Required = true };
        var shard = new Option<string?>("--shard") { Description = "i/N: take only the i-th of N fixed shards of the grid (default: none; workers divide the runs by claiming them)." };
        var shards = new Option<int?>("--shards") { Description = "N fixed shards, the index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (arrays numbered 0..N-1 only)." };
        var track = new Option<int?>("--track-sparsity") { Description = "Record every weight matrix's sparsity every N batches in each run (report draws Figures 9–12 by layer size)." };
        var retry = new Option<bool>("--retry-failed") { Description = "Run again the runs recorded as failed or diverged." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files." };
        var claimTimeout = new Option<double>("--claim-timeout") { Description = "Seconds without a heartbeat after which another worker takes a run over.", DefaultValueFactory = _ => 300 };
        var noWait = new Option<bool>("--no-wait") { Description = "Exit when the unfinished runs are all held by other workers, instead of waiting to take over any whose worker dies." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint each run every N epochs into DIR/work/ (0: never); an interrupted or taken-over run continues from it.", DefaultValueFactory = _ => 1 };
        var checkpointMinutes = new Option<double?>("--checkpoint-minutes") { Description = "Also checkpoint each run inside an epoch every M minutes (long epochs: a killed node loses at most M minutes of the run)." };
        var saveModels = new Option<bool>("--save-models") { Description = "Keep every completed run's model as DIR/models/ID.safetensors." };
        var yes = new Option<bool>("--yes") { Description = string.Create(CultureInfo.InvariantCulture, $"Run a grid of more than {SweepSpec.ConfirmAbove:N0} runs.") };
        var sweepDevice = Cli.DeviceOption();
        var sweepPrecision = Cli.PrecisionOption();
        var sweepStreams = Cli.StreamsOption();
        var cmd = new Command("sweep", "Run every combination of a grid × seeds into a results folder. Start it any number of times, on any machines sharing the folder: workers claim runs, so each is trained once; rerunning resumes.")
        {
            sweepDevice, sweepPrecision, sweepStreams,
            models, datasets, grid, seeds, epochs, batch, schedule, trainLimit, testLimit, results, shard, shards, retry, threads, dataDir, track,
            claimTimeout, noWait, checkpointEvery, checkpointMinutes, saveModels, yes,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            SetThreads(pr.GetValue(threads));
            var spec = new SweepSpec
            {
                Models = StrictList(pr.GetValue(models)!, "--model").Select(ParseModel).ToArray(),
                Datasets = StrictList(pr.GetValue(datasets)!, "--dataset").Select(Cli.ParseDataset).ToArray(),
                Seeds = pr.GetValue(seeds),
                Epochs = pr.GetValue(epochs),
                BatchSize = pr.GetValue(batch),
                Schedule = ParseSchedule(pr.GetValue(schedule)!),
                TrainLimit = pr.GetValue(trainLimit),
                TestLimit = pr.GetValue(testLimit),
                TrackSparsityEvery = pr.GetValue(track),
                Data = new DatasetLoadOptions { DataDirectory = pr.GetValue(dataDir), AllowDownload = false },
            };
            spec = ApplyGrids(spec, pr.GetValue(grid) ?? []);
            // The whole request is checked before the first run (and before the device is opened).
            try { spec.Validate(); }
            catch (ArgumentException e) { throw new UsageException(OptionNamed(Cli.Clean(e.Message))); }
            long total = spec.RunCount;
            if (total > SweepSpec.ConfirmAbove && !pr.GetValue(yes))
                throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"The grid holds {total:N0} runs (more than {SweepSpec.ConfirmAbove:N0}); pass --yes to run it anyway."));
            double timeout = pr.GetValue(claimTimeout);
            if (!(timeout >= 1 && timeout <= 7 * 86400)) throw new UsageException($"--claim-timeout must be between 1 second and 7 days, not {timeout}.");
            int ce = pr.GetValue(checkpointEvery);
            if (ce < 0) throw new UsageException($"--checkpoint-every must be 0 (never) or a number of epochs, not {ce}.");
            double? cm = pr.GetValue(checkpointMinutes);
            if (cm is double m && !(m > 0 && double.IsFinite(m))) throw new UsageException($"--checkpoint-minutes must be a positive number of minutes, not {m}.");
            var (index, count) = ParseShard(pr.GetValue(shard), pr.GetValue(shards));
            int streams = Cli.CheckStreams(pr.GetValue(sweepStreams));
            spec = spec with { Backend = Cli.OpenDevice(pr.GetValue(sweepDevice)!, pr.GetValue(sweepPrecision)!) };
            var backends = Cli.OpenStreams(spec.Backend!, streams, pr.GetValue(sweepDevice)!);
            var runs = spec.Expand();
            var mine = count > 1 ? SweepRunner.Shard(runs, index, count) : runs;
            string dir = pr.GetValue(results)!;
            string part = count > 1 ? $"shard {index}/{count} has {mine.Count}" : "shared by every worker on this folder";
            // The cost model is the CPU's: on a GPU it would mislead by two orders of magnitude.
            string estimate = spec.Backend is Gpu.GpuBackend ? "no time estimate on a GPU" : Estimate(mine, dir);
            Console.Error.WriteLine($"fflib sweep: {runs.Count} runs in the grid, {part}; {estimate}");
            using var interrupt = new Interruption();
            var outcome = SweepRunner.RunConcurrently(mine, dir, backends, new SweepWorkerOptions
            {
                RetryFailed = pr.GetValue(retry),
                ClaimTimeout = TimeSpan.FromSeconds(timeout),
                WaitForOthers = !pr.GetValue(noWait),
                CheckpointEvery = ce == 0 ? null : ce,
                CheckpointMinutes = cm,
                SaveModels = pr.GetValue(saveModels),
                Log = Console.Error.WriteLine,
            }, interrupt.Token);
            var read = SweepResults.Read(dir);
            Console.WriteLine($"results: {dir} ({read.Records.Count} records; this worker, {outcome.Worker}, trained {outcome.Written.Count})");
            foreach (var w in outcome.Warnings) Console.Error.WriteLine("warning: " + w);
            if (outcome.Unfinished > 0) Console.WriteLine($"{outcome.Unfinished} run(s) still held by other workers");
            return 0;
        }));
        return cmd;
    }

    /// <summary>"estimated … on this machine": the unfinished runs' cost model times this machine's measured speed (one worker).</summary>
    private static string Estimate(IReadOnlyList<RunSpec> runs, string dir)
    {
        var todo = Directory.Exists(dir) ? SweepRunner.Unfinished(runs, dir) : runs;
        if (todo.Count == 0) return "every run is finished already";
        var speed = MachineSpeed.Current();
        return string.Create(CultureInfo.InvariantCulture,
            $"{todo.Count} run(s) to train, estimated at {Reproduction.Range(Reproduction.EstimateSeconds(todo, speed))} for one worker on this machine (its speed measured: {speed.RelativeToReference:F2}× the time of the reference machine)");
    }
}
