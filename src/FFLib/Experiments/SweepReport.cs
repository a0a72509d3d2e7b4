using System.Text.Json.Nodes;
using FFLib.Analysis;
using System.Globalization;
using System.Text;
using FFLib.IO;

namespace FFLib.Experiments;

/// <summary>
/// One learning-rate × threshold grid (Figures 3–8): mean test accuracy (%) and mean Hoyer sparsity
/// over all weight matrices and seeds per cell; null where no run finished; <see cref="Failed"/> marks
/// cells with a diverged or failed run.
/// </summary>
public sealed record SensitivityGrid(string Title, string Architecture, string Dataset, float[] LearningRates, float[] Thresholds,
    double?[,] Accuracy, double?[,] Hoyer, bool[,] Failed)
{
    /// <summary>Classes of the dataset (chance level is 100 / Classes %).</summary>
    public int Classes
    {
        get
        {
            try { return Data.DatasetCatalog.Get(Data.DatasetCatalog.Parse(Dataset)).Classes; }
            catch (ArgumentException) { return 10; } // a dataset this version does not know: the three it knows have 10
        }
    }
}

/// <summary>Markdown and CSV tables from a results folder: Table 2 (accuracy), Table 3 (weight sparsity), Table 5 (loss max vs loss min, the paper's L+ vs L−).</summary>
public static class SweepReport
{
    /// <summary>
    /// Sparsity over training per layer size (Figures 9–12): for each architecture and dataset with
    /// tracked runs, one series per hidden width N — the metric averaged over the model's tracked
    /// weight matrices and over seeds, against training progress in epochs.
    /// </summary>
    public static IReadOnlyList<(string Title, IReadOnlyList<(string Label, double[] Epochs, SparsityValues[] Values)> Series)> LayerSizeProgressions(IReadOnlyList<RunRecord> records)
    {
        var result = new List<(string, IReadOnlyList<(string, double[], SparsityValues[])>)>();
        foreach (var g in records.Where(r => r.SparsityOverTraining is { Count: > 0 }).GroupBy(r => r.Dataset).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var series = new List<(string, double[], SparsityValues[])>();
            foreach (var m in g.GroupBy(r => (r.Architecture, Width: r.Layers.Max(), r.Loss)).OrderBy(m => m.Key.Architecture, StringComparer.Ordinal).ThenBy(m => m.Key.Width))
            {
                // Per step: the mean over this run's matrices, then over seeds.
                var perStep = m.SelectMany(r => r.SparsityOverTraining!.GroupBy(sm => sm.Step).Select(st => (Step: st.Key, st.First().Progress,
                        V: new SparsityValues(st.Average(x => x.Sparsity.L1NegativeEntropy), st.Average(x => x.Sparsity.L2NegativeEntropy), st.Average(x => x.Sparsity.Hoyer), st.Average(x => x.Sparsity.Gini)))))
                    .GroupBy(x => x.Step).OrderBy(x => x.Key).ToArray();
                series.Add(($"{m.Key.Architecture} N={m.Key.Width}", perStep.Select(x => x.First().Progress).ToArray(),
                    perStep.Select(x => new SparsityValues(x.Average(y => y.V.L1NegativeEntropy), x.Average(y => y.V.L2NegativeEntropy), x.Average(y => y.V.Hoyer), x.Average(y => y.V.Gini))).ToArray()));
            }
            result.Add(($"{g.Key}: sparsity over training by layer size", series));
        }
        return result;
    }

