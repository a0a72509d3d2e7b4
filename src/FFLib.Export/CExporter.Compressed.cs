using System.Globalization;
using System.Text;
using FFLib.IO;

namespace FFLib.Export;

// Weight matrices in a compressed model file's forms (bit-packed codes, low-rank factors), written
// as such and decoded at inference. Its own file: CExporter.cs keeps the dense path readable.
public static partial class CExporter
{
    /// <summary>How one matrix is stored in the C: float32, int8 with row scales, or packed codes.</summary>
    private sealed record CMatrix(string Id, int Rows, int Cols, PackedMatrix? Packed, bool Int8);

    /// <summary>A parameter the products read in a compressed form: packed codes, or low-rank factors (each float, int8 or packed).</summary>
    private sealed record CompressedParameter(CMatrix? Whole, CMatrix? U, CMatrix? V, int Rank);

    /// <summary>
    /// The parameters written in compressed form: those the options give a packed or low-rank form for,
    /// if only products and weight columns read them, and packed convolution kernels (a kernel given
    /// as low-rank factors is written whole, as the model computes with it).
    /// </summary>
    private static Dictionary<string, CompressedParameter> CompressedForms(InferenceGraph graph, ExportOptions options, Func<string, string> ident)
    {
        var packed = (options.Packed ?? []).ToDictionary(m => m.Name);
        var lowRank = (options.LowRank ?? []).ToDictionary(f => f.Name);
        var result = new Dictionary<string, CompressedParameter>();
        foreach (var name in graph.ParameterNames())
        {
            var readers = graph.Ops.Where(o => o.Parameter == name).ToList();
            if (readers.All(o => o.Kind == InferenceOpKind.Conv2d))
            {
                if (packed.TryGetValue(name, out var kernel)) result[name] = new(new CMatrix(ident(name), kernel.Rows, kernel.Cols, kernel, Int8: false), null, null, 0);
                continue;
            }
            if (!readers.All(o => o.Kind is InferenceOpKind.MatMul or InferenceOpKind.AddWeightColumn)) continue;
            if (lowRank.TryGetValue(name, out var f))
            {
                string id = ident(name);
                result[name] = new(null,
                    new CMatrix(id + "_u", f.Rows, f.Rank, packed.GetValueOrDefault(f.UName), options.Int8 && !packed.ContainsKey(f.UName)),
                    new CMatrix(id + "_v", f.Rank, f.Cols, packed.GetValueOrDefault(f.VName), options.Int8 && !packed.ContainsKey(f.VName)), f.Rank);
            }
            else if (packed.TryGetValue(name, out var m)) result[name] = new(new CMatrix(ident(name), m.Rows, m.Cols, m, Int8: false), null, null, 0);
        }
        return result;
    }

    /// <summary>Bytes of constant data of one stored matrix (codes padded by one byte for the two-byte reads).</summary>
    private static long Bytes(CMatrix m)
    {
        if (m.Packed is { } p)
            return BitPackedLength(p) + 1 + 4L * ((p.Scale?.Length ?? 0) + (p.Minimum?.Length ?? 0) + (p.Codebook?.Length ?? 0))
                + 4L * (p.OutlierColumns?.Length ?? 0) * (1 + p.Rows);
        return m.Int8 ? (long)m.Rows * m.Cols + 4L * m.Rows : 4L * m.Rows * m.Cols;
    }

    private static long BitPackedLength(PackedMatrix p) => ((long)p.Rows * p.Cols * p.Bits + 7) / 8;

