using System.Numerics.Tensors;

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
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            var z = logits.Slice(r * classes, classes);
            var g = gradient.Slice(r * classes, classes);
            float max = TensorPrimitives.Max(z);
            // log-sum-exp with the max subtracted: no overflow for any logits.
            TensorPrimitives.Subtract(z, max, g);
            TensorPrimitives.Exp(g, g);
            float s = TensorPrimitives.Sum(g);
            sum += Math.Log(s) + max - z[labels[r]];
            TensorPrimitives.Multiply(g, 1f / (s * rows), g);
            g[labels[r]] -= 1f / rows;
        }
        return (float)(sum / rows);
    }
}