    /// <summary>The lr × θ grids of a results folder: one per architecture, dataset, widths and loss with at least 2 learning rates or 2 thresholds.</summary>
    public static IReadOnlyList<SensitivityGrid> SensitivityGrids(IReadOnlyList<RunRecord> records)
    {
        var grids = new List<SensitivityGrid>();
        foreach (var g in records.GroupBy(r => (r.Architecture, r.Dataset, Layers: string.Join(",", r.Layers), r.Loss)).OrderBy(g => g.Key.ToString(), StringComparer.Ordinal))
        {
            var lrs = g.Select(r => r.LearningRate).Distinct().Order().ToArray();
            var thetas = g.Select(r => r.Threshold).Distinct().Order().ToArray();
            if (lrs.Length < 2 && thetas.Length < 2) continue;
            var acc = new double?[thetas.Length, lrs.Length];
            var hoyer = new double?[thetas.Length, lrs.Length];
            var failed = new bool[thetas.Length, lrs.Length];
            for (int t = 0; t < thetas.Length; t++)
                for (int l = 0; l < lrs.Length; l++)
                {
                    var cell = g.Where(r => r.Threshold == thetas[t] && r.LearningRate == lrs[l]).ToArray();
                    var ok = cell.Where(r => r.Status == "completed" && r.TestAccuracy.HasValue).ToArray();
                    failed[t, l] = cell.Any(r => r.Status != "completed");
                    if (ok.Length == 0) continue;
                    acc[t, l] = ok.Average(r => r.TestAccuracy!.Value * 100);
                    var h = ok.Where(r => r.Sparsity is not null)
                        .Select(r => r.Sparsity!.Where(p => p.Parameter is "weight" or "forward" or "backward").Average(p => p.Sparsity.Hoyer)).ToArray();
                    hoyer[t, l] = h.Length > 0 ? h.Average() : null;
                }
            string loss = g.Key.Loss switch { "min" => "loss min", "max" => "loss max", _ => "cross-entropy" };
            grids.Add(new SensitivityGrid($"{g.Key.Architecture} layers {g.Key.Layers} on {g.Key.Dataset} ({loss})", g.Key.Architecture, g.Key.Dataset, lrs, thetas, acc, hoyer, failed));
        }
        return grids;
    }

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The configuration of a run apart from its seed and dataset (a table row).</summary>
    /// <remarks>Settings are named as the command line names them (--layers 2000,2000, --threshold, --loss min), and only those the run uses.</remarks>
    private static string Config(RunRecord r) =>
        (r.Loss == "ce"
            ? string.Create(Inv, $"{r.Architecture}, layers {string.Join(",", r.Layers)}, lr {r.LearningRate:G4}")
            : string.Create(Inv, $"{r.Architecture}, layers {string.Join(",", r.Layers)}, lr {r.LearningRate:G4}, threshold {r.Threshold:G4}, loss {r.Loss}")) + Extra(r);

    /// <summary>The record's settings beyond the id's first layout, away from their defaults (", peer-norm 0.03"): runs that differ in them are not pooled.</summary>
    private static string Extra(RunRecord r) => r.Settings is null ? "" : string.Concat(r.Settings
        .Where(kv => !FirstLayoutKeys.Contains(kv.Key))
        .Select(kv => $", {kv.Key.Replace('_', '-')} {(kv.Value is JsonValue v && v.TryGetValue<string>(out var text) ? text : kv.Value?.ToJsonString())}"));

    private static readonly HashSet<string> FirstLayoutKeys =
        ["architecture", "dataset", "layers", "loss", "lr", "threshold", "classifier_lr", "recurrent", "epochs", "batch", "negatives", "seed", "train_limit", "test_limit", "validation", "precision"];

    private static (double Mean, double Std, int N) Stats(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return (double.NaN, double.NaN, 0);
        double mean = v.Average();
        double std = SampleStatistics.Std(v);
        return (mean, std, v.Length);
    }

    private static string Cell((double Mean, double Std, int N) s, string format = "F2") =>
        s.N == 0 ? "—" : $"{s.Mean.ToString(format, Inv)} ± {s.Std.ToString(format, Inv)} (n={s.N})";

    /// <summary>
    /// Writes report.md, table2.csv, table3.csv and table5.csv into <paramref name="folder"/> as one
    /// set (all four new, or none replaced) and returns the Markdown; the files of
    /// <paramref name="skipped"/> are listed in the report. With <paramref name="files"/> the four
    /// are staged into that set for the caller to commit with other files (figures).
    /// </summary>
    public static string Write(IReadOnlyList<RunRecord> records, string folder, IReadOnlyList<SkippedRecord>? skipped = null, FileSet? files = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string md = Markdown(records, out var t2, out var t3, out var t5, skipped);
        using var own = files is null ? new FileSet() : null;
        var set = files ?? own!;
        set.WriteAllText(Path.Combine(folder, "table2.csv"), t2);
        set.WriteAllText(Path.Combine(folder, "table3.csv"), t3);
        set.WriteAllText(Path.Combine(folder, "table5.csv"), t5);
        set.WriteAllText(Path.Combine(folder, "report.md"), md);
        own?.Commit();
        return md;
    }