    /// <summary>Writes one parameter's arrays (values <paramref name="dense"/> unless packed; <paramref name="shape"/> for the comment, default [rows][cols]).</summary>
    private static void Emit(StringBuilder data, CMatrix m, string name, float[] dense, int[]? shape = null)
    {
        if (m.Packed is { } p)
        {
            var codes = Coding.BitPacking.Pack(p.Codes, p.Bits);
            data.Append(CultureInfo.InvariantCulture, $"/* {name} [{p.Rows}][{p.Cols}], {p.Bits}-bit {CompressedWeights.SchemeId(p.Scheme)} codes, bit-packed LSB first (+1 byte of padding) */\nstatic const uint8_t {m.Id}_codes[{codes.Length + 1}] = {{");
            AppendValues(data, codes.Append((byte)0).Select(b => (float)b).ToArray(), v => ((int)v).ToString(CultureInfo.InvariantCulture));
            data.Append("};\n");
            void Floats(string suffix, float[]? values)
            {
                if (values is not null) FloatArray(data, $"{m.Id}_{suffix}", values);
            }
            Floats("scale", p.Scale);
            Floats("minimum", p.Minimum);
            Floats("codebook", p.Codebook);
            if (p.OutlierColumns is { Length: > 0 } outliers)
            {
                IntArray(data, $"{m.Id}_outlier_columns", outliers);
                Floats("outlier_values", p.OutlierValues);
            }
            return;
        }
        if (m.Int8)
        {
            var q = new float[dense.Length];
            var scales = new float[m.Rows];
            ModelCheckpoint.Quantize(dense, m.Rows, m.Cols, q, scales);
            data.Append(CultureInfo.InvariantCulture, $"/* {name} [{m.Rows}][{m.Cols}], int8, one scale per row */\nstatic const int8_t {m.Id}[{dense.Length}] = {{");
            AppendValues(data, q, v => ((int)v).ToString(CultureInfo.InvariantCulture));
            data.Append(CultureInfo.InvariantCulture, $"}};\nstatic const float {m.Id}_scale[{m.Rows}] = {{");
            AppendValues(data, scales, Float);
            data.Append("};\n");
            return;
        }
        data.Append(CultureInfo.InvariantCulture, $"/* {name} [{string.Join("][", shape ?? [m.Rows, m.Cols])}] */\nstatic const float {m.Id}[{dense.Length}] = {{");
        AppendValues(data, dense, Float);
        data.Append("};\n");
    }

