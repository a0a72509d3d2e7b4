using System.Diagnostics;

namespace FFLib.Compute;

/// <summary>
/// A dense float32 matrix stored row-major in one contiguous array: one sample per row.
/// Deliberately small: storage, shape and views. The maths lives in internal kernels.
/// </summary>
public sealed class Matrix
{
    /// <summary>Creates a zero-filled matrix.</summary>
    public Matrix(int rows, int cols)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "rows must be non-negative.");
        if (cols < 0) throw new ArgumentOutOfRangeException(nameof(cols), cols, "cols must be non-negative.");
        if ((long)rows * cols > Array.MaxLength)
            throw new ArgumentException($"A {rows}×{cols} matrix has more than {Array.MaxLength} elements.");
        Rows = rows;
        Cols = cols;
        Data = new float[rows * cols];
    }

    /// <summary>Wraps an existing row-major array (no copy). Its length must be rows × cols.</summary>
    public Matrix(int rows, int cols, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (rows < 0 || cols < 0 || (long)rows * cols != data.Length)
            throw new ArgumentException($"data has {data.Length} elements but a {rows}×{cols} matrix needs {(long)rows * cols}.", nameof(data));
        Rows = rows;
        Cols = cols;
        Data = data;
    }

    /// <summary>Number of rows (samples).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (features).</summary>
    public int Cols { get; }

    /// <summary>The row-major backing array (length Rows × Cols).</summary>
    public float[] Data { get; }

    /// <summary>Total number of elements.</summary>
    public int Length => Data.Length;

    /// <summary>Element at (row, col).</summary>
    public float this[int row, int col]
    {
        get { CheckIndex(row, col); return Data[row * Cols + col]; }
        set { CheckIndex(row, col); Data[row * Cols + col] = value; }
    }

    /// <summary>A writable view of one row.</summary>
    public Span<float> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"row must be in [0, {Rows}).");
        return Data.AsSpan(row * Cols, Cols);
    }

    /// <summary>The whole matrix as a span.</summary>
    public Span<float> AsSpan() => Data;

    /// <summary>The rows of <paramref name="top"/> followed by those of <paramref name="bottom"/> (e.g. positive then negative data).</summary>
    public static Matrix ConcatRows(Matrix top, Matrix bottom)
    {
        ArgumentNullException.ThrowIfNull(top);
        ArgumentNullException.ThrowIfNull(bottom);
        if (top.Cols != bottom.Cols) throw new ArgumentException($"top has {top.Cols} columns but bottom has {bottom.Cols}.", nameof(bottom));
        var m = new Matrix(top.Rows + bottom.Rows, top.Cols);
        top.Data.CopyTo(m.Data, 0);
        bottom.Data.CopyTo(m.Data, top.Data.Length);
        return m;
    }

    /// <summary>A deep copy.</summary>
    public Matrix Clone() => new(Rows, Cols, (float[])Data.Clone());

    /// <summary>Builds a matrix from a rectangular array (handy in tests and snippets).</summary>
    public static Matrix FromRows(float[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var m = new Matrix(values.GetLength(0), values.GetLength(1));
        for (int i = 0; i < m.Rows; i++)
            for (int j = 0; j < m.Cols; j++)
                m.Data[i * m.Cols + j] = values[i, j];
        return m;
    }

    /// <inheritdoc />
    public override string ToString() => $"Matrix {Rows}×{Cols}";

    private void CheckIndex(int row, int col)
    {
        if ((uint)row >= (uint)Rows || (uint)col >= (uint)Cols)
            throw new ArgumentOutOfRangeException($"Index ({row}, {col}) is outside a {Rows}×{Cols} matrix.");
        Debug.Assert(Data.Length == Rows * Cols);
    }
}
