using FFLib.Analysis;
using FFLib.IO;
using ScottPlot;
using SkiaSharp;

namespace FFLib.Plotting;

/// <summary>PNG figures of the paper's analyses. Every file is written atomically.</summary>
public static class Plots
{
    internal const string Font = "DejaVu Sans";

    /// <summary>
    /// One PNG per metric ("sparsity_hoyer.png", …) of the tracked weights' sparsity against
    /// training progress in epochs, one line per layer/tensor (Figures 9–12, 15–18). Returns the paths.
    /// </summary>
    public static IReadOnlyList<string> SparsityOverTraining(IReadOnlyList<SparsitySample> samples, string folder, string title, string filePrefix = "sparsity")
    {
        ArgumentNullException.ThrowIfNull(samples);
        Directory.CreateDirectory(folder);
        var paths = new List<string>();
        var series = samples.GroupBy(s => (s.Layer, s.Parameter)).ToArray();
        foreach (var metric in Sparsity.Metrics)
        {
            var plot = new Plot();
            plot.Font.Set(Font);
            foreach (var g in series)
            {
                var xs = g.Select(s => s.Progress).ToArray();
                var ys = g.Select(s => s.Sparsity[metric]).ToArray();
                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = g.Key.Parameter == "weight" ? g.Key.Layer : $"{g.Key.Layer} {g.Key.Parameter}";
                line.MarkerSize = xs.Length > 60 ? 0 : 4;
                line.LineWidth = 2;
            }
            plot.Title($"{title}: {MetricTitle(metric)}");
            plot.XLabel("training progress (epochs)");
            plot.YLabel(MetricTitle(metric));
            plot.ShowLegend(Alignment.LowerRight);
            string path = Path.Combine(folder, $"{filePrefix}_{Sparsity.Id(metric)}.png");
            SaveAtomically(plot, path, 900, 560);
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>
    /// Figure 19: test accuracy against compression ratio (log x axis) for one or more series
    /// (e.g. architectures): per kept count the mean over seeds as a line with markers, a ±1 std
    /// band, and dashed min/max lines.
    /// </summary>
    public static void Prunability(string path, IReadOnlyList<(string Label, IReadOnlyList<FFLib.Pruning.PruneRecord> Records)> series, string title)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plot = new Plot();
        plot.Font.Set(Font);
        var palette = new ScottPlot.Palettes.Category10();
        double maxRatio = 1;
        for (int s = 0; s < series.Count; s++)
        {
            var color = palette.GetColor(s);
            var points = series[s].Records.GroupBy(r => r.Keep)
                .Select(g =>
                {
                    var acc = g.Select(r => r.Accuracy * 100).ToArray();
                    double mean = acc.Average();
                    double std = acc.Length > 1 ? Math.Sqrt(acc.Sum(a => (a - mean) * (a - mean)) / (acc.Length - 1)) : 0;
                    return (X: Math.Log10(g.Average(r => r.CompressionRatio)), Mean: mean, Std: std, Min: acc.Min(), Max: acc.Max());
                })
                .OrderBy(p => p.X).ToArray();
            if (points.Length == 0) continue;
            maxRatio = Math.Max(maxRatio, Math.Pow(10, points[^1].X));
            var xs = points.Select(p => p.X).ToArray();
            var band = plot.Add.FillY(xs, points.Select(p => p.Mean - p.Std).ToArray(), points.Select(p => p.Mean + p.Std).ToArray());
            band.FillColor = color.WithAlpha(0.2);
            band.LineColor = Colors.Transparent;
            foreach (var ys in new[] { points.Select(p => p.Min).ToArray(), points.Select(p => p.Max).ToArray() })
            {
                var dashed = plot.Add.Scatter(xs, ys);
                dashed.Color = color;
                dashed.LinePattern = LinePattern.Dashed;
                dashed.MarkerSize = 0;
                dashed.LineWidth = 1;
            }
            var line = plot.Add.Scatter(xs, points.Select(p => p.Mean).ToArray());
            line.Color = color;
            line.LineWidth = 2;
            line.MarkerSize = 6;
            line.LegendText = series[s].Label;
        }
        // Log axis: data are log10(ratio); ticks at powers of two labelled as ratios.
        var ticks = new List<Tick>();
        for (double r = 1; r <= maxRatio * 1.01; r *= 2) ticks.Add(new Tick(Math.Log10(r), $"{r:0.##}×"));
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Title(title);
        plot.XLabel("compression ratio (saved original / saved pruned, log scale)");
        plot.YLabel("test accuracy (%)");
        plot.Axes.SetLimitsY(0, 100);
        // Say what the dashed lines and the band are.
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "dashed: min and max over seeds", LineColor = Colors.Gray, LinePattern = LinePattern.Dashed, LineWidth = 1 });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "band: mean ± std over seeds", FillColor = Colors.Gray.WithAlpha(0.2), LineWidth = 0 });
        plot.ShowLegend(Alignment.LowerLeft);
        SaveAtomically(plot, path, 900, 560);
    }

    /// <summary>
    /// Figures 3–8: a learning-rate × threshold heatmap with each cell's value written in it;
    /// cells without a finished run are left white and marked "×" where a run diverged.
    /// </summary>
    public static void SensitivityHeatmap(string path, FFLib.Experiments.SensitivityGrid grid, bool hoyer)
    {
        ArgumentNullException.ThrowIfNull(grid);
        var values = hoyer ? grid.Hoyer : grid.Accuracy;
        int rows = grid.Thresholds.Length, cols = grid.LearningRates.Length;
        var data = new double[rows, cols];
        for (int t = 0; t < rows; t++)
            for (int l = 0; l < cols; l++)
                data[rows - 1 - t, l] = values[t, l] ?? double.NaN; // data row r is drawn at y = rows − 1 − r: largest θ on top
        var plot = new Plot();
        plot.Font.Set(Font);
        var hm = plot.Add.Heatmap(data);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        var (low, high, note) = HeatmapScale(values.Cast<double?>().OfType<double>().ToArray(), hoyer, grid.Classes);
        hm.ManualRange = new ScottPlot.Range(low, high);
        hm.NaNCellColor = Colors.White;
        plot.Add.ColorBar(hm).Label = hoyer ? "mean Hoyer sparsity" : "test accuracy (%)";
        for (int t = 0; t < rows; t++)
            for (int l = 0; l < cols; l++)
            {
                int y = t;
                string label = values[t, l] is double v ? (hoyer ? v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture) : v.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)) : grid.Failed[t, l] ? "×" : "";
                if (grid.Failed[t, l] && values[t, l] is not null) label += " ×";
                var text = plot.Add.Text(label, l, y);
                text.LabelFontColor = values[t, l] is null ? Colors.Black : Colors.White;
                text.LabelFontSize = 14;
                text.LabelAlignment = Alignment.MiddleCenter;
            }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, cols).Select(l => new Tick(l, grid.LearningRates[l].ToString("G4", System.Globalization.CultureInfo.InvariantCulture))).ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, rows).Select(t => new Tick(t, grid.Thresholds[t].ToString("G4", System.Globalization.CultureInfo.InvariantCulture))).ToArray());
        plot.XLabel("learning rate");
        plot.YLabel("threshold (θ)");
        plot.Title($"{grid.Title}: {(hoyer ? "mean Hoyer sparsity" : "test accuracy")}{(note is null ? "" : $", {note}")} (× = failed to converge)");
        SaveAtomically(plot, path, 760, 560);
    }

    /// <summary>
    /// A heatmap's colour range: accuracies all within 2 points of chance (100 / classes %) are drawn on
    /// 0–100 % and said to be at chance (a range of 8.8–9.6 % would paint noise as a difference);
    /// otherwise the data's range, widened downwards to at least 2 points of accuracy or 0.05 of Hoyer
    /// sparsity, so that seed noise between near-equal cells does not show as two colours.
    /// </summary>
    public static (double Low, double High, string? Note) HeatmapScale(IReadOnlyList<double> values, bool hoyer, int classes)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        if (finite.Length == 0) return hoyer ? (0, 1, null) : (0, 100, null);
        double min = finite.Min(), max = finite.Max();
        if (!hoyer)
        {
            double chance = 100.0 / Math.Max(2, classes);
            if (max <= chance + 2) return (0, 100, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"all at chance level ({chance:0.#} %)"));
        }
        double span = hoyer ? 0.05 : 2;
        return (Math.Min(min, max - span), max, null);
    }

    /// <summary>Human-readable metric name.</summary>
    public static string MetricTitle(SparsityMetric metric) => metric switch
    {
        SparsityMetric.L1NegativeEntropy => "L1-normalised negative entropy",
        SparsityMetric.L2NegativeEntropy => "L2-normalised negative entropy",
        SparsityMetric.Hoyer => "Hoyer sparsity",
        SparsityMetric.Gini => "Gini index",
        _ => metric.ToString(),
    };

    private static void SaveAtomically(Plot plot, string path, int width, int height)
    {
        var bytes = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>An input image: values in [0, 1], grey (channels 1) or channel-major RGB (channels 3).</summary>
    public sealed record InputImage(float[] Pixels, int Width, int Height, int Channels);

    /// <summary>One row of an activation-map figure: a caption and each layer's activations (one sample).</summary>
    public sealed record ActivationRow(string Caption, IReadOnlyList<float[]> Layers);

    /// <summary>
    /// One sample's NHWC feature map (channels × height × width) laid out as one small image per
    /// channel, side by side in a near-square grid with a one-cell gap (filled with the map's lowest
    /// value): the values, and the panel's width and height in cells.
    /// </summary>
    public static (float[] Values, int Width, int Height) TileChannels(ReadOnlySpan<float> nhwc, int channels, int height, int width)
    {
        if (nhwc.Length != channels * height * width) throw new ArgumentException($"The map has {nhwc.Length} values, not {channels}×{height}×{width}.", nameof(nhwc));
        int across = (int)Math.Ceiling(Math.Sqrt(channels * (double)height / width)), down = (channels + across - 1) / across;
        int pw = across * (width + 1) - 1, ph = down * (height + 1) - 1;
        float low = nhwc.Length == 0 ? 0 : TensorPrimitivesMin(nhwc);
        var tiled = new float[pw * ph];
        Array.Fill(tiled, low);
        for (int c = 0; c < channels; c++)
        {
            int ox = c % across * (width + 1), oy = c / across * (height + 1);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) tiled[(oy + y) * pw + ox + x] = nhwc[(y * width + x) * channels + c];
        }
        return (tiled, pw, ph);
    }

    private static float TensorPrimitivesMin(ReadOnlySpan<float> v)
    {
        float m = v[0];
        foreach (float x in v) if (x < m) m = x;
        return m;
    }

    /// <summary>
    /// Figure 13: the input image, then each layer's activations of one sample normalised per layer
    /// (black = the layer's lowest, white = its highest activation) as a near-square grid, one row per
    /// <see cref="ActivationRow"/> (e.g. positive and negative label).
    /// </summary>
    /// <param name="path">PNG file to write.</param>
    /// <param name="input">The sample's image.</param>
    /// <param name="rows">One row of panels per caption.</param>
    /// <param name="title">Top line.</param>
    /// <param name="cell">Pixels per unit.</param>
    /// <param name="panels">Per layer, a panel shape in cells (e.g. from <see cref="TileChannels"/>) and its label; null: a near-square grid labelled by neuron count.</param>
    public static void ActivationMaps(string path, InputImage input, IReadOnlyList<ActivationRow> rows, string title, int cell = 6, IReadOnlyList<(int Width, int Height, string Label)>? panels = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(rows);
        int layers = rows.Max(r => r.Layers.Count);
        var shapes = Enumerable.Range(0, layers).Select(l => panels is not null && l < panels.Count ? (panels[l].Width, panels[l].Height)
            : FunctionalMaps.GridShape(rows.Max(r => l < r.Layers.Count ? r.Layers[l].Length : 0))).ToArray();
        int inputW = input.Width * cell, inputH = input.Height * cell;
        // Each panel's slot is as wide as its grid or its label, whichever is wider (small layers have long labels).
        var labels = Enumerable.Range(0, layers).Select(l => panels is not null && l < panels.Count ? $"layer {l + 1} ({panels[l].Label})"
            : $"layer {l + 1} ({rows.Max(r => l < r.Layers.Count ? r.Layers[l].Length : 0)} neurons)").ToArray();
        var slots = Enumerable.Range(0, layers).Select(l => Math.Max(shapes[l].Width * cell, RasterFigure.TextWidth(labels[l]))).ToArray();
        // Row layout: the row's caption on its own line, then each panel's label, then the panels.
        int pad = 16, captionH = 44, titleH = 30, barH = 46;
        int rowH = Math.Max(inputH, shapes.Select(s => s.Height * cell).DefaultIfEmpty(0).Max()) + captionH;
        int width = Math.Max(pad + inputW + slots.Sum(w => w + pad) + pad, RasterFigure.TextWidth(title) + 2 * pad);
        width = Math.Max(width, rows.Max(r => RasterFigure.TextWidth(r.Caption)) + 2 * pad);
        int height = titleH + rows.Count * (rowH + pad) + barH + pad;
        using var fig = new RasterFigure(width, height, title, pad);
        var (bmp, canvas, font, ink) = (fig.Bitmap, fig.Canvas, fig.Font, fig.Ink);
        for (int r = 0; r < rows.Count; r++)
        {
            int y0 = titleH + r * (rowH + pad);
            canvas.DrawText(rows[r].Caption, pad, y0 + 15, SKTextAlign.Left, font, ink);
            canvas.DrawText("input", pad, y0 + 36, SKTextAlign.Left, font, ink);
            int y = y0 + captionH;
            DrawInput(bmp, input, pad, y, cell);
            int x = pad + inputW + pad;
            for (int l = 0; l < layers; l++)
            {
                var (gw, gh) = shapes[l];
                if (l < rows[r].Layers.Count)
                {
                    var norm = FunctionalMaps.NormalisePerLayer(rows[r].Layers[l]);
                    for (int j = 0; j < norm.Length; j++)
                    {
                        byte v = (byte)Math.Round(norm[j] * 255);
                        FillCell(bmp, x + j % gw * cell, y + j / gw * cell, cell, new SKColor(v, v, v));
                    }
                    canvas.DrawText(labels[l], x, y0 + 36, SKTextAlign.Left, font, ink);
                }
                x += slots[l] + pad;
            }
        }
        // Colour bar: the grey levels of the panels, per layer from its lowest to its highest activation.
        int by = titleH + rows.Count * (rowH + pad), barW = Math.Min(256, width - 2 * pad);
        for (int i = 0; i < barW; i++)
        {
            byte v = (byte)Math.Round(255.0 * i / (barW - 1));
            for (int dy = 0; dy < 14; dy++) bmp.SetPixel(pad + i, by + dy, new SKColor(v, v, v));
        }
        using (var frame = new SKPaint { Color = SKColors.Gray, IsStroke = true }) canvas.DrawRect(pad, by, barW, 14, frame);
        canvas.DrawText("lowest in its layer", pad, by + 32, SKTextAlign.Left, font, ink);
        canvas.DrawText("highest", pad + barW, by + 32, SKTextAlign.Right, font, ink);
        Save(bmp, path);
    }

    /// <summary>
    /// Figure 14: every layer's neurons as a grid coloured by HSV (hue = preferred class, saturation =
    /// selectivity, value = normalised strength), with a legend naming the class of each hue.
    /// </summary>
    /// <param name="path">PNG file to write.</param>
    /// <param name="layers">Each layer's map.</param>
    /// <param name="classNames">The classes, in hue order.</param>
    /// <param name="title">Top line.</param>
    /// <param name="cell">Pixels per neuron; 0 (default) picks the size that makes the panels fill the figure's width.</param>
    /// <param name="authors">Draw saturation and value as given and place class c at hue c/(K−1) (<see cref="FunctionalMaps.HsvAuthors"/>), instead of our rescaled map.</param>
    public static void HsvMaps(string path, IReadOnlyList<LayerHsvMap> layers, IReadOnlyList<string> classNames, string title, int cell = 0, bool authors = false)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(classNames);
        var shapes = layers.Select(l => FunctionalMaps.GridShape(l.Neurons.Count)).ToArray();
        int pad = 16, titleH = 30, captionH = 22, legendH = 34;
        // Panels fill the figure: the cell size grows until the grids span the legend's width (small layers get big cells).
        int legendW = pad + classNames.Count * 110;
        int cells = shapes.Sum(s => s.Width);
        if (cell <= 0) cell = cells > 0 ? Math.Clamp((legendW - pad * (layers.Count + 1)) / cells, 6, 24) : 6;
        int width = Math.Max(Math.Max(pad + shapes.Sum(s => s.Width * cell + pad), legendW), RasterFigure.TextWidth(title) + 2 * pad);
        int gridH = shapes.Select(s => s.Height * cell).DefaultIfEmpty(0).Max();
        int height = titleH + captionH + gridH + pad + legendH + 24 + pad;
        string key = authors
            ? "the authors' method: no label fed; hue = class with the largest summed |activation|, saturation = its share, brightness = min-max over the layer"
            : "hue = preferred class; saturation = selectivity above chance, brightness = strength (each: the layer's 95th percentile = full)";
        width = Math.Max(width, RasterFigure.TextWidth(key) + 2 * pad);
        using var fig = new RasterFigure(width, height, title, pad);
        var (bmp, canvas, font, ink) = (fig.Bitmap, fig.Canvas, fig.Font, fig.Ink);
        int x = pad;
        for (int l = 0; l < layers.Count; l++)
        {
            var (gw, _) = shapes[l];
            canvas.DrawText($"{layers[l].Layer} ({layers[l].Neurons.Count})", x, titleH + 15, SKTextAlign.Left, font, ink);
            // Brightness: the value scaled by the layer's 95th percentile of active neurons, so that a few
            // very strong neurons do not leave the rest near black (min–max scaling did).
            // Saturation likewise: selectivity above chance (1/classes), scaled by the layer's 95th percentile.
            double chance = 1.0 / classNames.Count;
            double valueScale = Percentile95(layers[l].Neurons.Select(n => n.Value));
            double selectivityScale = Percentile95(layers[l].Neurons.Select(n => Math.Max(0, n.Saturation - chance)));
            for (int j = 0; j < layers[l].Neurons.Count; j++)
            {
                var n = layers[l].Neurons[j];
                double sat = authors ? Math.Clamp(n.Saturation, 0, 1) : Math.Min(1, Math.Max(0, n.Saturation - chance) / selectivityScale);
                double value = authors ? Math.Clamp(n.Value, 0, 1) : Math.Min(1, n.Value / valueScale);
                FillCell(bmp, x + j % gw * cell, titleH + captionH + j / gw * cell, cell, HsvToColor(n.Hue, sat, value));
            }
            x += gw * cell + pad;
        }
        int ly = titleH + captionH + gridH + pad;
        for (int c = 0; c < classNames.Count; c++)
        {
            int lx = pad + c * 110;
            double hue = authors ? 360.0 * c / Math.Max(1, classNames.Count - 1) % 360.0 : 360.0 * c / classNames.Count;
            using var swatch = new SKPaint { Color = HsvToColor(hue, 1, 1) };
            canvas.DrawRect(lx, ly, 20, 20, swatch);
            canvas.DrawText(classNames[c], lx + 26, ly + 15, SKTextAlign.Left, font, ink);
        }
        canvas.DrawText(key, pad, ly + 44, SKTextAlign.Left, font, ink);
        Save(bmp, path);
    }

    /// <summary>The 95th percentile of the positive values (1 when there are none): the level drawn at full strength.</summary>
    private static double Percentile95(IEnumerable<double> values)
    {
        var positive = values.Where(v => v > 0).Order().ToArray();
        return positive.Length > 0 ? positive[(int)Math.Min(positive.Length - 1, Math.Floor(0.95 * positive.Length))] : 1;
    }

    /// <summary>HSV (hue in degrees, s and v in [0, 1]) to an opaque colour.</summary>
    public static SKColor HsvToColor(double hue, double s, double v)
    {
        double h = (hue % 360 + 360) % 360 / 60.0;
        int i = (int)Math.Floor(h);
        double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        var (r, g, b) = i switch { 0 => (v, t, p), 1 => (q, v, p), 2 => (p, v, t), 3 => (p, q, v), 4 => (t, p, v), _ => (v, p, q) };
        return new SKColor((byte)Math.Round(r * 255), (byte)Math.Round(g * 255), (byte)Math.Round(b * 255));
    }

    private static void DrawInput(SKBitmap bmp, InputImage input, int x0, int y0, int cell)
    {
        int plane = input.Width * input.Height;
        for (int y = 0; y < input.Height; y++)
            for (int x = 0; x < input.Width; x++)
            {
                int k = y * input.Width + x;
                SKColor c = input.Channels == 3
                    ? new SKColor(ToByte(input.Pixels[k]), ToByte(input.Pixels[plane + k]), ToByte(input.Pixels[2 * plane + k]))
                    : new SKColor(ToByte(input.Pixels[k]), ToByte(input.Pixels[k]), ToByte(input.Pixels[k]));
                FillCell(bmp, x0 + x * cell, y0 + y * cell, cell, c);
            }
    }

    private static byte ToByte(float v) => (byte)Math.Round(Math.Clamp(v, 0f, 1f) * 255);

    private static void FillCell(SKBitmap bmp, int x0, int y0, int cell, SKColor c)
    {
        for (int dy = 0; dy < cell; dy++)
            for (int dx = 0; dx < cell; dx++)
                bmp.SetPixel(x0 + dx, y0 + dy, c);
    }

    private static void Save(SKBitmap bmp, string path) => RasterFigure.Save(bmp, path);
}