    /// <summary>The call y = x · M[:, c0 : c0 + k]ᵀ (rows of M) for a stored matrix.</summary>
    private static string Product(CMatrix m, string x, int k, int c0, string y)
    {
        if (m.Packed is not { } p)
            return m.Int8 ? $"  matmul_q({x}, {k}, {m.Id}, {m.Id}_scale, {m.Cols}, {c0}, {m.Rows}, {y});\n"
                          : $"  matmul_f({x}, {k}, {m.Id}, {m.Cols}, {c0}, {m.Rows}, {y});\n";
        int scheme = p.Scheme switch { WeightScheme.Symmetric => 0, WeightScheme.Asymmetric => 1, _ => 2 };
        string Or(float[]? a, string suffix) => a is null ? "0" : $"{m.Id}_{suffix}";
        int outliers = p.OutlierColumns?.Length ?? 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"  matmul_p({x}, {k}, {m.Id}_codes, {p.Bits}, {scheme}, {Or(p.Scale, "scale")}, {Or(p.Minimum, "minimum")}, {Or(p.Codebook, "codebook")}, {outliers}, {(outliers > 0 ? m.Id + "_outlier_columns" : "0")}, {(outliers > 0 ? m.Id + "_outlier_values" : "0")}, {m.Cols}, {c0}, {m.Rows}, {y});\n");
    }

    /// <summary>The call of the packed convolution for a kernel stored as codes (<paramref name="shape"/>: the geometry arguments).</summary>
    private static string PackedConvolution(CMatrix m, string x, string shape, string y)
    {
        var p = m.Packed!;
        int scheme = p.Scheme switch { WeightScheme.Symmetric => 0, WeightScheme.Asymmetric => 1, _ => 2 };
        string Or(float[]? a, string suffix) => a is null ? "0" : $"{m.Id}_{suffix}";
        int outliers = p.OutlierColumns?.Length ?? 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"  conv2d_p({x}, {m.Id}_codes, {p.Bits}, {scheme}, {Or(p.Scale, "scale")}, {Or(p.Minimum, "minimum")}, {Or(p.Codebook, "codebook")}, {outliers}, {(outliers > 0 ? m.Id + "_outlier_columns" : "0")}, {(outliers > 0 ? m.Id + "_outlier_values" : "0")}, {shape}, {y});\n");
    }

    /// <summary>The packed product's helper (emitted with the others).</summary>
    private const string PackedHelper = """
        /* y[r] = x . W[r][c0 .. c0+k-1] with W stored as `bits`-bit codes (row-major, bit-packed LSB first),
           decoded through a table per row: scale[r]*(code - centre) (scheme 0, symmetric),
           minimum[r] + scale[r]*code (1, asymmetric) or codebook[code] (2). Outlier columns hold
           float weights instead of their codes. */
        static FFLIB_MAYBE_UNUSED void matmul_p(const float *x, int k, const uint8_t *codes, int bits, int scheme,
                                                const float *scale, const float *minimum, const float *codebook,
                                                int n_outliers, const int *outlier_columns, const float *outlier_values,
                                                int cols, int c0, int rows, float *y)
        {
          float lut[256];
          const int levels = 1 << bits, centre = (1 << (bits - 1)) - 1;
          const unsigned mask = (unsigned)levels - 1u;
          int r, i, c;
          for (r = 0; r < rows; r++) {
            const float *table = codebook;
            long bit = ((long)r * cols + c0) * bits;
            float acc = 0.0f;
            if (scheme == 0) { for (c = 0; c < levels; c++) lut[c] = scale[r] * (float)(c - centre); table = lut; }
            else if (scheme == 1) { for (c = 0; c < levels; c++) lut[c] = minimum[r] + scale[r] * (float)c; table = lut; }
            for (i = 0; i < k; i++, bit += bits) {
              const unsigned two = (unsigned)codes[bit >> 3] | ((unsigned)codes[(bit >> 3) + 1] << 8);
              acc += table[(two >> (bit & 7)) & mask] * x[i];
            }
            for (c = 0; c < n_outliers; c++) {
              const int col = outlier_columns[c];
              if (col >= c0 && col < c0 + k) {
                const long at = ((long)r * cols + col) * bits;
                const unsigned two = (unsigned)codes[at >> 3] | ((unsigned)codes[(at >> 3) + 1] << 8);
                acc += (outlier_values[(long)r * n_outliers + c] - table[(two >> (at & 7)) & mask]) * x[col - c0];
              }
            }
            y[r] = acc;
          }
        }

        /* conv2d_f with the kernel [outc][k][k][c] stored as codes as in matmul_p (one row per output
           channel, k*k*c codes, its table built once per channel); outlier columns are kernel taps
           (ky, kx, i) whose float weights replace their codes. */
        static FFLIB_MAYBE_UNUSED void conv2d_p(const float *x, const uint8_t *codes, int bits, int scheme,
                                                const float *scale, const float *minimum, const float *codebook,
                                                int n_outliers, const int *outlier_columns, const float *outlier_values,
                                                int h, int w, int c, int k, int stride, int pad, int outc, int oh, int ow, float *y)
        {
          float lut[256];
          const int levels = 1 << bits, centre = (1 << (bits - 1)) - 1, cols = k * k * c;
          const unsigned mask = (unsigned)levels - 1u;
          int o, oy, ox, ky, kx, i, j;
          for (o = 0; o < outc; o++) {
            const float *table = codebook;
            const long row = (long)o * cols;
            if (scheme == 0) { for (j = 0; j < levels; j++) lut[j] = scale[o] * (float)(j - centre); table = lut; }
            else if (scheme == 1) { for (j = 0; j < levels; j++) lut[j] = minimum[o] + scale[o] * (float)j; table = lut; }
            for (oy = 0; oy < oh; oy++)
              for (ox = 0; ox < ow; ox++) {
                float acc = 0.0f;
                for (ky = 0; ky < k; ky++) {
                  const int iy = oy * stride - pad + ky;
                  if (iy < 0 || iy >= h) continue;
                  for (kx = 0; kx < k; kx++) {
                    const int ix = ox * stride - pad + kx;
                    const float *px;
                    long bit;
                    if (ix < 0 || ix >= w) continue;
                    px = x + ((long)iy * w + ix) * c;
                    bit = (row + (long)(ky * k + kx) * c) * bits;
                    for (i = 0; i < c; i++, bit += bits) {
                      const unsigned two = (unsigned)codes[bit >> 3] | ((unsigned)codes[(bit >> 3) + 1] << 8);
                      acc += table[(two >> (bit & 7)) & mask] * px[i];
                    }
                  }
                }
                for (j = 0; j < n_outliers; j++) {
                  const int col = outlier_columns[j], ty = col / (k * c), tx = (col / c) % k, ti = col % c;
                  const int iy = oy * stride - pad + ty, ix = ox * stride - pad + tx;
                  if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                    const long at = (row + col) * bits;
                    const unsigned two = (unsigned)codes[at >> 3] | ((unsigned)codes[(at >> 3) + 1] << 8);
                    acc += (outlier_values[(long)o * n_outliers + j] - table[(two >> (at & 7)) & mask]) * x[((long)iy * w + ix) * c + ti];
                  }
                }
                y[((long)oy * ow + ox) * outc + o] = acc;
              }
          }
        }

        """;
}