    /// <summary>The report as Markdown, plus the three tables as CSV.</summary>
    public static string Markdown(IReadOnlyList<RunRecord> records, out string table2Csv, out string table3Csv, out string table5Csv,
        IReadOnlyList<SkippedRecord>? skipped = null)
    {
        var ok = records.Where(r => r.Status == "completed" && r.TestAccuracy.HasValue).ToArray();
        var datasets = records.Select(r => r.Dataset).Distinct().OrderBy(d => d, StringComparer.Ordinal).ToArray();
        var sb = new StringBuilder();
        sb.Append("# Sweep report\n\n");
        sb.Append(Inv, $"{records.Count} runs: {ok.Length} completed, {records.Count(r => r.Status == "diverged")} diverged, {records.Count(r => r.Status is not ("completed" or "diverged"))} failed otherwise.\n\n");

        // Table 2: test accuracy, mean ± std over seeds.
        sb.Append("## Test accuracy (%), mean ± std over seeds (Table 2)\n\n");
        sb.Append("| configuration | ").Append(string.Join(" | ", datasets)).Append(" |\n|---|").Append(string.Concat(datasets.Select(_ => "---|"))).Append('\n');
        var csv2 = new StringBuilder("configuration,dataset,mean,std,n\n");
        foreach (var cfg in ok.Select(Config).Distinct().OrderBy(c => c, StringComparer.Ordinal))
        {
            sb.Append("| ").Append(cfg);
            foreach (var d in datasets)
            {
                var s = Stats(ok.Where(r => Config(r) == cfg && r.Dataset == d).Select(r => r.TestAccuracy!.Value * 100));
                sb.Append(" | ").Append(Cell(s));
                if (s.N > 0) csv2.Append(Inv, $"\"{cfg}\",{d},{s.Mean:F4},{s.Std:F4},{s.N}\n");
            }
            sb.Append(" |\n");
        }

        // Table 3: weight sparsity per layer, the paper's four measures.
        sb.Append("\n## Weight sparsity per layer, mean ± std over seeds (Table 3)\n\n");
        sb.Append("| configuration | dataset | layer | tensor | Hoyer | L1 neg. entropy | L2 neg. entropy | Gini |\n|---|---|---|---|---|---|---|---|\n");
        var csv3 = new StringBuilder("configuration,dataset,layer,tensor,hoyer_mean,hoyer_std,gini_mean,gini_std,n,l1_entropy_mean,l1_entropy_std,l2_entropy_mean,l2_entropy_std\n");
        foreach (var g in ok.Where(r => r.Sparsity is not null).GroupBy(r => (Config(r), r.Dataset)).OrderBy(g => g.Key.Item1, StringComparer.Ordinal).ThenBy(g => g.Key.Dataset, StringComparer.Ordinal))
        {
            var tensors = g.First().Sparsity!.Where(p => p.Parameter is "weight" or "forward" or "backward").Select(p => (p.Layer, p.Parameter)).ToArray();
            foreach (var (layer, tensor) in tensors)
            {
                var values = g.Select(r => r.Sparsity!.First(p => p.Layer == layer && p.Parameter == tensor).Sparsity).ToArray();
                var hoyer = Stats(values.Select(v => v.Hoyer));
                var gini = Stats(values.Select(v => v.Gini));
                var l1 = Stats(values.Select(v => v.L1NegativeEntropy));
                var l2 = Stats(values.Select(v => v.L2NegativeEntropy));
                sb.Append(Inv, $"| {g.Key.Item1} | {g.Key.Dataset} | {layer} | {tensor} | {Cell(hoyer, "F3")} | {Cell(l1, "F3")} | {Cell(l2, "F3")} | {Cell(gini, "F3")} |\n");
                // New columns go last, so readers of the older file's columns keep working.
                csv3.Append(Inv, $"\"{g.Key.Item1}\",{g.Key.Dataset},{layer},{tensor},{hoyer.Mean:F5},{hoyer.Std:F5},{gini.Mean:F5},{gini.Std:F5},{hoyer.N},{l1.Mean:F5},{l1.Std:F5},{l2.Mean:F5},{l2.Std:F5}\n");
            }
        }

        // Table 5: loss max vs loss min where both were run with otherwise equal settings.
        sb.Append("\n## loss max vs loss min (Table 5): mean ± std, max, two-sample t-test\n\n");
        sb.Append("`--loss max` is the paper's L+, `--loss min` its L−. Student: pooled variance; Welch: unequal variances (Welch–Satterthwaite degrees of freedom). Two-sided p-values.\n\n");
        sb.Append("| model | dataset | loss max: mean ± std | loss max: max | loss min: mean ± std | loss min: max | p (Student) | p (Welch) |\n|---|---|---|---|---|---|---|---|\n");
        var csv5 = new StringBuilder("model,dataset,max_mean,max_std,max_max,min_mean,min_std,min_max,p_student,p_welch,n_max,n_min\n");
        int pairs = 0;
        foreach (var g in ok.Where(r => r.Loss != "ce")
                     .GroupBy(r => string.Create(Inv, $"{r.Architecture}, layers {string.Join(",", r.Layers)}, lr {r.LearningRate:G4}, threshold {r.Threshold:G4}") + Extra(r) + "|" + r.Dataset)
                     .OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var plus = g.Where(r => r.Loss == "max").Select(r => r.TestAccuracy!.Value * 100).ToArray();
            var minus = g.Where(r => r.Loss == "min").Select(r => r.TestAccuracy!.Value * 100).ToArray();
            if (plus.Length == 0 || minus.Length == 0) continue;
            var (model, dataset) = (g.Key.Split('|')[0], g.Key.Split('|')[1]);
            var sp = Stats(plus);
            var sm = Stats(minus);
            string student = "—", welch = "—";
            double ps = double.NaN, pw = double.NaN;
            if (plus.Length >= 2 && minus.Length >= 2)
            {
                ps = TTest.Student(plus, minus).PValue;
                pw = TTest.Welch(plus, minus).PValue;
                student = ps.ToString("G3", Inv);
                welch = pw.ToString("G3", Inv);
            }
            sb.Append(Inv, $"| {model} | {dataset} | {Cell(sp)} | {plus.Max():F2} | {Cell(sm)} | {minus.Max():F2} | {student} | {welch} |\n");
            pairs++;
            csv5.Append(Inv, $"\"{model}\",{dataset},{sp.Mean:F4},{sp.Std:F4},{plus.Max():F4},{sm.Mean:F4},{sm.Std:F4},{minus.Max():F4},{ps:G6},{pw:G6},{plus.Length},{minus.Length}\n");
        }

        if (pairs == 0) sb.Append("| (no configuration was run with both loss max and loss min) | | | | | | | |\n");

        var failed = records.Where(r => r.Status != "completed").OrderBy(r => r.Id, StringComparer.Ordinal).ToArray();
        if (failed.Length > 0)
        {
            sb.Append("\n## Runs that did not complete\n\n| id | configuration | dataset | seed | status | reason |\n|---|---|---|---|---|---|\n");
            foreach (var r in failed) sb.Append(Inv, $"| {r.Id} | {Config(r)} | {r.Dataset} | {r.Seed} | {r.Status} | {r.Reason} |\n");
        }
        if (skipped is { Count: > 0 })
        {
            sb.Append("\n## Files skipped (not counted above)\n\n| file | reason |\n|---|---|\n");
            foreach (var f in skipped) sb.Append(Inv, $"| {Path.GetFileName(f.Path).Replace("|", "\\|")} | {f.Reason.Replace("|", "\\|")} |\n");
        }
        table2Csv = csv2.ToString();
        table3Csv = csv3.ToString();
        table5Csv = csv5.ToString();
        return sb.ToString();
    }
}
