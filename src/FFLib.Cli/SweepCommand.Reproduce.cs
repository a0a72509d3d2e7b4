using System.CommandLine;
using System.Globalization;
using FFLib.Data;
using FFLib.Experiments;

namespace FFLib.Cli;

/// <summary><c>fflib reproduce</c>: the sweep behind one of the paper's tables or figures at a budget, then its report.</summary>
internal static partial class SweepCommand
{
    public static Command CreateReproduce()
    {
        var target = new Argument<string>("target")
        {
            Description = "What to make: " + string.Join("; ", Reproduction.TargetDescriptions.Select(d => $"{d.Target} ({d.Description})")) + ".",
        };
        var dataset = new Option<string?>("--dataset") { Description = $"Dataset, a comma-separated list, or all (mnist, fashion-mnist, cifar10; those not found are skipped with a warning). Default: all for {string.Join(", ", Reproduction.MultiDatasetTargets)}, mnist for the rest." };
        var budget = new Option<string>("--budget") { Description = "smoke (minutes), reduced (hours) or paper (Table 1: 60/120 epochs, 10 seeds, 2×2000).", DefaultValueFactory = _ => "smoke" };
        var results = new Option<string?>("--results") { Description = "Results folder (default runs/reproduce-TARGET-DATASET-BUDGET)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files (IDX, raw or .gz); one dataset only." };
        var regularisers = new Option<string?>("--regulariser") { Description = "regularisation: only these regularisers' grids beside λ = 0 (comma-separated: peer-norm, activity-l1, weight-decay). Default: all three." };
        var only = new Option<string?>("--model") { Description = "Only these architectures' runs of the target (comma-separated ids, e.g. ffnn); sweep targets only. Default: all of the target's." };
        var seedsOption = new Option<int?>("--seeds") { Description = "Seeds per configuration (0..N−1) instead of the budget's (sweep targets only; e.g. 3 for a paper-budget study in a day)." };
        var lambdas = new Option<string?>("--lambda") { Description = "regularisation: these λ values (comma-separated, > 0) instead of the grid of the one regulariser --regulariser names; λ = 0 always runs." };
        var models = new Option<int>("--models") { Description = "fig19: trained models per architecture whose pruning records are pooled (the authors pruned one model with 10 seeds).", DefaultValueFactory = _ => 1 };
        var device = Cli.DeviceOption();
        var precision = Cli.PrecisionOption();
        var streamsOption = Cli.StreamsOption();
        var cmd = new Command("reproduce", "Run the sweep behind one of the paper's tables or figures (or all of them: paper) at a chosen budget, then its report.")
        {
            target, dataset, budget, results, threads, dataDir, only, regularisers, lambdas, seedsOption, models, device, precision, streamsOption,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            SetThreads(pr.GetValue(threads));
            string t = pr.GetValue(target)!.Trim().ToLowerInvariant();
            if (!Reproduction.Targets.Contains(t)) throw new UsageException($"unknown target '{t}': {string.Join(", ", Reproduction.Targets)}.");
            string b = pr.GetValue(budget)!.Trim().ToLowerInvariant();
            if (b is not ("smoke" or "reduced" or "paper")) throw new UsageException($"--budget must be smoke, reduced or paper, not '{b}'.");
            int streams = Cli.CheckStreams(pr.GetValue(streamsOption));
            int modelCount = pr.GetValue(models);
            if (modelCount < 1) throw new UsageException($"--models must be at least 1, not {modelCount}.");
            var data = Cli.DataOptions(pr.GetValue(dataDir), noDownload: true);
            var kinds = Datasets(t, pr.GetValue(dataset), data);
            string dsId = kinds.Count == 1 ? DatasetCatalog.IdOf(kinds[0]) : kinds.Count == 3 ? "all" : string.Join("+", kinds.Select(DatasetCatalog.IdOf));
            string dir = pr.GetValue(results) ?? Path.Combine("runs", $"reproduce-{t}-{dsId}-{b}");
            var backend = Cli.OpenDevice(pr.GetValue(device)!, pr.GetValue(precision)!);
            int? seeds = pr.GetValue(seedsOption);
            if (seeds is < 1) throw new UsageException($"--seeds must be at least 1, not {seeds}.");
            SweepSpec Spec(string target, DatasetKind kind)
            {
                var spec = Reproduction.Sweep(target, Reproduction.Budget(b, kind)) with { Data = data, Backend = backend };
                return seeds is int n ? spec with { Seeds = n } : spec;
            }
            using var interrupt = new Interruption();
            Func<IReadOnlyList<Compute.ComputeBackend>> open = () => Cli.OpenStreams(backend, streams, pr.GetValue(device)!);
            foreach (var (name, given) in new[] { ("--model", pr.GetValue(only) is not null), ("--seeds", seeds is not null) })
                if (given && !Reproduction.IsSweepTarget(t))
                    throw new UsageException($"{name} applies to a sweep target's runs; {t} trains its own models (sweep targets: {string.Join(", ", Reproduction.Targets.Where(Reproduction.IsSweepTarget))}).");
            if (pr.GetValue(lambdas) is not null && t != "regularisation") throw new UsageException($"--lambda sets λ values of reproduce regularisation, not of {t}.");
            if (t == "cnn-prunability") return ReproduceCnnPrunability(kinds[0], b, dir, data, backend);
            if (t == "paper") return ReproducePaper(kinds, b, dir, (target, kind) => Reproduction.ForPaper(Spec(target, kind)), open, interrupt.Token);
            if (t == "fig19") return ReproducePruning(Spec(t, kinds[0]), kinds[0], b, dir, modelCount);
            if (t is "fig13" or "fig14") return ReproduceMaps(t, Spec(t, kinds[0]), kinds[0], b, dir, dir);
            var grids = RegularisationStudy.GridsFor(b);
            if (pr.GetValue(regularisers) is string which)
            {
                if (t != "regularisation") throw new UsageException($"--regulariser picks grids of reproduce regularisation, not of {t}.");
                grids = OnlyRegularisers(grids, which);
            }
            if (pr.GetValue(lambdas) is string lambdaText) grids = WithLambdas(grids, lambdaText);
            var runs = t == "regularisation"
                ? kinds.SelectMany(k => RegularisationStudy.Runs(Spec(t, k), grids)).ToList()
                : kinds.SelectMany(k => Reproduction.Runs(t, Spec(t, k))).ToList();
            if (pr.GetValue(only) is string chosen) runs = OnlyModels(t, runs, chosen);
            var first = Spec(t, kinds[0]);
            Console.Error.WriteLine($"fflib reproduce {t} ({b}): {runs.Count} runs ({string.Join(", ", runs.Select(r => r.Architecture.Id).Distinct())}; {string.Join(", ", kinds.Select(DatasetCatalog.IdOf))}; layers {string.Join(" ", runs.Select(r => string.Join(",", r.Model.HiddenSizes)).Distinct())}; {first.Epochs} epochs; {first.Seeds} seeds) into {dir}");
            if (backend is not Gpu.GpuBackend)
                Console.Error.WriteLine(Estimate(runs, dir));
            SweepRunner.RunConcurrently(runs, dir, open(), new SweepWorkerOptions { Log = Console.Error.WriteLine, SaveModels = t is "regularisation" or "compressibility" }, interrupt.Token);
            var read = SweepResults.Read(dir);
            if (t == "regularisation") return ReportRegularisation(runs, grids, dir, kinds[0], b, read, interrupt.Token);
            if (t == "compressibility") return ReportCompressibility(runs, dir, kinds[0], b, interrupt.Token);
            Console.WriteLine(WriteReport(read, dir));
            if (t == "fig15") DrawTrainingSparsity(read, dir, first.Layers[0].Max(), b);
            return Skipped(read);
        }));
        return cmd;
    }

    /// <summary>The grids of <paramref name="all"/> whose regularisers <paramref name="value"/> names (--regulariser, option spelling or key).</summary>
    private static IReadOnlyList<RegulariserGrid> OnlyRegularisers(IReadOnlyList<RegulariserGrid> all, string value)
    {
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v.ToLowerInvariant().Replace('-', '_')).Distinct().ToList();
        if (names.Count == 0) throw new UsageException("--regulariser names no regulariser.");
        foreach (var n in names)
            if (!all.Any(g => g.Setting.Key == n)) throw new UsageException($"--regulariser {n.Replace('_', '-')}: not one of {string.Join(", ", all.Select(g => g.Setting.Key.Replace('_', '-')))}.");
        return all.Where(g => names.Contains(g.Setting.Key)).ToArray();
    }

    /// <summary>The one grid of <paramref name="grids"/> with the λ values <paramref name="value"/> lists (--lambda).</summary>
    private static IReadOnlyList<RegulariserGrid> WithLambdas(IReadOnlyList<RegulariserGrid> grids, string value)
    {
        if (grids.Count != 1)
            throw new UsageException($"--lambda sets the λ values of one regulariser; name it with --regulariser ({string.Join(", ", grids.Select(g => g.Setting.Key.Replace('_', '-')))}).");
        var list = StrictList(value, "--lambda").Select(part =>
            float.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out float l) && float.IsFinite(l) && l > 0
                ? l : throw new UsageException($"--lambda {value}: '{part}' is not a λ > 0 (λ = 0, the baseline, always runs).")).Distinct().ToArray();
        return [grids[0] with { Lambdas = list }];
    }

    /// <summary>The runs of the architectures <paramref name="value"/> names (--model); each must be one the target runs.</summary>
    private static List<Training.RunSpec> OnlyModels(string target, List<Training.RunSpec> runs, string value)
    {
        var available = runs.Select(r => r.Architecture.Id).Distinct().ToList();
        var ids = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v.ToLowerInvariant()).Distinct().ToList();
        if (ids.Count == 0) throw new UsageException("--model names no architecture.");
        foreach (var id in ids)
            if (!available.Contains(id)) throw new UsageException($"--model {id}: reproduce {target} runs {string.Join(", ", available)} at this budget, not {id}.");
        return runs.Where(r => ids.Contains(r.Architecture.Id)).ToList();
    }

    /// <summary>
    /// The datasets a target runs on: --dataset as given (one, a list, or all), else all for the paper's multi-dataset
    /// tables and figures and MNIST for the rest. Under "all" (or the default) a dataset not found on this machine is
    /// skipped with a warning; a dataset named explicitly must be there.
    /// </summary>
    private static IReadOnlyList<DatasetKind> Datasets(string target, string? value, DatasetLoadOptions data)
    {
        bool multi = Reproduction.MultiDatasetTargets.Contains(target);
        string text = value?.Trim().ToLowerInvariant() ?? (multi ? "all" : "mnist");
        bool all = text == "all";
        var kinds = all ? [DatasetKind.Mnist, DatasetKind.FashionMnist, DatasetKind.Cifar10] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Cli.ParseDataset).Distinct().ToList();
        if (kinds.Count == 0) throw new UsageException("--dataset names no dataset.");
        if (kinds.Count > 1 && !multi) throw new UsageException($"reproduce {target} runs on one dataset at a time; --dataset {value} names {kinds.Count} (several in one folder: {string.Join(", ", Reproduction.MultiDatasetTargets)}).");
        if (kinds.Count > 1 && data.DataDirectory is not null) throw new UsageException($"--data-dir names one dataset's folder, but --dataset {text} names {kinds.Count}; set FFLIB_DATA to a root with one folder per dataset instead.");
        if (!all) return kinds;
        var found = new List<DatasetKind>();
        foreach (var k in kinds)
        {
            try { DatasetLocator.Locate(k, data); found.Add(k); }
            catch (DatasetNotFoundException) { Console.Error.WriteLine($"warning: {DatasetCatalog.IdOf(k)} skipped: not found on this machine, so its cells stay empty (FFLIB_DATA/{DatasetCatalog.IdOf(k)} or the cache would include it)."); }
        }
        if (found.Count == 0) throw new UsageException("--dataset all: none of mnist, fashion-mnist, cifar10 was found on this machine; scripts/get-data.sh installs MNIST and FashionMNIST.");
        return found;
    }

    /// <summary>Figures 15–18 from the folder's tracked runs at the budget's width: sparsity_training_METRIC.png, one panel per dataset.</summary>
    private static IReadOnlyList<string> DrawTrainingSparsity(SweepResults read, string dir, int width, string budget)
    {
        var panels = TrainingSparsity.PerLayer(read.Records, width);
        var pngs = FFLib.Plotting.PaperPlots.SparsityBands(dir, panels, "sparsity_training", $"{width} neurons per layer, {budget} budget, mean ± std over seeds");
        foreach (var png in pngs) Console.Error.WriteLine($"written: {png}");
        return pngs;
    }

    /// <summary>
    /// Figures 13 and 14: one model per architecture at the budget (trained into <paramref name="modelsDir"/> or reused
    /// from it), then each model's figure and the four side by side (BPNN, FFNN, FFNN+C, FFRNN as the paper orders them):
    /// fig13.png (activation maps of test image 0), fig14_authors.png and fig14_ours.png (HSV maps over 2,560 test
    /// images: the authors' 10 batches of 256).
    /// </summary>
    private static int ReproduceMaps(string target, SweepSpec spec, DatasetKind kind, string budget, string modelsDir, string outDir)
    {
        var trained = Reproduction.TrainedModels(spec, modelsDir, log: Console.Error.WriteLine)
            .OrderBy(m => m.Run.Architecture.Id switch { "bpnn" => 0, "ffnn" => 1, "ffc" => 2, "ffrnn" => 3, _ => 4 }).ToArray();
        var test = DatasetLoader.Load(kind, spec.Data).Test;
        Directory.CreateDirectory(outDir);
        var written = new List<string>();
        var fig13 = new List<string>();
        var fig14 = new Dictionary<bool, List<string>> { [true] = [], [false] = [] };
        foreach (var (run, modelPath) in trained)
        {
            var loaded = IO.ModelCheckpoint.Load(modelPath);
            if (loaded.Model is not Models.IActivationSource source) continue;
            string arch = run.Architecture.Id;
            if (target == "fig13")
            {
                string png = Path.Combine(outDir, $"fig13_{arch}.png");
                FFLib.Plotting.ModelFigures.ActivationMaps(png, source, test, 0, loaded.Model.Classes, $"{arch}: activations of test image 0 per layer (normalised per layer)");
                fig13.Add(png);
            }
            else
                foreach (bool authors in new[] { true, false })
                {
                    string png = Path.Combine(outDir, $"fig14_{arch}_{(authors ? "authors" : "ours")}.png");
                    FFLib.Plotting.ModelFigures.HsvMap(png, source, test, 2560, kind, loaded.Model.Classes, authors,
                        $"{arch}: {(authors ? "the authors' method (no label, summed |activation|)" : "our method (true label fed, means)")}, 2,560 test images");
                    fig14[authors].Add(png);
                }
        }
        string title = $"{DatasetCatalog.IdOf(kind)}, {budget} budget";
        if (fig13.Count > 0)
        {
            string png = Path.Combine(outDir, "fig13.png");
            FFLib.Plotting.ModelFigures.Compose(png, fig13, 2, $"Figure 13: activation maps, {title}");
            written.Add(png);
        }
        foreach (var (authors, list) in fig14.Where(kv => kv.Value.Count > 0))
        {
            string png = Path.Combine(outDir, $"fig14_{(authors ? "authors" : "ours")}.png");
            FFLib.Plotting.ModelFigures.Compose(png, list, 2, $"Figure 14 by {(authors ? "the authors' method" : "our method")}, {title}");
            written.Add(png);
        }
        foreach (var png in written) Console.WriteLine($"written: {png}");
        return 0;
    }

    /// <summary>
    /// The compressibility study after its sweep: every kept model through the compression grid (resumable through
    /// compress/ID.csv), pooled over seeds into compressibility.csv, compressibility.md and compressibility.png
    /// (the frontiers of every architecture on one figure; Deep Compression's LeNet-300-100 marked on MNIST).
    /// </summary>
    private static int ReportCompressibility(IReadOnlyList<Training.RunSpec> runs, string dir, DatasetKind kind, string budget, CancellationToken token)
    {
        var records = CompressibilityStudy.MeasureAll(runs, dir, budget, log: Console.Error.WriteLine, cancellationToken: token);
        var rows = CompressibilityStudy.Summarise(records);
        string csv = Path.Combine(dir, "compressibility.csv"), md = Path.Combine(dir, "compressibility.md"), png = Path.Combine(dir, "compressibility.png");
        CompressibilityStudy.WriteCsv(csv, rows);
        string title = $"Compressibility on {DatasetCatalog.IdOf(kind)} ({budget} budget)";
        string report = CompressibilityStudy.Markdown(rows, title);
        IO.AtomicFile.WriteAllText(md, report + "\n![frontiers](compressibility.png)\n");
        var series = rows.GroupBy(r => r.Architecture).Select(g => (g.Key, (IReadOnlyList<CompressibilityRow>)g.ToList())).ToList();
        FFLib.Plotting.CompressionPlots.Frontier(png, series, title, kind == DatasetKind.Mnist ? [CompressCommand.DeepCompressionLeNet300] : null);
        Console.WriteLine(report);
        Console.WriteLine($"written: {md}, {csv}, {png}");
        return 0;
    }

    /// <summary>
    /// Figure 19: train <paramref name="models"/> models per architecture at the budget (existing models in the folder are
    /// reused), prune each at the paper's kept counts over the budget's seeds, and overlay the pooled curves.
    /// </summary>
    private static int ReproducePruning(SweepSpec spec, DatasetKind kind, string budget, string dir, int models)
    {
        var series = Reproduction.Prunability(spec, budget, dir, Console.Error.WriteLine, models);
        string png = Path.Combine(dir, "fig19.png");
        FFLib.Plotting.Plots.Prunability(png, series, $"{DatasetCatalog.IdOf(kind)}: accuracy vs compression ({budget} budget{(models > 1 ? $", {models} models pooled" : "")})");
        foreach (var (label, records) in series)
        {
            Console.WriteLine($"{label}:");
            foreach (var g in records.GroupBy(r => r.Keep))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  keep {g.Key,5}  ratio {g.Average(r => r.CompressionRatio),8:F2}×  accuracy {g.Average(r => r.Accuracy) * 100:F2}% (min {g.Min(r => r.Accuracy) * 100:F2}, max {g.Max(r => r.Accuracy) * 100:F2})"));
        }
        Console.WriteLine($"written: {png}");
        return 0;
    }

    /// <summary>
    /// The CNN prunability study: both networks trained (what the folder holds is reused), pruned, pooled;
    /// cnn-prunability.csv, cnn-prunability.md and cnn-prunability.png.
    /// </summary>
    private static int ReproduceCnnPrunability(DatasetKind kind, string budgetName, string dir, DatasetLoadOptions data, Compute.ComputeBackend? backend)
    {
        CnnPrunabilityBudget budget;
        try { budget = CnnPrunability.Budget(budgetName); }
        catch (ArgumentException e) { throw new UsageException($"--budget {budgetName}: {e.Message.Split(" (Parameter")[0]}"); }
        var sides = CnnPrunability.Run(budget, kind, dir, data, backend, Console.Error.WriteLine);
        string png = Path.Combine(dir, "cnn-prunability.png");
        FFLib.Plotting.Plots.Prunability(png, sides.Select(s => (s.Label, s.Records)).ToArray(),
            $"{DatasetCatalog.IdOf(kind)}: CNNs {string.Join(",", budget.Channels)} under random channel pruning ({budget.Name}, {budget.Models} models each)");
        IO.AtomicFile.WriteAllText(Path.Combine(dir, "cnn-prunability.csv"), CnnPrunability.Csv(sides));
        string md = CnnPrunability.Markdown(sides, budget, kind, "cnn-prunability.png");
        IO.AtomicFile.WriteAllText(Path.Combine(dir, "cnn-prunability.md"), md);
        Console.WriteLine(md);
        Console.WriteLine($"written: {Path.Combine(dir, "cnn-prunability.md")}, cnn-prunability.csv, cnn-prunability.png");
        return 0;
    }

    /// <summary>
    /// The regularisation study after its sweep: every finished model measured (weight sparsity, dead neurons,
    /// random one-shot pruning to 8× and 20×; resumable through regularisation-runs.csv), then
    /// regularisation.csv, regularisation.md and two PNGs per regulariser.
    /// </summary>
    private static int ReportRegularisation(IReadOnlyList<Training.RunSpec> runs, IReadOnlyList<RegulariserGrid> grids, string dir, DatasetKind kind, string budget, SweepResults read, CancellationToken token)
    {
        var measured = RegularisationStudy.MeasureAll(runs, dir, grids, log: Console.Error.WriteLine, cancellationToken: token);
        var summary = RegularisationReport.Summarise(measured);
        RegularisationReport.WriteCsv(Path.Combine(dir, "regularisation.csv"), summary);
        string title = $"{DatasetCatalog.IdOf(kind)}: regularisers against λ = 0 ({budget} budget, {runs.Select(r => r.Seed).Distinct().Count()} seeds)";
        var md = RegularisationReport.Markdown(summary, title);
        var pngs = grids.SelectMany(g => FFLib.Plotting.RegularisationPlots.Effects(dir, "regularisation-" + g.Setting.Key.Replace('_', '-'), summary, g.Setting.Key,
            $"{DatasetCatalog.IdOf(kind)} {g.Setting.Key}")).ToArray();
        // Runs trained with sparsity tracking (reduced and paper budgets) also show dead neurons over training.
        foreach (var g in grids)
            foreach (var model in RegularisationReport.DeadOverTraining(runs, grids, g.Setting.Key, read.Records).GroupBy(s => s.Model))
            {
                string png = Path.Combine(dir, $"regularisation-{g.Setting.Key.Replace('_', '-')}-dead-{model.Key}.png");
                FFLib.Plotting.DeadNeuronPlots.OverTraining(png, model.Select(m => ($"λ = {m.Lambda.ToString("G3", CultureInfo.InvariantCulture)}", m.Samples)).ToArray(),
                    $"{DatasetCatalog.IdOf(kind)} {model.Key} {g.Setting.Key} (mean over seeds)");
                pngs = [.. pngs, png];
            }
        md += "\n" + string.Concat(pngs.Select(p => $"![{Path.GetFileNameWithoutExtension(p)}]({Path.GetFileName(p)})\n"));
        IO.AtomicFile.WriteAllText(Path.Combine(dir, "regularisation.md"), md);
        Console.WriteLine(md);
        Console.WriteLine($"written: {Path.Combine(dir, "regularisation.md")}, regularisation.csv, {RegularisationStudy.RunsFileName}, {string.Join(", ", pngs.Select(Path.GetFileName))}");
        if (measured.Count < runs.Count) Console.Error.WriteLine($"warning: {runs.Count - measured.Count} of {runs.Count} runs are not measured (unfinished or diverged; listed above)");
        return Skipped(read);
    }
}
