using FFLib.Compute;

namespace FFLib.IO;

/// <summary>
/// A weight matrix W [Rows × Cols] stored as two factors, W ≈ U·V with U [Rows × Rank] and
/// V [Rank × Cols]: Rank·(Rows + Cols) numbers instead of Rows·Cols. In a compressed file the
/// factors are matrices of their own ("W.lowrank_u", "W.lowrank_v"), so they can be quantised
/// like any other; loading multiplies them back.
/// </summary>
public sealed record LowRankMatrix
{
    /// <summary>The parameter it replaces.</summary>
    public required string Name { get; init; }
    /// <summary>Rows of W.</summary>
    public required int Rows { get; init; }
    /// <summary>Columns of W.</summary>
    public required int Cols { get; init; }
    /// <summary>Inner dimension of the factors.</summary>
    public required int Rank { get; init; }
    /// <summary>Left factor, row-major [Rows × Rank] (the singular values folded in).</summary>
    public required float[] U { get; init; }
    /// <summary>Right factor, row-major [Rank × Cols].</summary>
    public required float[] V { get; init; }

    /// <summary>Name of the left factor's tensor.</summary>
    public string UName => Name + ".lowrank_u";
    /// <summary>Name of the right factor's tensor.</summary>
    public string VName => Name + ".lowrank_v";

    /// <summary>Whether storing the factors takes fewer numbers than the matrix.</summary>
    public static bool Saves(int rows, int cols, int rank) => (long)rank * (rows + cols) < (long)rows * cols;

    /// <summary>U·V, row-major [Rows × Cols].</summary>
    public float[] Reconstruct()
    {
        Validate(Name);
        var w = new float[(long)Rows * Cols];
        Gemm.Multiply(false, false, Rows, Cols, Rank, U, Rank, V, Cols, w, Cols, accumulate: false);
        return w;
    }

    internal void Validate(string source)
    {
        string Where(string problem) => $"{source}: low-rank factors of {Name}: {problem}.";
        if (Rows < 1 || Cols < 1 || Rank < 1 || Rank > Math.Min(Rows, Cols))
            throw new InvalidDataException(Where($"rank {Rank} for a [{Rows}, {Cols}] matrix (1 to {Math.Min(Rows, Cols)})"));
        if (U.Length != (long)Rows * Rank || V.Length != (long)Rank * Cols)
            throw new InvalidDataException(Where($"factors of {U.Length} and {V.Length} values for [{Rows}, {Rank}] and [{Rank}, {Cols}]"));
    }
}
