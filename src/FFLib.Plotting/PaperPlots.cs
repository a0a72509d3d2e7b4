using FFLib.Analysis;
using FFLib.Experiments;
using ScottPlot;

namespace FFLib.Plotting;

/// <summary>Figures laid out as the paper lays them out: one panel per dataset, side by side, sharing the y axis.</summary>
public static class PaperPlots
{
    private const string Font = "DejaVu Sans";

    /// <summary>
    /// Figures 15–18: one PNG per sparsity measure ("PREFIX_hoyer.png", …), a panel per dataset, in each the mean of
    /// every band as a line and ±1 std as a shaded area (the authors' plot_sparsity.py layout). Returns the paths.
    /// </summary>
    public static IReadOnlyList<string> SparsityBands(string folder, IReadOnlyList<(string Dataset, IReadOnlyList<SparsityBand> Bands)> panels, string filePrefix, string titleNote)
    {
        ArgumentNullException.ThrowIfNull(panels);
        ArgumentNullException.ThrowIfNull(folder);
        Directory.CreateDirectory(folder);
        var paths = new List<string>();
        if (panels.Count == 0) return paths;
        foreach (var metric in Sparsity.Metrics)
        {
            // One y range for all panels, as the authors' sharey=True.
            var all = panels.SelectMany(p => p.Bands).SelectMany(b => b.Mean.Select((m, i) => (Lo: m[metric] - b.Std[i][metric], Hi: m[metric] + b.Std[i][metric]))).ToArray();
            double lo = all.Length > 0 ? all.Min(x => x.Lo) : 0, hi = all.Length > 0 ? all.Max(x => x.Hi) : 1;
            double margin = Math.Max(1e-3, (hi - lo) * 0.05);
            var pngs = new List<string>();
            string scratch = Directory.CreateTempSubdirectory("fflib-panels-").FullName;
            try
            {
                for (int p = 0; p < panels.Count; p++)
                {
                    var plot = new Plot();
                    plot.Font.Set(Font);
                    var palette = new ScottPlot.Palettes.Category10();
                    for (int b = 0; b < panels[p].Bands.Count; b++)
                    {
                        var band = panels[p].Bands[b];
                        var color = palette.GetColor(b);
                        var xs = band.Progress;
                        var mean = band.Mean.Select(m => m[metric]).ToArray();
                        if (band.Runs > 1)
                        {
                            var fill = plot.Add.FillY(xs, mean.Select((m, i) => m - band.Std[i][metric]).ToArray(), mean.Select((m, i) => m + band.Std[i][metric]).ToArray());
                            fill.FillColor = color.WithAlpha(0.2);
                            fill.LineColor = Colors.Transparent;
                        }
                        var line = plot.Add.Scatter(xs, mean);
                        line.Color = color;
                        line.MarkerSize = xs.Length > 60 ? 0 : 3;
                        line.LineWidth = 2;
                        line.LegendText = band.Label;
                    }
                    plot.Axes.SetLimitsY(lo - margin, hi + margin);
                    plot.Title($"{panels[p].Dataset}");
                    plot.XLabel("training progress (epochs)");
                    plot.YLabel(Plots.MetricTitle(metric));
                    plot.ShowLegend(Alignment.UpperRight);
                    string png = Path.Combine(scratch, $"{p}.png");
                    File.WriteAllBytes(png, plot.GetImageBytes(620, 480, ImageFormat.Png));
                    pngs.Add(png);
                }
                string path = Path.Combine(folder, $"{filePrefix}_{Sparsity.Id(metric)}.png");
                ModelFigures.Compose(path, pngs, pngs.Count, $"{Plots.MetricTitle(metric)} of the weight matrices over training ({titleNote})");
                paths.Add(path);
            }
            finally { Directory.Delete(scratch, recursive: true); }
        }
        return paths;
    }
}
