using System.Globalization;
using System.Text;
using FFLib.Analysis;

namespace FFLib.Experiments;

/// <summary>
/// One cell of a paper table, ours beside the paper's: <see cref="Inside"/> says whether our mean lies within the
/// paper's mean ± std (null where the paper prints no std, or where one side is missing).
/// </summary>
/// <param name="Table">"Table 2", "Table 3", "Table 4" or "Table 5".</param>
/// <param name="Network">Network key as in <see cref="PaperValues"/> ("ffnn", "ffnn3", …).</param>
/// <param name="Row">What the cell is within the table ("mnist", "Hoyer layer 1 mnist", "L− layer 2 max", …).</param>
/// <param name="Ours">Our mean over seeds (null: no finished run).</param>
/// <param name="OursStd">Our sample standard deviation over seeds (0 for one run).</param>
/// <param name="Runs">How many runs the mean is over.</param>
/// <param name="Paper">The paper's value (null: the paper has no such cell).</param>
/// <param name="PaperStd">The paper's standard deviation (null: it prints none, as in Table 4).</param>
/// <param name="Inside">Whether our mean lies within the paper's mean ± std (null: not comparable).</param>
/// <param name="Setting">Our runs' widths and epochs ("2000,2000 × 60 epochs"), since budgets below the paper's differ from it.</param>
public sealed record ComparisonCell(string Table, string Network, string Row, double? Ours, double OursStd, int Runs, double? Paper, double? PaperStd, bool? Inside, string Setting);

