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
        var grid = new Option<string[]>("--grid") { Description = "lr=0.001,0.02 | threshold=1,5,20 | layers=2000x2000;500x500 | loss=min,max (repeatable).", AllowMultipleArgumentsPerToken = false };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per configuration.", DefaultValueFactory = _ => 10 };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per run.", DefaultValueFactory = _ => 60 };
        var batch = new Option<int>("--batch-size") { Description = "Batch size.", DefaultValueFactory = _ => 128 };
        var trainLimit = new Option<int?>("--train-limit") { Description = "First N training images." };
        var testLimit = new Option<int?>("--test-limit") { Description = "First N test images." };
        var results = new Option<string>("--results") { Description = "Results folder (shared by all shards).", Required = true };
        var shard = new Option<string?>("--shard") { Description = "i/N: run the i-th of N deterministic shards (default: index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX with --shards N)." };
        var shards = new Option<int?>("--shards") { Description = "Number of shards when the index comes from the environment." };
        var track = new Option<int?>("--track-sparsity") { Description = "Record every weight matrix's sparsity every N batches in each run (report draws Figures 9–12 by layer size)." };
        var retry = new Option<bool>("--retry-failed") { Description = "Run again the runs recorded as failed or diverged." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files." };
        var sweepDevice = Cli.DeviceOption();
        var cmd = new Command("sweep", "Run every combination of a grid × seeds into a results folder; finished runs are skipped, so rerunning resumes.")
        {
            sweepDevice,
            models, datasets, grid, seeds, epochs, batch, trainLimit, testLimit, results, shard, shards, retry, threads, dataDir, track,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            SetThreads(pr.GetValue(threads));
            var spec = new SweepSpec
            {
                Models = Split(pr.GetValue(models)!).Select(ParseModel).ToArray(),
                Datasets = Split(pr.GetValue(datasets)!).Select(Cli.ParseDataset).ToArray(),
                Seeds = pr.GetValue(seeds) is var s && s >= 1 ? s : throw new UsageException("--seeds must be at least 1."),
                Epochs = pr.GetValue(epochs) is var e && e >= 1 ? e : throw new UsageException("--epochs must be at least 1."),
                BatchSize = pr.GetValue(batch),
                TrainLimit = pr.GetValue(trainLimit),
                TestLimit = pr.GetValue(testLimit),
                TrackSparsityEvery = pr.GetValue(track) is int tr ? (tr >= 1 ? tr : throw new UsageException("--track-sparsity must be at least 1.")) : null,
                Data = new DatasetLoadOptions { DataDirectory = pr.GetValue(dataDir), AllowDownload = false },
                Backend = Cli.OpenDevice(pr.GetValue(sweepDevice)!),
            };
            foreach (var g in pr.GetValue(grid) ?? []) spec = ApplyGrid(spec, g);
            var runs = spec.Expand();
            var (index, count) = ParseShard(pr.GetValue(shard), pr.GetValue(shards));
            var mine = SweepRunner.Shard(runs, index, count);
            string dir = pr.GetValue(results)!;
            Console.Error.WriteLine($"fflib sweep: {runs.Count} runs in the grid, shard {index}/{count} has {mine.Count}; estimated {Reproduction.EstimateSeconds(mine) / 60:F0} min");
            SweepRunner.Run(mine, dir, pr.GetValue(retry), Console.Error.WriteLine);
            Console.WriteLine($"results: {dir} ({SweepRunner.ReadAll(dir).Count} records)");
            return 0;
        }));
        return cmd;
    }

    public static Command CreateReport()
    {
        var results = new Option<string>("--results") { Description = "Results folder of a sweep.", Required = true };
        var cmd = new Command("report", "Write report.md and table2/3/5.csv (mean ± std over seeds, weight sparsity, L+ vs L− t-tests) for a results folder.") { results };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string dir = pr.GetValue(results)!;
            var records = SweepRunner.ReadAll(dir);
            var md = SweepReport.Write(records, dir);
            Console.WriteLine(md);
            Console.WriteLine($"written: {Path.Combine(dir, "report.md")}, table2.csv, table3.csv, table5.csv");
            foreach (var png in Heatmaps(records, dir)) Console.WriteLine($"written: {png}");
            return 0;
        }));
        return cmd;
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
        var cmd = new Command("reproduce", "Run the sweep behind one of the paper's tables at a chosen budget, then its report.") { target, dataset, budget, results, threads, dataDir, device };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            SetThreads(pr.GetValue(threads));
            string t = pr.GetValue(target)!.Trim().ToLowerInvariant();
            var kind = Cli.ParseDataset(pr.GetValue(dataset)!);
            string b = pr.GetValue(budget)!.Trim().ToLowerInvariant();
            SweepSpec spec;
            try { spec = Reproduction.Sweep(t, Reproduction.Budget(b, kind)) with { Data = Cli.DataOptions(pr.GetValue(dataDir), noDownload: true), Backend = Cli.OpenDevice(pr.GetValue(device)!) }; }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            if (t == "fig19") return ReproducePruning(spec, kind, b, pr.GetValue(results));
            var runs = Reproduction.Runs(t, spec);
            string dir = pr.GetValue(results) ?? Path.Combine("runs", $"reproduce-{t}-{DatasetCatalog.IdOf(kind)}-{b}");
            Console.Error.WriteLine($"fflib reproduce {t} ({b}): {runs.Count} runs ({string.Join(", ", spec.Models.Select(m => m.Id))}; layers {string.Join("×", spec.Layers[0])}; {spec.Epochs} epochs; {spec.Seeds} seeds; train {(spec.TrainLimit?.ToString(CultureInfo.InvariantCulture) ?? "all")}, test {(spec.TestLimit?.ToString(CultureInfo.InvariantCulture) ?? "all")}) into {dir}");
            Console.Error.WriteLine($"estimated time: {Reproduction.EstimateSeconds(runs) / 60:F1} min on this machine (finished runs in {dir} are skipped)");
            SweepRunner.Run(runs, dir, retryFailed: false, Console.Error.WriteLine);
            var all = SweepRunner.ReadAll(dir);
            var md = SweepReport.Write(all, dir);
            Console.WriteLine(md);
            foreach (var png in Heatmaps(all, dir)) Console.WriteLine($"written: {png}");
            return 0;
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

    internal static IEnumerable<string> Heatmaps(IReadOnlyList<RunRecord> records, string dir)
    {
        // Figures 9–12: sparsity over training, one line per model and layer size (from runs swept with --track-sparsity).
        foreach (var (title, series) in SweepReport.LayerSizeProgressions(records))
        {
            var samples = series.SelectMany(s => s.Epochs.Select((e, i) => new FFLib.Analysis.SparsitySample(i, e, s.Label, "weight", s.Values[i]))).ToArray();
            string dataset = title.Split(':')[0];
            foreach (var png in FFLib.Plotting.Plots.SparsityOverTraining(samples, dir, title, $"sparsity_by_size_{dataset}")) yield return png;
        }
        foreach (var g in SweepReport.SensitivityGrids(records))
        {
            string stem = string.Join("_", g.Title.Split(' ', '(', ')', '×').Where(x => x.Length > 0)).Replace("L−", "Lminus").Replace("L+", "Lplus").Replace("on_", "");
            foreach (bool hoyer in new[] { false, true })
            {
                string png = Path.Combine(dir, $"heatmap_{(hoyer ? "hoyer" : "accuracy")}_{stem}.png");
                FFLib.Plotting.Plots.SensitivityHeatmap(png, g, hoyer);
                yield return png;
            }
        }
    }

    private static void SetThreads(int n)
    {
        if (n < 1) throw new UsageException($"--threads must be at least 1, not {n}.");
        Compute.ComputeSettings.Threads = n;
    }

    private static string[] Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Architecture ParseModel(string s)
    {
        try { return ModelCheckpoint.ParseArchitecture(s); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    private static SweepSpec ApplyGrid(SweepSpec spec, string g)
    {
        int eq = g.IndexOf('=');
        if (eq <= 0) throw new UsageException($"--grid '{g}' must look like name=v1,v2.");
        string name = g[..eq].Trim().ToLowerInvariant(), values = g[(eq + 1)..];
        float F(string v) => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 ? f : throw new UsageException($"--grid {name}: '{v}' is not a positive number.");
        return name switch
        {
            "lr" => spec with { LearningRates = Split(values).Select(F).ToArray() },
            "threshold" or "theta" => spec with { Thresholds = Split(values).Select(F).ToArray() },
            "layers" => spec with { Layers = values.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(l => TrainCommand.ParseLayers(l.Replace('x', ','), "--grid layers")).ToArray() },
            "loss" => spec with { Losses = Split(values).Select(v => v switch { "min" => LossDirection.Minimize, "max" => LossDirection.Maximize, _ => throw new UsageException($"--grid loss: '{v}' is neither min nor max.") }).ToArray() },
            _ => throw new UsageException($"--grid: unknown parameter '{name}' (lr, threshold, layers, loss)."),
        };
    }

    private static (int Index, int Count) ParseShard(string? shard, int? shards)
    {
        if (shard is not null)
        {
            var parts = shard.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || !int.TryParse(parts[1], out int n) || n < 1 || i < 0 || i >= n)
                throw new UsageException($"--shard must be i/N with 0 ≤ i < N, not '{shard}'.");
            return (i, n);
        }
        if (SweepRunner.ShardIndexFromEnvironment() is int env)
        {
            int count = shards ?? (int.TryParse(Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_COUNT"), out int c) ? c : 0);
            if (count < 1) throw new UsageException("A shard index was found in the environment; pass --shards N (or set SLURM_ARRAY_TASK_COUNT).");
            if (env >= count) throw new UsageException($"The shard index {env} from the environment is not below --shards {count}.");
            return (env, count);
        }
        return (0, 1);
    }
}
