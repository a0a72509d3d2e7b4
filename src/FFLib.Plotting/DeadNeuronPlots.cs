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

    /// <summary>As <see cref="OverTraining(string, IReadOnlyList{DeadNeuronSample}, string)"/> for several runs on one figure, each line labelled "RUN: layer L".</summary>
    public static void OverTraining(string path, IReadOnlyList<(string Label, IReadOnlyList<DeadNeuronSample> Samples)> runs, string title)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        var palette = new ScottPlot.Palettes.Category10();
        for (int r = 0; r < runs.Count; r++)
            foreach (var layer in runs[r].Samples.GroupBy(s => s.Layer).OrderBy(g => g.Key))
            {
                var xs = layer.Select(s => s.Progress).ToArray();
                var line = plot.Add.Scatter(xs, layer.Select(s => s.Neurons == 0 ? 0 : 100.0 * s.Dead / s.Neurons).ToArray());
                line.LegendText = $"{(runs[r].Label.Length > 0 ? runs[r].Label + ": " : "")}layer {layer.Key} ({layer.First().Neurons} neurons)";
                line.MarkerSize = xs.Length > 60 ? 0 : 5;
                line.LineWidth = 2;
                line.Color = palette.GetColor(layer.Key - 1);
                line.LinePattern = r == 0 ? LinePattern.Solid : LinePattern.Dashed;
            }
        plot.Title($"{title}: dead neurons");
        plot.XLabel("training progress (epochs)");
        plot.YLabel("dead neurons (% of the layer; 0 on every probe image)");
        plot.Axes.SetLimitsY(0, 100);
        plot.ShowLegend(Alignment.UpperLeft);
        var bytes = plot.GetImageBytes(900, 560, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
