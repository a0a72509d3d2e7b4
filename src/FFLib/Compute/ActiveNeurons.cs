namespace FFLib.Compute;

/// <summary>
/// The dead-neuron shortcut of a layer's weight gradient dW = δᵀ·x: a neuron whose δ column is zero
/// on every row of the batch has an exactly zero row in dW, so the product runs over the active
/// neurons only, giving dW's active rows compactly. Shared by the FF models; holds the scratch
/// buffers (one instance per training workspace).
/// </summary>
internal sealed class ActiveNeurons(int maxRows, int maxWidth)
{
    private readonly int[] _columns = new int[maxWidth];
    private readonly uint[] _bits = new uint[maxWidth];
    private readonly float[] _compact = new float[maxRows * maxWidth];
    private int _count, _rows;

    /// <summary>The active neurons found by the last successful <see cref="TryCompact"/>, ascending.</summary>
    public ReadOnlySpan<int> Columns => _columns.AsSpan(0, _count);

    /// <summary>
    /// Finds the columns of δ (rows × width) with a nonzero entry. When at least 10% of the neurons
    /// are silent, gathers the active columns and returns true; otherwise the gather would cost more
    /// than it saves, and the caller takes the full product.
    /// </summary>
    public bool TryCompact(ReadOnlySpan<float> delta, int rows, int width)
    {
        _count = Kernels.NonzeroColumns(delta, rows, width, _columns, _bits);
        if (_count == width || 10L * _count > 9L * width) return false;
        Kernels.GatherColumns(delta, rows, width, Columns, _compact);
        _rows = rows;
        return true;
    }

    /// <summary>grad (Columns.Length × inFeatures) = the active rows of δᵀ·x, row i for neuron Columns[i].</summary>
    public void WeightGradient(ReadOnlySpan<float> x, int inFeatures, float[] grad) =>
        Gemm.Multiply(true, false, _count, inFeatures, _rows, _compact, _count, x, inFeatures, grad, inFeatures, accumulate: false);
}
