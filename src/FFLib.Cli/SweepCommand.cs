using System.CommandLine;
using System.Globalization;
using FFLib.Data;
using FFLib.Experiments;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary><c>fflib sweep</c>, <c>fflib report</c> and <c>fflib reproduce</c>: multi-seed grids, resumable and shardable.</summary>
internal static class SweepCommand
{
    public static Command CreateSweep()
    {
        var models = new Option<string>("--model") { Description = "Comma-separated architectures (" + ArchitectureRegistry.KnownIds + ").", DefaultValueFactory = _ => "ffnn" };
        var datasets = new Option<string>("--dataset") { Description = "Comma-separated datasets.", DefaultValueFactory = _ => "mnist" };
        var grid = new Option<string[]>("--grid") { Description = "lr=0.001,0.02 | threshold=1,5,20 | layers=2000x2000;500x500 | loss=min,max (one --grid per parameter).", AllowMultipleArgumentsPerToken = false };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per configuration.", DefaultValueFactory = _ => 10 };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per run.", DefaultValueFactory = _ => 60 };
        var batch = new Option<int>("--batch-size") { Description = "Batch size.", DefaultValueFactory = _ => 128 };
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
            models, datasets, grid, seeds, epochs, batch, trainLimit, testLimit, results, shard, shards, retry, threads, dataDir, track,
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

