using System.IO.Compression;
using FFLib.IO;
using FFLib.Models;

namespace FFLib.Pruning;

/// <summary>File sizes of a model: dense, general-purpose compressed, and the honest sparse size of an unstructured-pruned model.</summary>
public static class Compression
{
    /// <summary>Brotli quality used for sizes (11 is ~10× slower on 20 MB files for ~1% smaller output on float weights).</summary>
    public const int BrotliQuality = FFLib.Coding.LosslessCoders.BrotliQuality;

    /// <summary>Bytes of the file after Brotli (quality 9, 4 MiB window) and GZip (CompressionLevel.Optimal).</summary>
    public static (long Brotli, long Gzip) CompressedSizes(string path)
    {
        var bytes = File.ReadAllBytes(path);
        // The same Brotli settings as the compression study's coder; GZip stays at Optimal, as prune.csv has always reported it.
        long brotli = FFLib.Coding.LosslessCoders.Encode(FFLib.Coding.LosslessCoder.Brotli, bytes).Length;
        return (brotli, Compressed(bytes, s => new GZipStream(s, CompressionLevel.Optimal, leaveOpen: true)));
    }

    private static long Compressed(byte[] data, Func<Stream, Stream> wrap)
    {
        using var ms = new MemoryStream();
        using (var c = wrap(ms)) c.Write(data);
        return ms.Length;
    }

    /// <summary>
    /// Bytes needed to store the model's weight matrices in CSR (4-byte value + 4-byte column index
    /// per non-zero, 4 bytes per row pointer) plus dense float32 biases: what an unstructured
    /// magnitude-pruned model really costs, without the file header.
    /// </summary>
    public static long SparseBytes(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        long total = 0;
        foreach (var p in model.Parameters())
        {
            if (!p.IsMatrix) { total += 4L * p.Data.Length; continue; }
            long nnz = p.Data.LongCount(v => v != 0f);
            total += 8 * nnz + 4L * (p.Rows + 1);
        }
        return total;
    }

    /// <summary>A deep copy of a model (made in memory, see <see cref="ModelCheckpoint.Clone"/>).</summary>
    public static IClassifierModel Clone(IClassifierModel model) => ModelCheckpoint.Clone(model);

    /// <summary>
    /// Unstructured pruning: a copy of the model in which, in every weight matrix, all but the
    /// <paramref name="keepFraction"/> largest-magnitude weights are set to zero (biases kept).
    /// </summary>
    public static IClassifierModel MagnitudePrune(IClassifierModel model, double keepFraction)
    {
        if (!(keepFraction > 0 && keepFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(keepFraction), keepFraction, "keepFraction must be in (0, 1].");
        var copy = Clone(model);
        foreach (var p in copy.Parameters())
        {
            if (!p.IsMatrix) continue;
            var w = p.Data;
            int keep = (int)Math.Ceiling(w.Length * keepFraction);
            if (keep >= w.Length) continue;
            var mags = w.Select(MathF.Abs).ToArray();
            Array.Sort(mags);
            float threshold = mags[w.Length - keep]; // keep |w| ≥ the keep-th largest magnitude
            int kept = 0;
            for (int i = 0; i < w.Length; i++)
            {
                if (MathF.Abs(w[i]) >= threshold && kept < keep) kept++;
                else w[i] = 0f;
            }
        }
        return copy;
    }
}
