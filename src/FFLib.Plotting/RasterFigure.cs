using FFLib.IO;
using SkiaSharp;

namespace FFLib.Plotting;

/// <summary>A white canvas with an optional title line, and the font and ink the raster figures (maps, grids, compositions) share.</summary>
internal sealed class RasterFigure : IDisposable
{
    /// <summary>Height of the title line's band, and the size of the figures' text.</summary>
    public const int TitleHeight = 28, TextSize = 14;

    public RasterFigure(int width, int height, string? title, int pad)
    {
        Bitmap = new SKBitmap(width, height);
        Canvas = new SKCanvas(Bitmap);
        Canvas.Clear(SKColors.White);
        Font = new SKFont(SKTypeface.FromFamilyName(Plots.Font), TextSize);
        Ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        if (title is not null) Canvas.DrawText(title, pad, 20, SKTextAlign.Left, Font, Ink);
    }

    /// <summary>Width in pixels of a line of text in the figures' font (to size a canvas so that nothing is cut).</summary>
    public static int TextWidth(string text)
    {
        using var font = new SKFont(SKTypeface.FromFamilyName(Plots.Font), TextSize);
        return (int)Math.Ceiling(font.MeasureText(text));
    }

    public SKBitmap Bitmap { get; }
    public SKCanvas Canvas { get; }
    public SKFont Font { get; }
    public SKPaint Ink { get; }

    /// <summary>The canvas as a PNG at <paramref name="path"/>, written atomically.</summary>
    public void Save(string path) => Save(Bitmap, path);

    /// <summary>A bitmap as a PNG at <paramref name="path"/>, written atomically.</summary>
    public static void Save(SKBitmap bmp, string path)
    {
        using var image = SKImage.FromBitmap(bmp);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        var bytes = data.ToArray();
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    public void Dispose()
    {
        Ink.Dispose();
        Font.Dispose();
        Canvas.Dispose();
        Bitmap.Dispose();
    }
}
