using System.Diagnostics;
using System.Globalization;
using System.Text;
using FFLib.Data;
using FFLib.Experiments;

namespace FFLib.Cli;

/// <summary><c>fflib reproduce paper</c>: every table and figure into one folder, and index.md beside the paper's values.</summary>
internal static partial class SweepCommand
{
    /// <summary>
    /// One sweep holding every sweep target's runs for every dataset (a configuration two targets share runs once), its
    /// report (Tables 2–5, the heatmaps, Figures 9–12 and 15–18, paper-comparison.md), Figure 19 per dataset in
    /// fig19-DATASET/, Figures 13 and 14 on the first dataset from those models, then index.md.
    /// </summary>
    private static int ReproducePaper(IReadOnlyList<DatasetKind> kinds, string budget, string dir, Func<string, DatasetKind, SweepSpec> spec,
        Func<IReadOnlyList<Compute.ComputeBackend>> open, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        var runs = kinds.SelectMany(k => Reproduction.Runs("paper", spec("paper", k))).ToList();
        Console.Error.WriteLine($"fflib reproduce paper ({budget}): {runs.Count} runs for tables 2–5 and figures 3–12, 15–18 on {string.Join(", ", kinds.Select(DatasetCatalog.IdOf))}, then figure 19 per dataset and figures 13–14, into {dir}");
        if (spec("paper", kinds[0]).Backend is not Gpu.GpuBackend) Console.Error.WriteLine(Estimate(runs, dir));
        SweepRunner.RunConcurrently(runs, dir, open(), new SweepWorkerOptions { Log = Console.Error.WriteLine }, token);
        var read = SweepResults.Read(dir);
        WriteReport(read, dir);
        DrawTrainingSparsity(read, dir, spec("fig15", kinds[0]).Layers[0].Max(), budget);
        foreach (var k in kinds)
        {
            token.ThrowIfCancellationRequested();
            ReproducePruning(spec("fig19", k), k, budget, Path.Combine(dir, $"fig19-{DatasetCatalog.IdOf(k)}"), 1);
        }
        string models = Path.Combine(dir, $"fig19-{DatasetCatalog.IdOf(kinds[0])}");
        ReproduceMaps("fig13", spec("fig13", kinds[0]), kinds[0], budget, models, dir);
        ReproduceMaps("fig14", spec("fig14", kinds[0]), kinds[0], budget, models, dir);
        string index = Path.Combine(dir, "index.md");
        IO.AtomicFile.WriteAllText(index, Index(dir, budget, kinds, read, clock.Elapsed));
        Console.WriteLine($"written: {index}");
        return Skipped(read);
    }

    /// <summary>index.md: how the folder was made, our tables beside the paper's with the count of cells inside its bands, and every figure embedded.</summary>
    internal static string Index(string dir, string budget, IReadOnlyList<DatasetKind> kinds, SweepResults read, TimeSpan elapsed)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var records = read.Records;
        sb.Append(inv, $"# The paper's tables and figures, reproduced ({budget} budget)\n\n");
        sb.Append(inv, $"Made by `fflib reproduce paper --budget {budget}` on {string.Join(", ", kinds.Select(DatasetCatalog.IdOf))}: {records.Count} runs ({records.Count(r => r.Status == "completed")} completed, {records.Count(r => r.Status == "diverged")} diverged); this call took {elapsed.TotalMinutes:F1} min (runs finished by an earlier call are not redone); the runs' own training and testing add up to {records.Sum(r => r.Seconds) / 3600:F2} h, whichever calls made them (Figures 13, 14 and 19 not included). ");
        sb.Append("The paper is Nikov, Strnad and Podgorelec, *Prunability of Multi-Layer Perceptrons Trained with the Forward-Forward Algorithm* (Mathematics, 2025). ");
        sb.Append("Below the paper's budget (2×2000 neurons, 60 epochs, 10 seeds) our numbers are not expected to fall inside its bands: the column *setting* says what ours were.\n\n");
        sb.Append("Full tables with every configuration: [report.md](report.md); every cell as CSV: [paper-comparison.csv](paper-comparison.csv).\n\n");
        var cells = PaperComparison.Cells(records);
        string comparison = PaperComparison.Markdown(cells, "Tables 2–5 beside the paper");
        sb.Append(comparison.Replace("\n## ", "\n### ").Replace("# Tables 2–5 beside the paper", "## Tables 2–5 beside the paper")).Append('\n');

        void Figures(string heading, string note, IEnumerable<string> files)
        {
            var list = files.Where(File.Exists).Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/')).ToArray();
            sb.Append(inv, $"\n## {heading}\n\n{note}\n\n");
            if (list.Length == 0) sb.Append("(not drawn: no runs for it finished)\n");
            foreach (var f in list) sb.Append(inv, $"![{Path.GetFileNameWithoutExtension(f)}]({f})\n\n");
        }

        IEnumerable<string> Glob(string pattern) => Directory.EnumerateFiles(dir, pattern).Order(StringComparer.Ordinal);
        Figures("Figures 3–5: accuracy over learning rate × threshold", "Mean test accuracy per cell (white: diverged). The authors' scripts hold no grid; ours is in docs/reproducing.md.", Glob("heatmap_accuracy_*.png"));
        Figures("Figures 6–8: Hoyer sparsity over learning rate × threshold", "Mean Hoyer sparsity of the weight matrices per cell.", Glob("heatmap_hoyer_*.png"));
        Figures("Figures 9–12: sparsity over training by layer width", "One line per architecture and width N, averaged over the model's weight matrices and seeds.", Glob("sparsity_by_size_*.png"));
        Figures("Figure 13: activation maps", "Test image 0 through each network, normalised per layer.", [Path.Combine(dir, "fig13.png")]);
        Figures("Figure 14: HSV functional-sparsity maps", "The authors' method (no label, summed |activation|, hue c/(K−1)) and ours (true label, means, hue c/K).", [Path.Combine(dir, "fig14_authors.png"), Path.Combine(dir, "fig14_ours.png")]);
        Figures("Figures 15–18: sparsity per layer over training", "Mean ± std over seeds, one panel per dataset.", Glob("sparsity_training_*.png"));
        Figures("Figure 19: accuracy against compression under random neuron pruning", "One model per architecture, pruned with the budget's seeds (mean, ±1 std band, dashed min and max).",
            kinds.Select(k => Path.Combine(dir, $"fig19-{DatasetCatalog.IdOf(k)}", "fig19.png")));
        return sb.ToString();
    }
}
