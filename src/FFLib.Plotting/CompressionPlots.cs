using System.Globalization;
using FFLib.IO;
using FFLib.ModelCompression;
using ScottPlot;

namespace FFLib.Plotting;

/// <summary>The compressibility figure: accuracy against stored bytes, every model as a point, each series' frontier as a line.</summary>
public static class CompressionPlots
{
    /// <summary>A reference point drawn on the figure (e.g. Deep Compression's LeNet-300-100: 27 KB, 98.4 %).</summary>
    public sealed record Mark(string Label, long Bytes, double Accuracy);

    /// <summary>
    /// Writes the PNG: x = the smallest stored size of each model (log scale, KiB), y = test accuracy;
    /// one colour per series (e.g. an architecture), one marker shape per weight format, and the
    /// series' accuracy-vs-bytes frontier as a step line.
    /// </summary>
    public static void Frontier(string path, IReadOnlyList<(string Label, IReadOnlyList<CompressionRecord> Records)> series, string title, IReadOnlyList<Mark>? marks = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        Draw(path, series.Select(s => (s.Label, (IReadOnlyList<Point>)s.Records.Select(r => new Point(r.Format, r.BestBytes, r.Accuracy)).ToList())).ToList(), title, marks);
    }

    /// <summary>The same figure from pooled rows (each point a chain's mean size and mean accuracy over seeds; the frontier over those means).</summary>
    public static void Frontier(string path, IReadOnlyList<(string Label, IReadOnlyList<FFLib.Experiments.CompressibilityRow> Rows)> series, string title, IReadOnlyList<Mark>? marks = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        Draw(path, series.Select(s => (s.Label, (IReadOnlyList<Point>)s.Rows.Select(r => new Point(r.Format, r.BestBytes, r.Accuracy)).ToList())).ToList(), title, marks);
    }

    private sealed record Point(string Format, double BestBytes, double Accuracy);

    private static void Draw(string path, IReadOnlyList<(string Label, IReadOnlyList<Point> Records)> series, string title, IReadOnlyList<Mark>? marks)
    {
        var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        var palette = new ScottPlot.Palettes.Category10();
        var formats = series.SelectMany(s => s.Records.Select(r => r.Format)).Distinct().ToList();
        MarkerShape[] shapes = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond, MarkerShape.OpenCircle, MarkerShape.OpenSquare, MarkerShape.OpenTriangleUp, MarkerShape.OpenDiamond, MarkerShape.Cross, MarkerShape.Eks];
        double lowest = 100, minX = double.MaxValue, maxX = double.MinValue;
        for (int s = 0; s < series.Count; s++)
        {
            var color = palette.GetColor(s);
            foreach (var group in series[s].Records.GroupBy(r => r.Format))
            {
                var pts = group.ToArray();
                var dots = plot.Add.ScatterPoints(pts.Select(r => Math.Log10(r.BestBytes / 1024.0)).ToArray(), pts.Select(r => r.Accuracy * 100).ToArray());
                dots.Color = color.WithAlpha(0.55);
                dots.MarkerShape = shapes[formats.IndexOf(group.Key) % shapes.Length];
                dots.MarkerSize = 7;
            }
            var front = CompressionStudy.Frontier(series[s].Records, p => p.BestBytes, p => p.Accuracy);
            if (front.Count == 0) continue;
            // Step line: each frontier accuracy holds until a larger model does better.
            var xs = new List<double>();
            var ys = new List<double>();
            for (int i = 0; i < front.Count; i++)
            {
                double x = Math.Log10(front[i].BestBytes / 1024.0);
                if (i > 0) { xs.Add(x); ys.Add(front[i - 1].Accuracy * 100); }
                xs.Add(x);
                ys.Add(front[i].Accuracy * 100);
            }
            var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
            line.Color = color;
            line.LineWidth = 2;
            line.MarkerSize = 0;
            line.LegendText = $"{series[s].Label} frontier";
            lowest = Math.Min(lowest, front.Where(r => r.Accuracy * 100 >= front[^1].Accuracy * 100 - 25).Min(r => r.Accuracy * 100));
            minX = Math.Min(minX, series[s].Records.Min(r => Math.Log10(r.BestBytes / 1024.0)));
            maxX = Math.Max(maxX, series[s].Records.Max(r => Math.Log10(r.BestBytes / 1024.0)));
        }
        foreach (var m in marks ?? [])
        {
            var p = plot.Add.ScatterPoints(new[] { Math.Log10(m.Bytes / 1024.0) }, new[] { m.Accuracy * 100 });
            p.Color = Colors.Black;
            p.MarkerShape = MarkerShape.Asterisk;
            p.MarkerSize = 14;
            p.LegendText = m.Label;
            minX = Math.Min(minX, Math.Log10(m.Bytes / 1024.0));
        }
        foreach (var (f, i) in formats.Select((f, i) => (f, i)))
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = f, MarkerShape = shapes[i % shapes.Length], MarkerColor = Colors.Gray, MarkerSize = 7, LineWidth = 0 });
        if (minX <= maxX)
        {
            var ticks = new List<Tick>();
            for (double kb = Math.Pow(2, Math.Floor(Math.Log2(Math.Pow(10, minX)))); kb <= Math.Pow(10, maxX) * 2; kb *= 2)
                ticks.Add(new Tick(Math.Log10(kb), kb >= 1024 ? $"{kb / 1024:0.##} MiB" : $"{kb:0.##} KiB"));
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
            plot.Axes.SetLimitsX(minX - 0.1, maxX + 0.1);
        }
        plot.Axes.SetLimitsY(Math.Max(0, lowest - 2), 100);
        plot.Title(title);
        plot.XLabel("stored size (smallest coding, log scale)");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        var bytes = plot.GetImageBytes(1000, 640, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
