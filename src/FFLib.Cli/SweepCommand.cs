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
        var cmd = new Command("sweep", "Run every combination of a grid × seeds into a results folder; finished runs are skipped, so rerunning resumes.")
        {
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
            };
            foreach (var g in pr.GetValue(grid) ?? []) spec = ApplyGrid(spec, g);
            var runs = spec.Expand();
            var (index, count) = ParseShard(pr.GetValue(shard), pr.GetValue(shards));
            var mine = SweepRunner.Shard(runs, index, count);
            string dir = pr.GetValue(results)!;
            Console.Error.WriteLine($"fflib sweep: {runs.Count} runs in the grid, shard {index}/{count} has {mine.Count}; estimated {Estimate(mine) / 60:F0} min");
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
        var cmd = new Command("reproduce", "Run the sweep behind one of the paper's tables at a chosen budget, then its report.") { target, dataset, budget, results, threads };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            SetThreads(pr.GetValue(threads));
            string t = pr.GetValue(target)!.Trim().ToLowerInvariant();
            var kind = Cli.ParseDataset(pr.GetValue(dataset)!);
            string b = pr.GetValue(budget)!.Trim().ToLowerInvariant();
            var spec = Budget(b, kind);
            spec = t switch
            {
                "table2" or "table3" => spec,
                // Table 5: L+ and L− for the FF models, FFNN3 included.
                "table5" => spec with { Models = [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn], Losses = [LossDirection.Maximize, LossDirection.Minimize] },
                // Figures 3–8: one run per cell of a learning-rate × threshold grid; the report draws the heatmaps.
                "fig3" or "fig6" => spec with { LearningRates = [0.001f, 0.005f, 0.02f], Thresholds = [1f, 5f, 20f], Seeds = 1 },
                "fig19" => spec,
                _ => throw new UsageException($"Unknown target '{t}': table2, table3, table5, fig3, fig6 or fig19."),
            };
            if (t == "fig19") return ReproducePruning(spec, kind, b, pr.GetValue(results));
            var runs = spec.Expand().ToList();
            if (t == "table5") runs.AddRange((spec with { Models = [Architecture.Ffnn], Layers = [[.. spec.Layers[0], spec.Layers[0][^1]]] }).Expand());
            string dir = pr.GetValue(results) ?? Path.Combine("runs", $"reproduce-{t}-{DatasetCatalog.IdOf(kind)}-{b}");
            Console.Error.WriteLine($"fflib reproduce {t} ({b}): {runs.Count} runs ({string.Join(", ", spec.Models.Select(ModelCheckpoint.ArchitectureId))}; layers {string.Join("×", spec.Layers[0])}; {spec.Epochs} epochs; {spec.Seeds} seeds; train {(spec.TrainLimit?.ToString(CultureInfo.InvariantCulture) ?? "all")}, test {(spec.TestLimit?.ToString(CultureInfo.InvariantCulture) ?? "all")}) into {dir}");
            Console.Error.WriteLine($"estimated time: {Estimate(runs) / 60:F1} min on this machine (finished runs in {dir} are skipped)");
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
        int? testLimit = budget == "smoke" ? 2000 : spec.TestLimit;
        int seeds = Math.Max(3, spec.Seeds);
        var train = spec.Expand().Where(r => r.Seed == 0).Select(r => r with { TestLimit = testLimit }).ToArray();
        Console.Error.WriteLine($"fflib reproduce fig19 ({budget}): train {train.Length} models ({string.Join(", ", train.Select(r => ModelCheckpoint.ArchitectureId(r.Architecture)))}), prune each with {seeds} seeds on {testLimit?.ToString(CultureInfo.InvariantCulture) ?? "all"} test images; training estimate {Estimate(train) / 60:F1} min");
        var series = new List<(string, IReadOnlyList<FFLib.Pruning.PruneRecord>)>();
        foreach (var run in train)
        {
            string arch = ModelCheckpoint.ArchitectureId(run.Architecture);
            string modelDir = Path.Combine(dir, arch);
            string modelPath = Path.Combine(modelDir, "model.safetensors");
            if (!File.Exists(modelPath))
            {
                Console.Error.WriteLine($"training {arch}…");
                TrainingRun.Execute(run with { OutputDirectory = modelDir });
            }
            var loaded = ModelCheckpoint.Load(modelPath);
            int width = FFLib.Pruning.NeuronPruning.HiddenWidths(loaded.Model).Max();
            int[] keep = [width, .. new[] { 1500, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2 }.Where(k => k < width)];
            var data = DatasetLoader.Load(kind, new DatasetLoadOptions { AllowDownload = false });
            var test = testLimit is int tl ? data.Test.Take(tl) : data.Test;
            var records = FFLib.Pruning.PruneExperiment.Run(loaded.Model, modelPath, test,
                new FFLib.Pruning.PruneOptions { Keep = keep, Seeds = seeds, Int8 = false }, Path.Combine(modelDir, "pruned"), training: loaded.Training,
                progress: r => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{arch} seed {r.Seed} keep {r.Keep}: ratio {r.CompressionRatio:F2}×, accuracy {r.Accuracy * 100:F2}%")));
            FFLib.Pruning.PruneExperiment.WriteCsv(Path.Combine(modelDir, "prune.csv"), records);
            series.Add(($"{arch} (random)", records));
        }
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

    /// <summary>Documented budgets: smoke = 200×200, 4 epochs, 2 seeds, full data; reduced = 2×2000, 10 epochs, 3 seeds; paper = Table 1.</summary>
    internal static SweepSpec Budget(string budget, DatasetKind kind) => budget switch
    {
        "smoke" => new SweepSpec
        {
            Models = [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn, Architecture.Bpnn], Datasets = [kind],
            Layers = [[200, 200]], Epochs = 4, Seeds = 2, ClassifierLearningRate = 1e-3f, Data = new DatasetLoadOptions { AllowDownload = false },
        },
        "reduced" => new SweepSpec
        {
            Models = [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn, Architecture.Bpnn], Datasets = [kind],
            Layers = [[2000, 2000]], Epochs = 10, Seeds = 3, Data = new DatasetLoadOptions { AllowDownload = false },
        },
        "paper" => new SweepSpec
        {
            Models = [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn, Architecture.Bpnn], Datasets = [kind],
            Layers = [[2000, 2000]], Epochs = kind == DatasetKind.Cifar10 ? 120 : 60, Seeds = 10, Data = new DatasetLoadOptions { AllowDownload = false },
        },
        _ => throw new UsageException($"--budget must be smoke, reduced or paper, not '{budget}'."),
    };

    /// <summary>
    /// Rough wall time on this 2-core machine, from the measured per-epoch costs (FFNN 2×2000: 11.5 s per 54,000
    /// images ≈ 38 ps per weight and sample; testing 2.8 s per 10,000 images; FFRNN about 29× an FFNN of the same
    /// widths in both; BPNN about as an FFNN).
    /// </summary>
    internal static double Estimate(IEnumerable<RunSpec> runs) => runs.Sum(r =>
    {
        int[] dims = [784, .. (r.Architecture == Architecture.Bpnn ? r.Backprop.HiddenSizes : r.Model.HiddenSizes)];
        double weights = 0;
        for (int i = 1; i < dims.Length; i++) weights += (double)dims[i - 1] * dims[i];
        double images = Math.Min(r.TrainLimit ?? 60000, 60000);
        // Seconds per weight and image, measured on 2 cores (AVX-512) at 2×2000: FFNN epoch 5.8 s,
        // prediction of 10,000 images 2.1 s; the FFRNN is 27× (training) and 20× (prediction) that.
        bool rnn = r.Architecture == Architecture.Ffrnn;
        double train = weights * images * 0.9 * 2.0e-11 * (rnn ? 27 : 1);
        double predict = weights * 3.8e-11 * (rnn ? 20 : 1);
        double validation = r.Training.ValidateEachEpoch ? predict * images * 0.1 : 0;
        return (train + validation) * r.Training.Epochs + predict * (r.TestLimit ?? 10000) + 2;
    });

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
