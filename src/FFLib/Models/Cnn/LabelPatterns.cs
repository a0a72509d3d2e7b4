using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// The label images an FF CNN adds to its input: row c of <see cref="Build"/> is class c's pattern
/// (NHWC, one value per pixel and channel); an image with control vector v is image + v·patterns,
/// so a one-hot v adds one class's pattern and any other vector (the "inverse" negatives) mixes them.
/// </summary>
public static class LabelPatterns
{
    /// <summary>Amplitude of the Fourier gratings, in pixel units (pixels are in [0, 1]).</summary>
    public const float FourierAmplitude = 0.5f;

    /// <summary>
    /// classes × (H·W·C) patterns. Fourier: class c is A·cos(2π·f_c·(x cos φ_c + y sin φ_c)/side),
    /// φ_c = π·c/classes spread over the half circle, f_c = 3 cycles per image side for even c and 5
    /// for odd c (neighbouring orientations differ in frequency too), the same on every channel. Corner:
    /// 1 at pixel c of the first channel (Hinton's one-hot, the FFNN's control vector in the image).
    /// </summary>
    public static Matrix Build(LabelEncoding encoding, ImageShape image, int classes)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "At least 2 classes.");
        int C = image.Channels, H = image.Height, W = image.Width;
        var p = new Matrix(classes, image.Features);
        if (encoding == LabelEncoding.Channels) return p; // the label enters as planes, not in the image
        if (encoding == LabelEncoding.Corner)
        {
            if (classes > H * W) throw new ArgumentException($"{classes} classes do not fit the {H * W} pixels of a {H}×{W} image as one-hot corners.");
            for (int c = 0; c < classes; c++) p[c, c * C] = 1f;
            return p;
        }
        double side = Math.Max(H, W);
        for (int c = 0; c < classes; c++)
        {
            double phi = Math.PI * c / classes, f = c % 2 == 0 ? 3 : 5;
            double cx = Math.Cos(phi), sy = Math.Sin(phi);
            var row = p.Row(c);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                {
                    float v = (float)(FourierAmplitude * Math.Cos(2 * Math.PI * f * (x * cx + y * sy) / side));
                    for (int ch = 0; ch < C; ch++) row[(y * W + x) * C + ch] = v;
                }
        }
        return p;
    }
}
