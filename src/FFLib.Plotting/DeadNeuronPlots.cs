using FFLib.IO;
using FFLib.Training;
using ScottPlot;

namespace FFLib.Plotting;

/// <summary>Dead neurons over training (what <see cref="DeadNeuronTracker"/> records).</summary>
public static class DeadNeuronPlots
{
    /// <summary>One PNG: each hidden layer's dead neurons in % of its width against training progress in epochs.</summary>
    public static void OverTraining(string path, IReadOnlyList<DeadNeuronSample> samples, string title) =>
        OverTraining(path, [("", samples)], title);

    /// <summary>
    /// As <see cref="OverTraining(string, IReadOnlyList{DeadNeuronSample}, string)"/> for several runs on one figure, each
    /// line labelled "RUN: layer L": for two runs a colour per layer and the second run dashed; for more, a colour per
    /// run and a line pattern per layer (solid, dashed, dotted).
    /// </summary>
    public static void OverTraining(string path, IReadOnlyList<(string Label, IReadOnlyList<DeadNeuronSample> Samples)> runs, string title)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        var palette = new ScottPlot.Palettes.Category10();
        bool many = runs.Count > 2;
        for (int r = 0; r < runs.Count; r++)
            foreach (var layer in runs[r].Samples.GroupBy(s => s.Layer).OrderBy(g => g.Key))
            {
                var xs = layer.Select(s => s.Progress).ToArray();
                var line = plot.Add.Scatter(xs, layer.Select(s => s.Neurons == 0 ? 0 : 100.0 * s.Dead / s.Neurons).ToArray());
                line.LegendText = $"{(runs[r].Label.Length > 0 ? runs[r].Label + ": " : "")}layer {layer.Key} ({layer.First().Neurons} neurons)";
                line.MarkerSize = xs.Length > 60 ? 0 : 5;
                line.LineWidth = 2;
                // Two runs: colour by layer, the second run dashed. More (a λ grid): colour by run, pattern by layer.
                line.Color = palette.GetColor(many ? r : layer.Key - 1);
                line.LinePattern = many ? (layer.Key == 1 ? LinePattern.Solid : layer.Key == 2 ? LinePattern.Dashed : LinePattern.Dotted)
                    : r == 0 ? LinePattern.Solid : LinePattern.Dashed;
            }
        plot.Title($"{title}: dead neurons");
        plot.XLabel("training progress (epochs)");
        plot.YLabel("dead neurons (% of the layer; 0 on every probe image)");
        plot.Axes.SetLimitsY(0, 100);
        if (many) plot.ShowLegend(Edge.Right); else plot.ShowLegend(Alignment.UpperLeft);
        var bytes = plot.GetImageBytes(many ? 1100 : 900, 560, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
