using System.Numerics.Tensors;

namespace FFLib.Compute;

/// <summary>
/// The losses' arithmetic on host spans, below the layers (the CPU backend runs them; the public
/// <see cref="Layers.FFLoss"/> and <see cref="Layers.CrossEntropy"/> check their arguments and call them).
/// </summary>
internal static class LossKernels
{
    /// <summary>
    /// FF loss of a batch whose first <paramref name="positives"/> rows are positive data: the mean of
    /// softplus(sign·(meanh² − θ)), sign = +1 for positives under L− (<paramref name="minimize"/>) and
    /// for negatives under L+; per row, dLoss/dh ÷ h = sign·σ(sign·(meanh² − θ))·2/(rows·width).
    /// </summary>
    public static float FFLossAndRowCoefficients(ReadOnlySpan<float> meanSquares, int positives, float threshold, bool minimize, int width, Span<float> coefficient)
    {
        int rows = meanSquares.Length;
        double sum = 0;
        float scale = 2f / ((float)rows * width);
        for (int r = 0; r < rows; r++)
        {
            float s = Sign(r < positives, minimize);
            float arg = s * (meanSquares[r] - threshold);
            sum += Kernels.Softplus(arg);
            coefficient[r] = s * Kernels.Sigmoid(arg) * scale;
        }
        return (float)(sum / rows);
    }

    /// <summary>+1 where the loss is softplus(meanh² − θ), −1 where it is softplus(θ − meanh²).</summary>
    public static float Sign(bool positive, bool minimize) => positive == minimize ? 1f : -1f;

    /// <summary>Softmax cross-entropy, mean over rows; writes dLoss/dlogits = (softmax − onehot)/rows.</summary>
    public static float CrossEntropyLossAndGradient(ReadOnlySpan<float> logits, int rows, int classes, ReadOnlySpan<int> labels, Span<float> gradient)
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
