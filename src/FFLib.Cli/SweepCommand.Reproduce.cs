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
        var target = new Argument<string>("target") { Description = "table2, table3, table5, fig3 (accuracy heatmaps), fig6 (Hoyer heatmaps), fig19 (prunability curves), regularisation (peer normalisation, activity L1 and weight decay against sparsity and pruning) or compressibility (pruning, low rank, quantisation, weight sharing and entropy coding: how small FF and backprop models get); the last two answer the paper's future-work questions." };
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
            SweepRunner.RunConcurrently(runs, dir, Cli.OpenStreams(spec.Backend!, streams, pr.GetValue(device)!), new SweepWorkerOptions { Log = Console.Error.WriteLine, SaveModels = t is "regularisation" or "compressibility" }, interrupt.Token);
            var read = SweepResults.Read(dir);
            if (t == "regularisation") return ReportRegularisation(runs, dir, kind, b, read, interrupt.Token);
            if (t == "compressibility") return ReportCompressibility(runs, dir, kind, b, interrupt.Token);
            Console.WriteLine(WriteReport(read, dir));
            return Skipped(read);
        }));
        return cmd;
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

    /// <summary>
    /// The regularisation study after its sweep: every finished model measured (weight sparsity, dead neurons,
    /// random one-shot pruning to 8× and 20×; resumable through regularisation-runs.csv), then
    /// regularisation.csv, regularisation.md and two PNGs per regulariser.
    /// </summary>
    private static int ReportRegularisation(IReadOnlyList<Training.RunSpec> runs, string dir, DatasetKind kind, string budget, SweepResults read, CancellationToken token)
    {
        var grids = RegularisationStudy.GridsFor(budget);
        var measured = RegularisationStudy.MeasureAll(runs, dir, grids, log: Console.Error.WriteLine, cancellationToken: token);
        var summary = RegularisationReport.Summarise(measured);
        RegularisationReport.WriteCsv(Path.Combine(dir, "regularisation.csv"), summary);
        string title = $"{DatasetCatalog.IdOf(kind)}: regularisers against λ = 0 ({budget} budget, {runs.Select(r => r.Seed).Distinct().Count()} seeds)";
        var md = RegularisationReport.Markdown(summary, title);
        var pngs = grids.SelectMany(g => FFLib.Plotting.RegularisationPlots.Effects(dir, "regularisation-" + g.Setting.Key.Replace('_', '-'), summary, g.Setting.Key,
            $"{DatasetCatalog.IdOf(kind)} {g.Setting.Key}")).ToArray();
        md += "\n" + string.Concat(pngs.Select(p => $"![{Path.GetFileNameWithoutExtension(p)}]({Path.GetFileName(p)})\n"));
        IO.AtomicFile.WriteAllText(Path.Combine(dir, "regularisation.md"), md);
        Console.WriteLine(md);
        Console.WriteLine($"written: {Path.Combine(dir, "regularisation.md")}, regularisation.csv, {RegularisationStudy.RunsFileName}, {string.Join(", ", pngs.Select(Path.GetFileName))}");
        if (measured.Count < runs.Count) Console.Error.WriteLine($"warning: {runs.Count - measured.Count} of {runs.Count} runs are not measured (unfinished or diverged; listed above)");
        return Skipped(read);
    }
}
