using FFLib.Analysis;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using SkiaSharp;

namespace FFLib.Plotting;

/// <summary>Figures 13 and 14 of one model (what <c>fflib visualize</c> and <c>fflib reproduce fig13|fig14</c> draw), and side-by-side panels of several.</summary>
public static class ModelFigures
{
    private static readonly string[] FashionNames = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"];
    private static readonly string[] CifarNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>The class names drawn in legends: FashionMNIST's and CIFAR-10's words, else the digits.</summary>
    public static IReadOnlyList<string> ClassNames(DatasetKind kind, int classes) => kind switch
    {
        DatasetKind.FashionMnist when classes == 10 => FashionNames,
        DatasetKind.Cifar10 when classes == 10 => CifarNames,
        _ => Enumerable.Range(0, classes).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
    };

    /// <summary>
    /// Figure 13 for one model: the activations of test image <paramref name="index"/> per layer (normalised per layer),
    /// with its own label and with a wrong one for models whose activations depend on the label; a CNN's layers as one
    /// small image per channel. Returns what was drawn: (caption kind "activations"/"positive"/"negative", each layer's activations).
    /// </summary>
    public static IReadOnlyList<(string Kind, Matrix[] Layers)> ActivationMaps(string path, IActivationSource source, ImageDataset test, int index, int classes, string title)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(test);
        if (index < 0 || index >= test.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The sample index is outside the {test.Count} test images.");
        var image = test.ToMatrix(index, 1);
        int label = test.Label(index), wrong = (label + 1) % classes;
        var drawn = new List<(string, Matrix[])>();
        var rows = new List<Plots.ActivationRow>();
        if (!source.ActivationsDependOnLabel)
        {
            var acts = source.LayerActivations(image, null);
            rows.Add(new($"sample {index}, class {label}", acts.Select(a => a.Data).ToArray()));
            drawn.Add(("activations", acts));
        }
        else
        {
            var pos = source.LayerActivations(image, label);
            var neg = source.LayerActivations(image, wrong);
            rows.Add(new($"positive: sample {index} with its label {label}", pos.Select(a => a.Data).ToArray()));
            rows.Add(new($"negative: sample {index} with wrong label {wrong}", neg.Select(a => a.Data).ToArray()));
            drawn.Add(("positive", pos));
            drawn.Add(("negative", neg));
        }
        bool colour = test.Features == 3072;
        var input = new Plots.InputImage(image.Data, colour ? 32 : 28, colour ? 32 : 28, colour ? 3 : 1);
        // A CNN's layers are feature maps: one small image per channel reads better than a grid of units.
        IReadOnlyList<(int, int, string)>? panels = null;
        if (source is IFeatureMapSource maps)
        {
            rows = rows.Select(r => new Plots.ActivationRow(r.Caption, r.Layers.Select((a, l) => { var (c, h, w) = maps.MapShape(l); return Plots.TileChannels(a, c, h, w).Values; }).ToArray())).ToList();
            panels = Enumerable.Range(0, rows[0].Layers.Count).Select(l =>
            {
                var (c, h, w) = maps.MapShape(l);
                var t = Plots.TileChannels(new float[c * h * w], c, h, w);
                return (t.Width, t.Height, $"{c} channels of {h}×{w}");
            }).ToArray();
        }
        Plots.ActivationMaps(path, input, rows, title, panels: panels);
        return drawn;
    }

    /// <summary>
    /// Figure 14 for one model over the first <paramref name="count"/> test images: our map (<see cref="FunctionalMaps.Hsv(IActivationSource, Matrix, ReadOnlySpan{int}, int)"/>,
    /// each image fed its true label) or the authors' (<see cref="FunctionalMaps.HsvAuthors"/>, no label). Returns the layers' maps.
    /// </summary>
    public static IReadOnlyList<LayerHsvMap> HsvMap(string path, IActivationSource source, ImageDataset test, int count, DatasetKind kind, int classes, bool authors, string title)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(test);
        count = Math.Min(count, test.Count);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "The HSV map needs at least one test image.");
        var images = test.ToMatrix(0, count);
        var labels = Enumerable.Range(0, count).Select(test.Label).ToArray();
        var hsv = authors ? FunctionalMaps.HsvAuthors(source, images, labels, classes) : FunctionalMaps.Hsv(source, images, labels, classes);
        Plots.HsvMaps(path, hsv, ClassNames(kind, classes), title, authors: authors);
        return hsv;
    }

    /// <summary>
    /// Several PNGs as one: a grid of <paramref name="columns"/> columns on white, each image at its own size in a cell as
    /// large as the largest, under an optional title. Written atomically.
    /// </summary>
    public static void Compose(string path, IReadOnlyList<string> pngs, int columns, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(pngs);
        if (pngs.Count == 0) throw new ArgumentException("Nothing to compose.", nameof(pngs));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "At least one column.");
        var images = pngs.Select(p => SKBitmap.Decode(p) ?? throw new InvalidDataException($"{p} is not a PNG this program can read.")).ToArray();
        try
        {
            int cellW = images.Max(b => b.Width), cellH = images.Max(b => b.Height);
            int rows = (images.Length + columns - 1) / columns, pad = 8, titleH = title is null ? 0 : RasterFigure.TitleHeight;
            int width = Math.Max(Math.Min(images.Length, columns) * (cellW + pad) + pad, title is null ? 0 : RasterFigure.TextWidth(title) + 2 * pad);
            int height = titleH + rows * (cellH + pad) + pad;
            using var fig = new RasterFigure(width, height, title, pad);
            for (int i = 0; i < images.Length; i++)
                fig.Canvas.DrawBitmap(images[i], pad + i % columns * (cellW + pad), titleH + pad + i / columns * (cellH + pad));
            fig.Save(path);
        }
        finally
        {
            foreach (var b in images) b.Dispose();
        }
    }
}