/// <summary>
/// Our tables beside the paper's (Tables 2–5): from a results folder's records at the paper's Table 1 learning rate
/// and threshold (BPNN lr 1e-4; FF lr 0.02, θ 20) and one hidden width (<see cref="MainWidth"/>), means ± std over
/// seeds, each cell marked inside or outside the paper's one-std band. Runs at other settings are left out (a heatmap
/// or width sweep has many; the paper's tables have one).
/// </summary>
public static class PaperComparison
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The paper's network for a record: the architecture id, or "ffnn3" for a three-layer FFNN; null for a shape the paper has no row for.</summary>
    public static string? NetworkKey(RunRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return (record.Architecture, record.Layers.Length) switch
        {
            ("ffnn", 3) => "ffnn3",
            ("ffnn" or "ffc" or "ffrnn" or "bpnn", 2) => record.Architecture,
            _ => null,
        };
    }

    /// <summary>Whether a record was trained at the paper's Table 1 learning rate and threshold.</summary>
    public static bool AtTable1Settings(RunRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Architecture == "bpnn"
            ? Math.Abs(record.LearningRate - 1e-4f) < 1e-9f
            : Math.Abs(record.LearningRate - 0.02f) < 1e-6f && Math.Abs(record.Threshold - 20f) < 1e-6f;
    }

    /// <summary>Every cell of Tables 2–5 that either our records or the paper fill, in table order.</summary>
    public static IReadOnlyList<ComparisonCell> Cells(IReadOnlyList<RunRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var candidates = records.Where(r => r.Status == "completed" && r.TestAccuracy.HasValue && AtTable1Settings(r) && NetworkKey(r) is not null).ToArray();
        // One width, as in the paper's tables: its 2000 where we have it, else our most common (a folder may hold Figure 9's other widths).
        int width = MainWidth(candidates);
        var ok = candidates.Where(r => r.Layers.All(w => w == width)).ToArray();
        var cells = new List<ComparisonCell>();
        string[] datasets = ["mnist", "fashion-mnist", "cifar10"];
        string[] networks = ["bpnn", "ffnn", "ffc", "ffrnn"];

        // Table 2: accuracy with L− (the paper's tables use it; the BPNN's cross-entropy).
        foreach (var n in networks)
            foreach (var d in datasets)
            {
                var runs = ok.Where(r => NetworkKey(r) == n && r.Dataset == d && r.Loss is "min" or "ce").ToArray();
                cells.Add(Cell("Table 2", n, d, runs, runs.Select(r => r.TestAccuracy!.Value * 100), PaperValues.TestAccuracy(n, d), 0.01));
            }

        // Table 3: four metrics of each weight matrix; BPNN layer 3 is its output layer.
        foreach (var m in new[] { SparsityMetric.Hoyer, SparsityMetric.L1NegativeEntropy, SparsityMetric.L2NegativeEntropy, SparsityMetric.Gini })
            foreach (var n in new[] { "bpnn", "ffnn" })
                for (int layer = 1; layer <= (n == "bpnn" ? 3 : 2); layer++)
                    foreach (var d in datasets)
                    {
                        var runs = ok.Where(r => NetworkKey(r) == n && r.Dataset == d && r.Loss is "min" or "ce" && Weight(r, layer) is not null).ToArray();
                        cells.Add(Cell("Table 3", n, $"{Sparsity.Id(m)} layer {layer} {d}", runs, runs.Select(r => Weight(r, layer)!.Sparsity[m]),
                            PaperValues.WeightSparsity(m, n, d, layer), PaperValues.SparsityResolution));
                    }

        // Table 4: min, max, mean, std of each weight matrix on MNIST, per loss; each statistic averaged over runs as the authors did.
        foreach (var (n, loss, layers) in new[] { ("bpnn", "ce", 3), ("ffnn", "max", 2), ("ffnn", "min", 2), ("ffnn3", "max", 3), ("ffnn3", "min", 3),
                     ("ffc", "max", 2), ("ffc", "min", 2), ("ffrnn", "max", 2), ("ffrnn", "min", 2) })
            for (int layer = 1; layer <= layers; layer++)
            {
                var runs = ok.Where(r => NetworkKey(r) == n && r.Dataset == "mnist" && r.Loss == loss && Weight(r, layer) is not null).ToArray();
                var paper = PaperValues.WeightStatistics(n, loss, layer);
                foreach (var (stat, pick, paperValue) in new (string, Func<TensorStats, double>, double?)[]
                         {
                             ("min", s => s.Min, paper?.Min), ("max", s => s.Max, paper?.Max), ("mean", s => s.Mean, paper?.Mean), ("std", s => s.Std, paper?.Std),
                         })
                    cells.Add(new ComparisonCell("Table 4", n, $"{LossName(loss)} layer {layer} {stat}", Mean(runs.Select(r => pick(Weight(r, layer)!.Stats))), SampleStatistics.Std(runs.Select(r => pick(Weight(r, layer)!.Stats))),
                        runs.Length, paperValue, null, null, Setting(runs)));
            }

        // Table 5 (MNIST): L+ against L−, Welch's t-test (the authors' ttest_ind(equal_var=False)).
        foreach (var n in new[] { "ffnn", "ffc", "ffrnn", "ffnn3" })
        {
            var paper = PaperValues.LossComparison(n);
            var plus = ok.Where(r => NetworkKey(r) == n && r.Dataset == "mnist" && r.Loss == "max").ToArray();
            var minus = ok.Where(r => NetworkKey(r) == n && r.Dataset == "mnist" && r.Loss == "min").ToArray();
            cells.Add(Cell("Table 5", n, "L+ mnist", plus, plus.Select(r => r.TestAccuracy!.Value * 100), paper?.Max, 0.01));
            cells.Add(Cell("Table 5", n, "L− mnist", minus, minus.Select(r => r.TestAccuracy!.Value * 100), paper?.Min, 0.01));
            // Welch's test needs some spread: two constant samples (a model stuck at chance) have no p-value.
            bool spread = SampleStatistics.Std(plus.Select(r => r.TestAccuracy!.Value)) > 0 || SampleStatistics.Std(minus.Select(r => r.TestAccuracy!.Value)) > 0;
            double? p = plus.Length >= 2 && minus.Length >= 2 && spread
                ? TTest.Welch(plus.Select(r => r.TestAccuracy!.Value * 100).ToArray(), minus.Select(r => r.TestAccuracy!.Value * 100).ToArray()).PValue
                : null;
            cells.Add(new ComparisonCell("Table 5", n, "p (Welch) mnist", p, 0, Math.Min(plus.Length, minus.Length), paper?.P, null, null, Setting([.. plus, .. minus])));
        }
        return cells;
    }

    /// <summary>The hidden width the tables compare: 2000 (the paper's) when some run has it, else the most common width (ties: the larger).</summary>
    public static int MainWidth(IReadOnlyList<RunRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var widths = records.Where(r => r.Layers.Length > 0 && r.Layers.All(w => w == r.Layers[0])).Select(r => r.Layers[0]).ToArray();
        if (widths.Contains(2000) || widths.Length == 0) return 2000;
        return widths.GroupBy(w => w).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Key).First().Key;
    }

    private static ComparisonCell Cell(string table, string network, string row, RunRecord[] runs, IEnumerable<double> values, PaperBand? paper, double resolution)
    {
        var v = values.ToArray();
        double? mean = Mean(v);
        bool? inside = mean is double m && paper is PaperBand b ? b.Contains(m, resolution) : null;
        return new ComparisonCell(table, network, row, mean, SampleStatistics.Std(v), v.Length, paper?.Mean, paper?.Std, inside, Setting(runs));
    }

    /// <summary>The record's weight matrix of layer <paramref name="layer"/> (1-based; hidden+1 = the output layer): "weight", or the FFRNN's forward matrix.</summary>
    private static ParameterReport? Weight(RunRecord r, int layer)
    {
        if (r.Sparsity is null) return null;
        string name = layer <= r.Layers.Length ? $"layer {layer}" : layer == r.Layers.Length + 1 ? "output" : "";
        return r.Sparsity.FirstOrDefault(p => p.Layer == name && p.Parameter is "weight" or "forward");
    }

    private static string LossName(string loss) => loss switch { "max" => "L+", "min" => "L−", _ => "CE" };

    private static double? Mean(IEnumerable<double> values)
    {
        var v = values.ToArray();
        return v.Length == 0 ? null : v.Average();
    }


    private static string Setting(IEnumerable<RunRecord> runs) =>
        string.Join("; ", runs.Select(r => $"{string.Join(",", r.Layers)} × {r.Epochs} epochs").Distinct().Order(StringComparer.Ordinal));

    /// <summary>All cells as CSV: table, network, row, ours, ours_std, runs, paper, paper_std, inside, setting.</summary>
    public static string Csv(IReadOnlyList<ComparisonCell> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var sb = new StringBuilder("table,network,row,ours,ours_std,runs,paper,paper_std,inside,setting\n");
        foreach (var c in cells)
            sb.Append(Inv, $"{c.Table},{c.Network},{c.Row},{c.Ours?.ToString("G6", Inv)},{c.OursStd.ToString("G6", Inv)},{c.Runs},{c.Paper?.ToString("G6", Inv)},{c.PaperStd?.ToString("G6", Inv)},{(c.Inside is bool b ? (b ? "yes" : "no") : "")},\"{c.Setting}\"\n");
        return sb.ToString();
    }

    /// <summary>
    /// The cells as Markdown, one section per table that has at least one cell of ours, with a count of cells inside
    /// the paper's bands; cells the paper fills but we did not run are listed as "not run" only in tables we ran.
    /// </summary>
    public static string Markdown(IReadOnlyList<ComparisonCell> cells, string title)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var sb = new StringBuilder($"# {title}\n\n");
        sb.Append("Ours: mean ± std over seeds at the paper's Table 1 learning rate and threshold (other runs are left out). ")
          .Append("Inside: our mean lies within the paper's mean ± one std (a std printed as 0.000 counts as ±0.0005). ")
          .Append("Where our widths or epochs differ from the paper's (2000,2000 × 60 epochs; 120 for CIFAR-10), the column *setting* says so: a miss there is expected.\n");
        foreach (var table in cells.GroupBy(c => c.Table))
        {
            var rows = table.Where(c => c.Ours.HasValue).ToArray();
            if (rows.Length == 0) continue;
            var judged = rows.Where(c => c.Inside.HasValue).ToArray();
            sb.Append(Inv, $"\n## {table.Key}{(judged.Length > 0 ? $": {judged.Count(c => c.Inside == true)} of {judged.Length} cells inside the paper's band" : "")}\n\n");
            sb.Append("| network | cell | ours | runs | paper | inside | setting |\n|---|---|---|---|---|---|---|\n");
            string format = table.Key switch { "Table 3" => "F3", "Table 4" => "G4", _ => "F2" };
            foreach (var c in table)
            {
                if (!c.Ours.HasValue && !table.Any(o => o.Ours.HasValue && o.Network == c.Network)) continue; // a network we did not run at all
                string ours = c.Ours is double m
                    ? (c.Row.StartsWith("p ", StringComparison.Ordinal) ? m.ToString("G3", Inv) : c.Runs > 1 ? $"{m.ToString(format, Inv)} ± {c.OursStd.ToString(format, Inv)}" : m.ToString(format, Inv))
                    : "not run";
                string paper = c.Paper is double p
                    ? (c.PaperStd is double s ? $"{p.ToString(format, Inv)} ± {s.ToString(format, Inv)}" : p.ToString(c.Row.StartsWith("p ", StringComparison.Ordinal) ? "G3" : format, Inv))
                    : "—";
                string inside = c.Inside switch { true => "yes", false => "**no**", _ => "" };
                sb.Append(Inv, $"| {PaperValues.DisplayName(c.Network)} | {c.Row} | {ours} | {c.Runs} | {paper} | {inside} | {c.Setting} |\n");
            }
        }
        return sb.ToString();
    }
}
