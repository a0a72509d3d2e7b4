namespace FFLib.IO;

/// <summary>How a <see cref="PackedMatrix"/> turns its codes back into weights.</summary>
public enum WeightScheme
{
    /// <summary>Uniform, symmetric per row: w = scale_r · (c − (2^(b−1) − 1)), c ∈ [0, 2^b − 2]; zero is exact.</summary>
    Symmetric,
    /// <summary>Uniform, asymmetric per row: w = minimum_r + scale_r · c, c ∈ [0, 2^b − 1]; the row's range is used in full.</summary>
    Asymmetric,
    /// <summary>Weight sharing: w = codebook[c], one codebook of k ≤ 2^b values for the whole matrix.</summary>
    Codebook,
}

/// <summary>How a compressed file stores the codes of its packed matrices.</summary>
public enum CodeStorage
{
    /// <summary>Bit-packed, LSB first: a fixed number of bits per code ("none" in the file).</summary>
    BitPacked,
    /// <summary>Static rANS (<see cref="Coding.RansCoder"/>): the order-0 entropy plus a frequency table.</summary>
    Rans,
    /// <summary>Adaptive context-modelling range coder (<see cref="Coding.ContextCoder"/>): each code coded given its left and upper neighbours.</summary>
    Context,
}

/// <summary>
/// A weight matrix stored as one small code per weight (<see cref="Bits"/> bits) plus what turns the
/// codes back into floats: per-row scales (and minima), or a codebook. Built by the quantisers in
/// FFLib.ModelCompression; written and read by <see cref="CompressedWeights"/>.
/// </summary>
public sealed record PackedMatrix
{
    /// <summary>The parameter it replaces ("layers.0.weight").</summary>
    public required string Name { get; init; }
    /// <summary>Rows (output neurons).</summary>
    public required int Rows { get; init; }
    /// <summary>Columns (inputs).</summary>
    public required int Cols { get; init; }
    /// <summary>How codes map to weights.</summary>
    public required WeightScheme Scheme { get; init; }
    /// <summary>Bits per code, 1–8 (uniform schemes: 2–8).</summary>
    public required int Bits { get; init; }
    /// <summary>One code per weight, row-major (Rows × Cols values, each below 2^Bits).</summary>
    public required byte[] Codes { get; init; }
    /// <summary>Per-row step (uniform schemes); null for a codebook.</summary>
    public float[]? Scale { get; init; }
    /// <summary>Per-row minimum (asymmetric); null otherwise.</summary>
    public float[]? Minimum { get; init; }
    /// <summary>The shared values (codebook scheme); null otherwise.</summary>
    public float[]? Codebook { get; init; }
    /// <summary>
    /// Columns kept in float32 beside the codes (ascending), whose codes are ignored: columns far
    /// larger than the rest (an FF network's label inputs) would otherwise take every level of a
    /// row's grid. Null when none.
    /// </summary>
    public int[]? OutlierColumns { get; init; }
    /// <summary>Those columns' weights, row-major [Rows × OutlierColumns.Length].</summary>
    public float[]? OutlierValues { get; init; }

    /// <summary>The largest code the scheme allows at <see cref="Bits"/> bits.</summary>
    public int MaxCode => Scheme switch
    {
        WeightScheme.Symmetric => (1 << Bits) - 2,
        WeightScheme.Asymmetric => (1 << Bits) - 1,
        _ => (Codebook?.Length ?? 1) - 1,
    };

    /// <summary>The weights the codes stand for (row-major).</summary>
    public float[] Dequantize()
    {
        Validate(Name);
        var w = new float[Codes.Length];
        int centre = (1 << (Bits - 1)) - 1;
        for (int r = 0; r < Rows; r++)
        {
            int at = r * Cols;
            for (int c = 0; c < Cols; c++)
            {
                int code = Codes[at + c];
                w[at + c] = Scheme switch
                {
                    WeightScheme.Symmetric => Scale![r] * (code - centre),
                    WeightScheme.Asymmetric => Minimum![r] + Scale![r] * code,
                    _ => Codebook![code],
                };
            }
        }
        if (OutlierColumns is { Length: > 0 } outliers)
            for (int r = 0; r < Rows; r++)
                for (int j = 0; j < outliers.Length; j++) w[r * Cols + outliers[j]] = OutlierValues![r * outliers.Length + j];
        return w;
    }

    /// <summary>Checks that the parts agree with each other; <paramref name="source"/> names the file or caller in the message.</summary>
    internal void Validate(string source)
    {
        string Where(string problem) => $"{source}: packed weights {Name}: {problem}.";
        if (Rows < 1 || Cols < 1) throw new InvalidDataException(Where($"shape [{Rows}, {Cols}] is empty"));
        if (Bits is < 1 or > 8 || (Scheme != WeightScheme.Codebook && Bits < 2)) throw new InvalidDataException(Where($"{Bits} bits is outside {(Scheme == WeightScheme.Codebook ? "1–8" : "2–8")}"));
        if ((long)Rows * Cols != Codes.Length) throw new InvalidDataException(Where($"{Codes.Length} codes for a [{Rows}, {Cols}] matrix"));
        if (Scheme != WeightScheme.Codebook && Scale?.Length != Rows) throw new InvalidDataException(Where($"{Scale?.Length ?? 0} row scales for {Rows} rows"));
        if (Scheme == WeightScheme.Asymmetric && Minimum?.Length != Rows) throw new InvalidDataException(Where($"{Minimum?.Length ?? 0} row minima for {Rows} rows"));
        if (Scheme == WeightScheme.Codebook && (Codebook is null || Codebook.Length < 1 || Codebook.Length > 1 << Bits))
            throw new InvalidDataException(Where($"a codebook of {Codebook?.Length ?? 0} values does not fit {Bits}-bit codes"));
        if (OutlierColumns is { } oc)
        {
            for (int j = 0; j < oc.Length; j++)
                if (oc[j] < 0 || oc[j] >= Cols || (j > 0 && oc[j] <= oc[j - 1])) throw new InvalidDataException(Where($"outlier column {oc[j]} is not an ascending column index below {Cols}"));
            if (OutlierValues?.Length != (long)Rows * oc.Length) throw new InvalidDataException(Where($"{OutlierValues?.Length ?? 0} outlier values for {Rows} rows × {oc.Length} columns"));
        }
        else if (OutlierValues is not null) throw new InvalidDataException(Where("outlier values without their columns"));
        int max = MaxCode;
        for (int i = 0; i < Codes.Length; i++)
            if (Codes[i] > max) throw new InvalidDataException(Where($"code {Codes[i]} at weight {i} exceeds {max}"));
    }
}