    public static Command CreateStatus()
    {
        var results = new Option<string>("--results") { Description = "Results folder of a sweep.", Required = true };
        var claimTimeout = new Option<double>("--claim-timeout") { Description = "The workers' --claim-timeout, seconds: older heartbeats are shown as stale.", DefaultValueFactory = _ => 300 };
        var cmd = new Command("status", "Show a sweep in progress: finished runs, runs being trained (worker, heartbeat, checkpoint), interrupted runs waiting for a worker, files that are not records.") { results, claimTimeout };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string dir = ResultsFolder(pr.GetValue(results)!);
            double timeout = pr.GetValue(claimTimeout);
            if (!(timeout >= 1)) throw new UsageException($"--claim-timeout must be at least 1 second, not {timeout}.");
            var st = SweepStatus.Read(dir, TimeSpan.FromSeconds(timeout));
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"{dir}: {st.Completed} completed, {st.Diverged} diverged; {st.Claimed.Count} being trained; {st.Interrupted.Count} interrupted; {st.Workers} worker(s) so far{(st.Skipped.Count > 0 ? $"; {st.Skipped.Count} file(s) in runs/ are not records" : "")}"));
            foreach (var c in st.Claimed)
                Console.WriteLine(string.Create(inv, $"  running      {c.Id}  {c.Description ?? "(settings not recorded)"}  {c.Worker}  heartbeat {c.HeartbeatAge.TotalSeconds:F0} s ago{(c.Stale ? " (stale: the next worker takes it over)" : "")}{(c.ClockNote is null ? "" : $" ({c.ClockNote})")}  {(c.Checkpoint is null ? "no checkpoint yet" : "checkpoint " + c.Checkpoint)}"));
            foreach (var r in st.Interrupted)
                Console.WriteLine($"  interrupted  {r.Id}  {r.Description ?? "(settings not recorded)"}  checkpoint {r.Checkpoint}; the next worker continues it");
            foreach (var s in st.Skipped) Console.WriteLine($"  not a record {Path.GetFileName(s.Path)}: {s.Reason}");
            return 0;
        }));
        return cmd;
    }

    public static Command CreateReport()
    {
        var results = new Option<string>("--results") { Description = "Results folder of a sweep.", Required = true };
        var cmd = new Command("report", "Write report.md and table2/3/5.csv (mean ± std over seeds, weight sparsity, loss max vs min t-tests) and the figures for a results folder; files that are not run records are listed and skipped (exit code 6).") { results };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string dir = ResultsFolder(pr.GetValue(results)!);
            var read = SweepResults.Read(dir);
            var md = WriteReport(read, dir);
            Console.WriteLine(md);
            return Skipped(read);
        }));
        return cmd;
    }

    /// <summary>The report, its tables and figures as one set of files; the written paths are printed.</summary>
    private static string WriteReport(SweepResults read, string dir)
    {
        using var files = new FileSet();
        string md;
        string[] pngs;
        try
        {
            md = SweepReport.Write(read.Records, dir, read.Skipped, files);
            pngs = Heatmaps(read.Records, dir, files.Stage).ToArray();
        }
        catch (IOException e)
        {
            // Nothing is committed yet: the folder keeps its previous report, whole.
            throw new IOException($"writing the report into {dir} failed ({e.Message.Split(" : '")[0]}); no report file was replaced.", e);
        }
        files.Commit();
        Console.Error.WriteLine($"written: {Path.Combine(dir, "report.md")}, table2.csv, table3.csv, table5.csv");
        foreach (var png in pngs) Console.Error.WriteLine($"written: {png}");
        return md;
    }

    /// <summary>Exit code 6 ("done, with warnings") when files were skipped, each named on stderr.</summary>
    private static int Skipped(SweepResults read)
    {
        foreach (var s in read.Skipped) Console.Error.WriteLine($"warning: skipped {s.Path}: {s.Reason}");
        if (read.Skipped.Count == 0) return 0;
        Console.Error.WriteLine($"done with warnings: {read.Skipped.Count} file(s) in runs/ are not run records (listed in report.md)");
        return Cli.DoneWithWarnings;
    }

    public static Command CreateReproduce()
    {
        var target = new Argument<string>("target") { Description = "table2, table3, table5, fig3 (accuracy heatmaps), fig6 (Hoyer heatmaps) or fig19 (prunability curves)." };
        var dataset = new Option<string>("--dataset") { Description = "Dataset.", DefaultValueFactory = _ => "mnist" };
        var budget = new Option<string>("--budget") { Description = "smoke (minutes), reduced (hours) or paper (Table 1: 60/120 epochs, 10 seeds, 2×2000).", DefaultValueFactory = _ => "smoke" };
        var results = new Option<string?>("--results") { Description = "Results folder (default runs/reproduce-TARGET-DATASET-BUDGET)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files (IDX, raw or .gz)." };
        var device = Cli.DeviceOption();
        var precision = Cli.PrecisionOption();
        var streamsOption = Cli.StreamsOption();
        var cmd = new Command("reproduce", "Run the sweep behind one of the paper's tables at a chosen budget, then its report.") { target, dataset, budget, results, threads, dataDir, device, precision, streamsOption };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            SetThreads(pr.GetValue(threads));
            string t = pr.GetValue(target)!.Trim().ToLowerInvariant();
            var kind = Cli.ParseDataset(pr.GetValue(dataset)!);
            string b = pr.GetValue(budget)!.Trim().ToLowerInvariant();
            int streams = Cli.CheckStreams(pr.GetValue(streamsOption));
            SweepSpec spec;
            try { spec = Reproduction.Sweep(t, Reproduction.Budget(b, kind)) with { Data = Cli.DataOptions(pr.GetValue(dataDir), noDownload: true), Backend = Cli.OpenDevice(pr.GetValue(device)!, pr.GetValue(precision)!) }; }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            if (t == "fig19") return ReproducePruning(spec, kind, b, pr.GetValue(results));
            var runs = Reproduction.Runs(t, spec);
            string dir = pr.GetValue(results) ?? Path.Combine("runs", $"reproduce-{t}-{DatasetCatalog.IdOf(kind)}-{b}");
            Console.Error.WriteLine($"fflib reproduce {t} ({b}): {runs.Count} runs ({string.Join(", ", spec.Models.Select(m => m.Id))}; layers {string.Join(",", spec.Layers[0])}; {spec.Epochs} epochs; {spec.Seeds} seeds; train {(spec.TrainLimit?.ToString(CultureInfo.InvariantCulture) ?? "all")}, test {(spec.TestLimit?.ToString(CultureInfo.InvariantCulture) ?? "all")}) into {dir}");
            if (spec.Backend is not Gpu.GpuBackend)
                Console.Error.WriteLine(Estimate(runs, dir));
            using var interrupt = new Interruption();
            SweepRunner.RunConcurrently(runs, dir, Cli.OpenStreams(spec.Backend!, streams, pr.GetValue(device)!), new SweepWorkerOptions { Log = Console.Error.WriteLine }, interrupt.Token);
            var read = SweepResults.Read(dir);
            Console.WriteLine(WriteReport(read, dir));
            return Skipped(read);
        }));
        return cmd;
    }

    /// <summary>
    /// Figure 19: train one model per architecture at the budget (seed 0; an existing model in the folder is
    /// reused), prune each at the paper's kept counts (those not above its width) over the budget's seeds,
    /// and overlay the curves.
    /// </summary>
    private static int ReproducePruning(SweepSpec spec, DatasetKind kind, string budget, string? resultsDir)
    {
        string dir = resultsDir ?? Path.Combine("runs", $"reproduce-fig19-{DatasetCatalog.IdOf(kind)}-{budget}");
        var series = Reproduction.Prunability(spec, budget, dir, Console.Error.WriteLine);
        string png = Path.Combine(dir, "fig19.png");
        FFLib.Plotting.Plots.Prunability(png, series, $"{DatasetCatalog.IdOf(kind)}: accuracy vs compression ({budget} budget)");
        foreach (var (label, records) in series)
        {
            Console.WriteLine($"{label}:");
            foreach (var g in records.GroupBy(r => r.Keep))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  keep {g.Key,5}  ratio {g.Average(r => r.CompressionRatio),8:F2}×  accuracy {g.Average(r => r.Accuracy) * 100:F2}% (min {g.Min(r => r.Accuracy) * 100:F2}, max {g.Max(r => r.Accuracy) * 100:F2})"));
        }
        Console.WriteLine($"written: {png}");
        return 0;
    }

    /// <summary>Draws the report's figures, each into <paramref name="stage"/>(its path); returns the final paths.</summary>
    internal static IEnumerable<string> Heatmaps(IReadOnlyList<RunRecord> records, string dir, Func<string, string> stage)
    {
        // Figures 9–12: sparsity over training, one line per model and layer size (from runs swept with --track-sparsity).
        foreach (var (title, series) in SweepReport.LayerSizeProgressions(records))
        {
            var samples = series.SelectMany(s => s.Epochs.Select((e, i) => new FFLib.Analysis.SparsitySample(i, e, s.Label, "weight", s.Values[i]))).ToArray();
            string dataset = title.Split(':')[0];
            // These plots name their own files (one per metric): drawn in a scratch folder, then staged.
            string scratch = Directory.CreateTempSubdirectory("fflib-report-").FullName;
            try
            {
                foreach (var png in FFLib.Plotting.Plots.SparsityOverTraining(samples, scratch, title, $"sparsity_by_size_{dataset}"))
                {
                    string target = Path.Combine(dir, Path.GetFileName(png));
                    File.Copy(png, stage(target));
                    yield return target;
                }
            }
            finally { Directory.Delete(scratch, recursive: true); }
        }
        foreach (var g in SweepReport.SensitivityGrids(records))
        {
            // "ffnn layers 2000,2000 on mnist (loss min)" → ffnn_2000-2000_mnist_loss-min
            string stem = string.Join("_", g.Title.Replace("loss ", "loss-").Replace(',', '-').Split(' ', '(', ')').Where(x => x.Length > 0 && x is not ("layers" or "on")));
            foreach (bool hoyer in new[] { false, true })
            {
                string png = Path.Combine(dir, $"heatmap_{(hoyer ? "hoyer" : "accuracy")}_{stem}.png");
                FFLib.Plotting.Plots.SensitivityHeatmap(stage(png), g, hoyer);
                yield return png;
            }
        }
    }

    /// <summary>A --results folder that status and report can read, or a usage error saying what one is.</summary>
    private static string ResultsFolder(string dir)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--results {dir}: the folder does not exist.");
        if (Directory.Exists(Path.Combine(dir, "runs")) && !File.Exists(Path.Combine(dir, "run.json"))) return dir;
        // fflib train's own folders (runs/, runs/latest, runs/TIME-MODEL-DATASET) hold single runs, not sweep results.
        bool trainingRun = File.Exists(Path.Combine(dir, "run.json")) || Directory.Exists(Path.Combine(dir, "latest"))
            || Directory.EnumerateDirectories(dir).Any(d => File.Exists(Path.Combine(d, "run.json")));
        throw new UsageException(trainingRun
            ? $"--results {dir} holds single training runs (fflib train's folders), not a sweep's results; read those with fflib eval, analyze or visualize --model FOLDER. A results folder is what fflib sweep --results DIR or fflib reproduce writes: DIR/runs/ID.json, one record per run."
            : $"--results {dir} is not a sweep results folder: it has no runs/ subfolder of run records. fflib sweep --results DIR or fflib reproduce makes one.");
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

    private static void SetThreads(int n)
    {
        if (n < 1) throw new UsageException($"--threads must be at least 1, not {n}.");
        Compute.ComputeSettings.Threads = n;
    }

    /// <summary>A comma-separated list, every entry non-empty.</summary>
    private static string[] StrictList(string s, string option)
    {
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        if (parts.All(p => p.Length == 0)) throw new UsageException($"{option} lists no values.");
        if (parts.Any(p => p.Length == 0)) throw new UsageException($"{option} '{s}' has an empty entry.");
        return parts;
    }

    private static Architecture ParseModel(string s)
    {
        try { return ModelCheckpoint.ParseArchitecture(s); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    /// <summary>Every --grid, parsed strictly: known names, each once, every value well-formed.</summary>
    internal static SweepSpec ApplyGrids(SweepSpec spec, IEnumerable<string> grids)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in grids)
        {
            int eq = g.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--grid '{g}' must look like name=v1,v2.");
            string name = g[..eq].Trim().ToLowerInvariant(), values = g[(eq + 1)..];
            if (name == "theta") name = "threshold";
            if (!seen.Add(name)) throw new UsageException($"--grid {name} is given twice; list all its values in one --grid {name}=….");
            string option = $"--grid {name}";
            float F(string v) => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 && float.IsFinite(f)
                ? f : throw new UsageException($"{option}: '{v}' is not a positive finite number.");
            spec = name switch
            {
                "lr" => spec with { LearningRates = StrictList(values, option).Select(F).ToArray() },
                "threshold" => spec with { Thresholds = StrictList(values, option).Select(F).ToArray() },
                "layers" => spec with { Layers = StrictLayers(values) },
                "loss" => spec with { Losses = StrictList(values, option).Select(v => v switch { "min" => LossDirection.Minimize, "max" => LossDirection.Maximize, _ => throw new UsageException($"--grid loss: '{v}' is neither min nor max.") }).ToArray() },
                _ => throw new UsageException($"--grid: unknown parameter '{name}' (lr, threshold, layers, loss)."),
            };
        }
        return spec;
    }

    /// <summary>layers=2000x2000;500: ';' between configurations, 'x' between the widths of one.</summary>
    private static int[][] StrictLayers(string values)
    {
        var configs = values.Split(';', StringSplitOptions.TrimEntries);
        if (configs.All(c => c.Length == 0)) throw new UsageException("--grid layers lists no values.");
        return configs.Select(c =>
        {
            var widths = c.Split('x');
            if (c.Length == 0 || widths.Any(w => w.Length == 0 || !w.All(char.IsAsciiDigit)))
                throw new UsageException($"--grid layers: '{c}' is not a list of widths like 2000x2000.");
            return widths.Select(w => int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1
                ? n : throw new UsageException($"--grid layers: '{w}' in '{c}' is not a width from 1 to {int.MaxValue}.")).ToArray();
        }).ToArray();
    }

    /// <summary>A validation message with the command-line names of the grid's parameters.</summary>
    private static string OptionNamed(string message) => message
        .Replace("The grid lists model", "--model lists").Replace("The grid lists dataset", "--dataset lists")
        .Replace("The grid lists ", "--grid lists ").Replace("Seeds must", "--seeds must").Replace("Epochs must", "--epochs must")
        .Replace("The batch size must", "--batch-size must").Replace("The training limit must", "--train-limit must")
        .Replace("The test limit must", "--test-limit must").Replace("Sparsity tracking needs", "--track-sparsity needs");

    private static (int Index, int Count) ParseShard(string? shard, int? shards)
    {
        if (shard is not null)
        {
            if (shards is not null) throw new UsageException("Give either --shard i/N or --shards N, not both.");
            var parts = shard.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || i >= n)
                throw new UsageException($"--shard must be i/N with 0 ≤ i < N, not '{shard}'.");
            return (i, n);
        }
        if (shards is null) return (0, 1);
        if (shards < 1) throw new UsageException($"--shards must be at least 1, not {shards}.");
        foreach (var name in new[] { "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX" })
        {
            string? v = Environment.GetEnvironmentVariable(name);
            if (v is null) continue;
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int env))
                throw new UsageException($"--shards {shards}: {name}='{v}' is not a shard index.");
            if (env >= shards)
                throw new UsageException($"--shards {shards}: {name}={env} is not below {shards}; fixed shards need an array numbered 0..{shards - 1}. Leave out --shards and workers divide the runs between themselves, with any array numbering.");
            return (env, shards.Value);
        }
        throw new UsageException($"--shards {shards} needs a shard index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, and neither is set; use --shard i/N, or leave both out.");
    }
}
