using System.Globalization;
using FFLib.Experiments;
using FFLib.IO;
using ScottPlot;

namespace FFLib.Plotting;

/// <summary>The regularisation study's figures: one regulariser's effect against λ, per model.</summary>
public static class RegularisationPlots
{
    /// <summary>
    /// Two PNGs for <paramref name="regulariser"/>: PREFIX-accuracy.png (test accuracy and pruned accuracy at each
    /// compression target) and PREFIX-sparsity.png (dead neurons and Hoyer ×100 per layer), against λ (λ = 0 first,
    /// evenly spaced), a line per model and metric with a band of ± std over seeds. Returns the paths.
    /// </summary>
    public static IReadOnlyList<string> Effects(string folder, string prefix, IReadOnlyList<RegularisationSummaryRow> summary, string regulariser, string title)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var rows = summary.Where(r => r.Regulariser == regulariser || r.Regulariser == "none").ToArray();
        var lambdas = rows.Select(r => r.Lambda).Distinct().Order().ToArray();
        var metrics = rows.Select(r => r.Metric).Distinct().ToArray();
        string accuracy = Path.Combine(folder, prefix + "-accuracy.png"), sparsity = Path.Combine(folder, prefix + "-sparsity.png");
        Draw(accuracy, rows, lambdas, metrics.Where(m => m.StartsWith("accuracy", StringComparison.Ordinal)).ToArray(), 1,
            $"{title}: accuracy", "accuracy (%)", regulariser);
        Draw(sparsity, rows, lambdas, metrics.Where(m => m.StartsWith("dead_", StringComparison.Ordinal) || m.StartsWith("hoyer_", StringComparison.Ordinal)).ToArray(), 100,
            $"{title}: dead neurons and weight sparsity", "dead neurons (%) / Hoyer × 100", regulariser);
        return [accuracy, sparsity];
    }

    private static void Draw(string path, IReadOnlyList<RegularisationSummaryRow> rows, float[] lambdas, string[] metrics, double hoyerScale, string title, string yLabel, string regulariser)
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        var palette = new ScottPlot.Palettes.Category10();
        var models = rows.Select(r => r.Model).Distinct().ToArray();
        for (int mi = 0; mi < models.Length; mi++)
            for (int k = 0; k < metrics.Length; k++)
            {
                double scale = metrics[k].StartsWith("hoyer_", StringComparison.Ordinal) ? hoyerScale : 1;
                var points = lambdas.Select((l, x) => (X: (double)x, Row: rows.FirstOrDefault(r => r.Model == models[mi] && r.Lambda == l && r.Metric == metrics[k])))
                    .Where(p => p.Row is not null).ToArray();
                if (points.Length == 0) continue;
                var xs = points.Select(p => p.X).ToArray();
                var color = palette.GetColor(k);
                var band = plot.Add.FillY(xs, points.Select(p => (p.Row!.Mean - p.Row.Std) * scale).ToArray(), points.Select(p => (p.Row!.Mean + p.Row.Std) * scale).ToArray());
                band.FillColor = color.WithAlpha(0.15);
                band.LineColor = Colors.Transparent;
                var line = plot.Add.Scatter(xs, points.Select(p => p.Row!.Mean * scale).ToArray());
                line.Color = color;
                line.LineWidth = 2;
                line.MarkerSize = 7;
                line.MarkerShape = mi == 0 ? MarkerShape.FilledCircle : MarkerShape.FilledSquare;
                line.LinePattern = mi == 0 ? LinePattern.Solid : LinePattern.Dashed;
                line.LegendText = $"{models[mi]} {metrics[k].Replace('_', ' ')}";
            }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            lambdas.Select((l, x) => new Tick(x, l == 0 ? "0 (off)" : l.ToString("G3", CultureInfo.InvariantCulture))).ToArray());
        plot.Axes.SetLimitsX(-0.3, lambdas.Length - 0.7);
        plot.Title(title);
        plot.XLabel($"{regulariser} λ");
        plot.YLabel(yLabel);
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "band: mean ± std over seeds", FillColor = Colors.Gray.WithAlpha(0.15), LineWidth = 0 });
        // Outside the data area: with two models the lines fill the top right, where an inside legend hid them.
        plot.ShowLegend(Edge.Right);
        var bytes = plot.GetImageBytes(1160, 600, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
