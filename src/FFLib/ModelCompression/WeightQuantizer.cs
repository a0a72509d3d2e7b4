using FFLib.IO;
using FFLib.Models;

namespace FFLib.ModelCompression;

/// <summary>
/// Turns weight matrices into <see cref="PackedMatrix"/> codes: uniform per-row quantisation and
/// k-means weight sharing. Works over any model's named matrix parameters; biases and other
/// vectors stay float32.
/// </summary>
public static class WeightQuantizer
{
    /// <summary>Every matrix parameter of <paramref name="model"/> packed in <paramref name="format"/> (none for float32).</summary>
    public static IReadOnlyList<PackedMatrix> Pack(IClassifierModel model, WeightFormat format, int kmeansIterations = 30)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(format);
        return Pack(model, [], format, kmeansIterations);
    }

    /// <summary>
    /// The model's matrices in <paramref name="format"/>, with those in <paramref name="lowRank"/>
    /// replaced by their two factors (which are what gets quantised).
    /// </summary>
    public static IReadOnlyList<PackedMatrix> Pack(IClassifierModel model, IReadOnlyCollection<LowRankMatrix> lowRank, WeightFormat format, int kmeansIterations = 30)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(lowRank);
        if (format.Scheme is null) return [];
        ModelCheckpoint.RequireFinite(model, "the model");
        var factored = lowRank.ToDictionary(f => f.Name);
        var matrices = model.Parameters().Where(p => p.IsMatrix).SelectMany(p => factored.TryGetValue(p.Name, out var f)
            ? new[] { (f.UName, f.U, f.Rows, f.Rank), (f.VName, f.V, f.Rank, f.Cols) }
            : [(p.Name, p.Data, p.Rows, p.Cols)]);
        return Pack(matrices, format, kmeansIterations);
    }

    private static IReadOnlyList<PackedMatrix> Pack(IEnumerable<(string Name, float[] Data, int Rows, int Cols)> matrices, WeightFormat format, int kmeansIterations) =>
        matrices.Select(m =>
        {
            int[]? outliers = format.Outliers ? OutlierColumns(m.Data, m.Rows, m.Cols) : null;
            return format.Scheme == WeightScheme.Codebook
                ? Cluster(m.Name, m.Data, m.Rows, m.Cols, Math.Min(format.CodebookSize, m.Data.Length), kmeansIterations, outliers)
                : Uniform(m.Name, m.Data, m.Rows, m.Cols, format.Bits, format.Scheme == WeightScheme.Symmetric, outliers);
        }).ToList();

    /// <summary>
    /// Columns whose root-mean-square weight exceeds <paramref name="factor"/> × the median column's,
    /// largest first and at most one column in four, returned ascending. In an FFNN's first layer these
    /// are the label inputs (75 % of the weight norm of a trained 2×2000 model in 10 of 794 columns).
    /// </summary>
    public static int[] OutlierColumns(float[] weights, int rows, int cols, double factor = 8)
    {
        Check("the matrix", weights, rows, cols);
        var rms = new double[cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) { double v = weights[r * cols + c]; rms[c] += v * v; }
        var sorted = rms.Order().ToArray();
        double median = sorted[cols / 2];
        return Enumerable.Range(0, cols).Where(c => rms[c] > factor * factor * median)
            .OrderByDescending(c => rms[c]).Take(cols / 4).Order().ToArray();
    }

    /// <summary>The weights of <paramref name="outliers"/> columns, row-major [rows × n], and a mask of them.</summary>
    private static (float[] Values, bool[] Mask) SplitOutliers(float[] weights, int rows, int cols, int[] outliers)
    {
        var mask = new bool[cols];
        foreach (int c in outliers) mask[c] = true;
        var values = new float[rows * outliers.Length];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < outliers.Length; j++) values[r * outliers.Length + j] = weights[r * cols + outliers[j]];
        return (values, mask);
    }

    /// <summary>
    /// Per-row uniform quantisation. Symmetric: step = max|row| / (2^(b−1) − 1), code = round(w/step) + 2^(b−1) − 1.
    /// Asymmetric: step = (max − min) / (2^b − 1), code = round((w − min)/step).
    /// </summary>
    public static PackedMatrix Uniform(string name, float[] weights, int rows, int cols, int bits, bool symmetric, int[]? outlierColumns = null)
    {
        Check(name, weights, rows, cols);
        if (outlierColumns is { Length: > 0 })
        {
            // The grid is fitted to the other columns; the outliers' codes stand for 0 and are replaced on decoding.
            var (values, mask) = SplitOutliers(weights, rows, cols, outlierColumns);
            var masked = (float[])weights.Clone();
            for (int i = 0; i < masked.Length; i++) if (mask[i % cols]) masked[i] = 0;
            return Uniform(name, masked, rows, cols, bits, symmetric) with { OutlierColumns = outlierColumns, OutlierValues = values };
        }
        if (bits is < 2 or > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "Uniform quantisation takes 2 to 8 bits.");
        var codes = new byte[weights.Length];
        var scale = new float[rows];
        float[]? minimum = symmetric ? null : new float[rows];
        int centre = (1 << (bits - 1)) - 1, top = (1 << bits) - 1;
        for (int r = 0; r < rows; r++)
        {
            var row = weights.AsSpan(r * cols, cols);
            if (symmetric)
            {
                float max = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(row));
                float step = max > 0 ? max / centre : 1f;
                scale[r] = step;
                for (int c = 0; c < cols; c++) codes[r * cols + c] = (byte)(Math.Clamp((int)MathF.Round(row[c] / step), -centre, centre) + centre);
            }
            else
            {
                float lo = System.Numerics.Tensors.TensorPrimitives.Min(row), hi = System.Numerics.Tensors.TensorPrimitives.Max(row);
                float step = hi > lo ? (hi - lo) / top : 1f;
                scale[r] = step;
                minimum![r] = lo;
                for (int c = 0; c < cols; c++) codes[r * cols + c] = (byte)Math.Clamp((int)MathF.Round((row[c] - lo) / step), 0, top);
            }
        }
        return new PackedMatrix
        {
            Name = name, Rows = rows, Cols = cols, Bits = bits, Codes = codes, Scale = scale, Minimum = minimum,
            Scheme = symmetric ? WeightScheme.Symmetric : WeightScheme.Asymmetric,
        };
    }

    /// <summary>
    /// Weight sharing: a codebook of <paramref name="k"/> values for the whole matrix by 1-D k-means
    /// (Lloyd), started from values spaced evenly between the smallest and largest weight (the
    /// start Han et al. found best: it keeps the rare large weights), each weight coded by its
    /// nearest value. Stops after <paramref name="iterations"/> rounds or when no weight moves.
    /// </summary>
    public static PackedMatrix Cluster(string name, float[] weights, int rows, int cols, int k, int iterations = 30, int[]? outlierColumns = null)
    {
        Check(name, weights, rows, cols);
        if (outlierColumns is { Length: > 0 })
        {
            // The codebook is fitted to the other columns only; the outliers' codes are placeholders.
            var (values, mask) = SplitOutliers(weights, rows, cols, outlierColumns);
            var inner = Enumerable.Range(0, weights.Length).Where(i => !mask[i % cols]).Select(i => weights[i]).ToArray();
            if (inner.Length < k) throw new ArgumentOutOfRangeException(nameof(k), k, $"A codebook of {k} values is larger than the {inner.Length} weights of {name} outside its outlier columns.");
            var book = Cluster(name, inner, 1, inner.Length, k, iterations);
            var all = new byte[weights.Length];
            for (int i = 0, j = 0; i < weights.Length; i++) all[i] = mask[i % cols] ? (byte)0 : book.Codes[j++];
            return book with { Rows = rows, Cols = cols, Codes = all, OutlierColumns = outlierColumns, OutlierValues = values };
        }
        if (k is < 2 or > 256) throw new ArgumentOutOfRangeException(nameof(k), k, "A codebook holds 2 to 256 values.");
        if (k > weights.Length) throw new ArgumentOutOfRangeException(nameof(k), k, $"A codebook of {k} values is larger than {name}, which has {weights.Length} weights.");
        if (iterations < 1) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "At least one k-means round is needed.");
        float lo = System.Numerics.Tensors.TensorPrimitives.Min(weights), hi = System.Numerics.Tensors.TensorPrimitives.Max(weights);
        var centroids = new float[k];
        for (int j = 0; j < k; j++) centroids[j] = lo + (hi - lo) * j / (k - 1);
        var codes = new byte[weights.Length];
        var bounds = new float[k - 1];
        var sums = new double[k];
        var counts = new long[k];
        for (int round = 0; round < iterations; round++)
        {
            // Centroids stay sorted in 1-D, so the nearest one is found between midpoints.
            for (int j = 0; j < k - 1; j++) bounds[j] = 0.5f * (centroids[j] + centroids[j + 1]);
            bool moved = false;
            Array.Clear(sums);
            Array.Clear(counts);
            for (int i = 0; i < weights.Length; i++)
            {
                int at = Array.BinarySearch(bounds, weights[i]);
                int c = at >= 0 ? at : ~at; // on a midpoint: the lower centroid
                if (codes[i] != c) { moved = true; codes[i] = (byte)c; }
                sums[c] += weights[i];
                counts[c]++;
            }
            for (int j = 0; j < k; j++)
                if (counts[j] > 0) centroids[j] = (float)(sums[j] / counts[j]); // an empty cluster keeps its value
            if (!moved) break;
        }
        // Codes were assigned before the last update: assign once more to the final codebook.
        Array.Sort(centroids);
        for (int j = 0; j < k - 1; j++) bounds[j] = 0.5f * (centroids[j] + centroids[j + 1]);
        for (int i = 0; i < weights.Length; i++) { int at = Array.BinarySearch(bounds, weights[i]); codes[i] = (byte)(at >= 0 ? at : ~at); }
        return new PackedMatrix
        {
            Name = name, Rows = rows, Cols = cols, Scheme = WeightScheme.Codebook,
            Bits = Math.Max(1, (int)Math.Ceiling(Math.Log2(k))), Codes = codes, Codebook = centroids,
        };
    }

    /// <summary>A copy of <paramref name="model"/> whose matrices hold the weights the packed codes stand for.</summary>
    public static IClassifierModel Apply(IClassifierModel model, IReadOnlyCollection<PackedMatrix> packed)
    {
        var copy = ModelCheckpoint.Clone(model);
        var byName = copy.Parameters().ToDictionary(p => p.Name);
        foreach (var m in packed) m.Dequantize().CopyTo(byName[m.Name].Data, 0);
        return copy;
    }

    private static void Check(string name, float[] weights, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(weights);
        if (rows < 1 || cols < 1 || (long)rows * cols != weights.Length)
            throw new ArgumentException($"{name}: {weights.Length} weights do not form a [{rows}, {cols}] matrix.", nameof(weights));
        foreach (float w in weights)
            if (!float.IsFinite(w)) throw new ArgumentException($"{name} holds {w}; only finite weights can be quantised.", nameof(weights));
    }
}
