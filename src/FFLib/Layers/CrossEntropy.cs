using FFLib.Compute;

namespace FFLib.Layers;

/// <summary>Softmax cross-entropy (PyTorch CrossEntropyLoss, mean reduction).</summary>
public static class CrossEntropy
{
    /// <summary>
    /// Mean loss over the rows of <paramref name="logits"/> (rows×classes); writes
    /// dLoss/dlogits = (softmax − onehot)/rows into <paramref name="gradient"/>.
    /// </summary>
    public static float LossAndGradient(ReadOnlySpan<float> logits, int rows, int classes, ReadOnlySpan<int> labels, Span<float> gradient)
    {
        if (rows < 0 || classes < 1 || logits.Length < rows * classes || gradient.Length < rows * classes || labels.Length < rows)
            throw new ArgumentException($"LossAndGradient needs {rows}×{classes} logits and gradient entries and {rows} labels; got {logits.Length}, {gradient.Length} and {labels.Length}.");
        return LossKernels.CrossEntropyLossAndGradient(logits, rows, classes, labels, gradient);
    }
}
