using System.Globalization;
using FFLib.IO;

namespace FFLib.ModelCompression;

/// <summary>
/// How a model's weight matrices are stored: float32, uniform per-row quantisation
/// (symmetric or asymmetric, 2–8 bits) or a shared codebook of k values per matrix (k-means weight
/// sharing, Han et al. 2016). Spelled "fp32", "int8", "int4", "int2", "int4-asym", "kmeans16";
/// "+outliers" ("int4+outliers") keeps columns far larger than the rest in float32
/// (<see cref="WeightQuantizer.OutlierColumns"/>).
/// </summary>
public sealed record WeightFormat
{
    private WeightFormat(WeightScheme? scheme, int bits, int codebookSize, bool outliers = false) { Scheme = scheme; Bits = bits; CodebookSize = codebookSize; Outliers = outliers; }

    /// <summary>The scheme; null for float32.</summary>
    public WeightScheme? Scheme { get; }
    /// <summary>Bits per weight (32 for float32).</summary>
    public int Bits { get; }
    /// <summary>Codebook values (codebook scheme), else 0.</summary>
    public int CodebookSize { get; }
    /// <summary>Whether outlier columns are kept in float32 beside the codes.</summary>
    public bool Outliers { get; }

    /// <summary>This format with outlier columns kept in float32 (float32 itself stays as it is).</summary>
    public WeightFormat WithOutliers() => Scheme is null ? this : new(Scheme, Bits, CodebookSize, outliers: true);

    /// <summary>Weights as they are.</summary>
    public static WeightFormat Float32 { get; } = new(null, 32, 0);

    /// <summary>Uniform per-row quantisation at <paramref name="bits"/> (2–8).</summary>
    public static WeightFormat Uniform(int bits, bool symmetric)
    {
        if (bits is < 2 or > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "Uniform quantisation takes 2 to 8 bits.");
        return new(symmetric ? WeightScheme.Symmetric : WeightScheme.Asymmetric, bits, 0);
    }

    /// <summary>A codebook of <paramref name="k"/> shared values per matrix (2–256; codes take ⌈log₂ k⌉ bits).</summary>
    public static WeightFormat Codebook(int k)
    {
        if (k is < 2 or > 256) throw new ArgumentOutOfRangeException(nameof(k), k, "A codebook holds 2 to 256 values.");
        return new(WeightScheme.Codebook, (int)Math.Ceiling(Math.Log2(k)), k);
    }

    /// <summary>"fp32", "int8", "int4-asym", "kmeans16".</summary>
    public string Id => Scheme switch
    {
        null => "fp32",
        WeightScheme.Symmetric => $"int{Bits}",
        WeightScheme.Asymmetric => $"int{Bits}-asym",
        _ => $"kmeans{CodebookSize}",
    } + (Outliers ? "+outliers" : "");

    /// <inheritdoc/>
    public override string ToString() => Id;

    /// <summary>Parses an <see cref="Id"/>; null when the text is not one (the caller names its option).</summary>
    public static WeightFormat? TryParse(string text, out string? problem)
    {
        problem = null;
        string t = text.Trim().ToLowerInvariant();
        if (t.EndsWith("+outliers", StringComparison.Ordinal))
        {
            var inner = TryParse(t[..^9], out problem);
            if (inner is null) return null;
            if (inner.Scheme is null) { problem = $"'{text}': float32 has nothing to keep apart (+outliers goes with intB, intB-asym or kmeansK)"; return null; }
            return inner.WithOutliers();
        }
        if (t is "fp32" or "float32") return Float32;
        if (t.StartsWith("kmeans", StringComparison.Ordinal))
        {
            if (!int.TryParse(t[6..], NumberStyles.None, CultureInfo.InvariantCulture, out int k) || k is < 2 or > 256) { problem = $"'{text}': a codebook holds 2 to 256 values (kmeans2 … kmeans256)"; return null; }
            return Codebook(k);
        }
        if (t.StartsWith("int", StringComparison.Ordinal))
        {
            bool asym = t.EndsWith("-asym", StringComparison.Ordinal);
            string digits = asym ? t[3..^5] : t[3..];
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int b) || b is < 2 or > 8) { problem = $"'{text}': uniform quantisation takes 2 to 8 bits (int2 … int8, int2-asym … int8-asym)"; return null; }
            return Uniform(b, !asym);
        }
        problem = $"'{text}' is not a weight format (fp32, int8, int4, int2, int8-asym, int4-asym, int2-asym, kmeans256, kmeans16, kmeans4, …, each but fp32 optionally +outliers)";
        return null;
    }
}
