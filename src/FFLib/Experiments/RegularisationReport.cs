using System.Globalization;
using System.Text;
using FFLib.IO;

namespace FFLib.Experiments;

/// <summary>One metric of one (model, regulariser, λ) group over its seeds, with Welch's t-test against the same model's λ = 0 group.</summary>
/// <param name="Model">Architecture id.</param>
/// <param name="Regulariser">Setting key of the regulariser, or "none" for the baseline.</param>
/// <param name="Lambda">λ (0 for the baseline).</param>
/// <param name="Metric">accuracy, accuracy_at_8x, ratio_at_8x, …, hoyer_l1, gini_l1, dead_l1, … (accuracy and dead share in %).</param>
/// <param name="N">Seeds in the group.</param>
/// <param name="Mean">Mean over the seeds.</param>
/// <param name="Std">Sample standard deviation (0 for one seed).</param>
/// <param name="PValue">Two-sided p of Welch's t-test against λ = 0 (null for the baseline, or with fewer than 2 seeds on a side).</param>
public sealed record RegularisationSummaryRow(string Model, string Regulariser, float Lambda, string Metric, int N, double Mean, double Std, double? PValue);

/// <summary>The regularisation study's summary: per group and metric, mean ± std and the t-test against λ = 0, as CSV and Markdown.</summary>
public static class RegularisationReport
{
    /// <summary>
    /// One regulariser's dead neurons over training: per model and λ (0 included), each layer's dead count at
    /// each step every seed recorded, as the mean over those seeds (rounded to a neuron). Runs whose records
    /// hold no series (trained without sparsity tracking) are left out; the result is empty when none has one.
    /// </summary>
    public static IReadOnlyList<(string Model, float Lambda, IReadOnlyList<Training.DeadNeuronSample> Samples)> DeadOverTraining(
        IReadOnlyList<Training.RunSpec> runs, IReadOnlyList<RegulariserGrid> grids, string regulariser, IReadOnlyList<RunRecord> records)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(grids);
        ArgumentNullException.ThrowIfNull(records);
        var byId = records.Where(r => r.Status == "completed" && r.DeadNeuronsOverTraining is { Count: > 0 }).ToDictionary(r => r.Id, StringComparer.Ordinal);
        var result = new List<(string, float, IReadOnlyList<Training.DeadNeuronSample>)>();
        var groups = runs.Select(r => (Run: r, Which: RegularisationStudy.Which(r, grids)))
            .Where(x => x.Which.Regulariser == "none" || x.Which.Regulariser == regulariser)
            .GroupBy(x => (x.Run.Architecture.Id, x.Which.Lambda)).OrderBy(g => g.Key.Id, StringComparer.Ordinal).ThenBy(g => g.Key.Lambda);
        foreach (var g in groups)
        {
            var series = g.Select(x => byId.GetValueOrDefault(SweepRunner.RunId(x.Run))?.DeadNeuronsOverTraining).OfType<IReadOnlyList<Training.DeadNeuronSample>>().ToList();
            if (series.Count == 0) continue;
            // Each seed's dead count by (step, layer); only the points every seed has are averaged.
            var seeds = series.Select(r => r.GroupBy(s => (s.Step, s.Layer)).ToDictionary(p => p.Key, p => p.First().Dead)).ToList();
            var mean = series[0].Where(s => seeds.All(d => d.ContainsKey((s.Step, s.Layer)))).OrderBy(s => s.Step).ThenBy(s => s.Layer)
                .Select(s => s with { Dead = (int)Math.Round(seeds.Average(d => d[(s.Step, s.Layer)]), MidpointRounding.AwayFromZero) }).ToArray();
            result.Add((g.Key.Id, g.Key.Lambda, mean));
        }
        return result;
    }

    /// <summary>The metrics of one measurement, by name (accuracies and dead shares in %).</summary>
    public static IEnumerable<(string Metric, double Value)> Metrics(RegularisationMeasurement m)
    {
        ArgumentNullException.ThrowIfNull(m);
        yield return ("accuracy", m.Accuracy * 100);
        foreach (var (target, ratio, accuracy) in m.Pruned)
        {
            string t = target.ToString("0.##", CultureInfo.InvariantCulture);
            yield return ($"accuracy_at_{t}x", accuracy * 100);
            yield return ($"ratio_at_{t}x", ratio);
        }
        for (int l = 0; l < m.Hoyer.Length; l++) yield return ($"hoyer_l{l + 1}", m.Hoyer[l]);
        for (int l = 0; l < m.Gini.Length; l++) yield return ($"gini_l{l + 1}", m.Gini[l]);
        for (int l = 0; l < m.DeadFraction.Length; l++) yield return ($"dead_l{l + 1}", m.DeadFraction[l] * 100);
    }

    /// <summary>Groups the measurements by model, regulariser and λ and tests each metric against the model's λ = 0 group.</summary>
    public static IReadOnlyList<RegularisationSummaryRow> Summarise(IReadOnlyList<RegularisationMeasurement> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var result = new List<RegularisationSummaryRow>();
        foreach (var model in rows.GroupBy(r => r.Model))
        {
            var baseline = model.Where(r => r.Regulariser == "none").ToArray();
            var baseValues = Values(baseline);
            foreach (var group in model.GroupBy(r => (r.Regulariser, r.Lambda)).OrderBy(g => g.Key.Regulariser == "none" ? "" : g.Key.Regulariser).ThenBy(g => g.Key.Lambda))
            {
                bool isBase = group.Key.Regulariser == "none";
                foreach (var (metric, values) in Values(group.ToArray()))
                {
                    double mean = values.Average();
                    double std = SampleStatistics.Std(values);
                    double? p = null;
                    if (!isBase && baseValues.TryGetValue(metric, out var b) && b.Count > 1 && values.Count > 1)
                    {
                        double pv = TTest.Welch(values, b).PValue;
                        // Identical groups (e.g. no neuron dead anywhere) have no spread to test: no difference.
                        p = double.IsNaN(pv) ? (values.SequenceEqual(b) || values.Concat(b).Distinct().Count() == 1 ? 1 : null) : pv;
                    }
                    result.Add(new RegularisationSummaryRow(model.Key, group.Key.Regulariser, group.Key.Lambda, metric, values.Count, mean, std, p));
                }
            }
        }
        return result;
    }

    private static Dictionary<string, List<double>> Values(IReadOnlyList<RegularisationMeasurement> group)
    {
        var byMetric = new Dictionary<string, List<double>>();
        foreach (var m in group.OrderBy(m => m.Seed))
            foreach (var (metric, value) in Metrics(m))
                (byMetric.TryGetValue(metric, out var list) ? list : byMetric[metric] = []).Add(value);
        return byMetric;
    }

    /// <summary>Writes the summary in long form (model, regulariser, lambda, metric, n, mean, std, p_vs_lambda0), atomically.</summary>
    public static void WriteCsv(string path, IReadOnlyList<RegularisationSummaryRow> summary)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("model,regulariser,lambda,metric,n,mean,std,p_vs_lambda0\n");
        foreach (var r in summary)
            sb.Append(inv, $"{r.Model},{r.Regulariser},{r.Lambda.ToString("R", inv)},{r.Metric},{r.N},{r.Mean:G6},{r.Std:G6},{(r.PValue is double p ? p.ToString("G4", inv) : "")}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>
    /// One table per model: a row per (regulariser, λ), a column per metric, each cell "mean ± std"
    /// with p &lt; 0.05 against λ = 0 marked *, p &lt; 0.01 **.
    /// </summary>
    public static string Markdown(IReadOnlyList<RegularisationSummaryRow> summary, string title)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder($"# {title}\n\n");
        sb.Append("Each cell: mean ± std over training seeds; * p < 0.05, ** p < 0.01 (Welch's t-test against the same model's λ = 0 row). ")
          .Append("Accuracy and dead neurons in %; Hoyer and Gini of each FF layer's weight matrix; pruned accuracy after random one-shot neuron pruning to the given compression (mean over pruning seeds).\n");
        foreach (var model in summary.GroupBy(r => r.Model))
        {
            var metrics = model.Select(r => r.Metric).Distinct().Where(m => !m.StartsWith("ratio_", StringComparison.Ordinal)).ToArray();
            sb.Append(inv, $"\n## {model.Key}\n\n| regulariser | λ | n | {string.Join(" | ", metrics)} |\n|---|---|---|{string.Concat(metrics.Select(_ => "---|"))}\n");
            foreach (var g in model.GroupBy(r => (r.Regulariser, r.Lambda)))
            {
                var cells = metrics.Select(m => g.FirstOrDefault(r => r.Metric == m) is { } r ? Cell(r) : "");
                sb.Append(inv, $"| {g.Key.Regulariser} | {g.Key.Lambda.ToString("G3", inv)} | {g.First().N} | {string.Join(" | ", cells)} |\n");
            }
            var ratios = model.Where(r => r.Metric.StartsWith("ratio_", StringComparison.Ordinal)).GroupBy(r => r.Metric)
                .Select(g => string.Create(inv, $"{g.Key.Replace("ratio_at_", "")}: measured {g.Min(r => r.Mean):F1}–{g.Max(r => r.Mean):F1}×"));
            sb.Append(inv, $"\nCompression ratios reached (real files, mean per group): {string.Join("; ", ratios)}.\n");
        }
        return sb.ToString();
    }

    private static string Cell(RegularisationSummaryRow r)
    {
        bool percent = r.Metric.StartsWith("accuracy", StringComparison.Ordinal) || r.Metric.StartsWith("dead", StringComparison.Ordinal);
        string f = percent ? "F2" : "F3";
        string stars = r.PValue is double p ? p < 0.01 ? " **" : p < 0.05 ? " *" : "" : "";
        return string.Create(CultureInfo.InvariantCulture, $"{r.Mean.ToString(f, CultureInfo.InvariantCulture)} ± {r.Std.ToString(f, CultureInfo.InvariantCulture)}{stars}");
    }
}
