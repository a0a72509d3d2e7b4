using FFLib.Compute;

namespace FFLib.Layers;

/// <summary>
/// The FF layer loss (docs/architectures.md) on a batch whose first <c>positives</c> rows are positive data
/// and the rest negative: the mean over all rows of softplus(±(meanh² − θ)), with softplus
/// computed stably (the reference overflows above 88; this does not).
/// </summary>
public static class FFLoss
{
    /// <summary>Loss value from per-row mean squared activations.</summary>
    public static float Compute(ReadOnlySpan<float> meanSquares, int positives, float threshold, LossDirection direction)
    {
        if ((uint)positives > (uint)meanSquares.Length)
            throw new ArgumentOutOfRangeException(nameof(positives), positives, $"positives must be within the {meanSquares.Length} rows.");
        if (meanSquares.Length == 0) return 0f;
        double sum = 0;
        for (int r = 0; r < meanSquares.Length; r++)
            sum += Kernels.Softplus(Sign(r < positives, direction) * (meanSquares[r] - threshold));
        return (float)(sum / meanSquares.Length);
    }

    /// <summary>softplus(x) = log(1 + eˣ), computed without overflow: the per-label score of the probe is Σ_layers softplus(meanh² − θ).</summary>
    public static float Softplus(float x) => Kernels.Softplus(x);

    /// <summary>+1 where the loss is softplus(meanh² − θ), −1 where it is softplus(θ − meanh²).</summary>
    internal static float Sign(bool positive, LossDirection direction) => LossKernels.Sign(positive, direction == LossDirection.Minimize);

    /// <summary>
    /// Loss plus, per row, dLoss/dh_rj ÷ h_rj = sign·σ(sign·(meanh² − θ)) · 2 / (rows · width):
    /// multiplying a row of h by it gives the row's gradient (zero where ReLU is off, since h is 0 there).
    /// </summary>
    /// <remarks>
    /// With <see cref="FFDenseLayer.Gradients"/> this is one FF training step's backward pass:
    /// <c>loss = LossAndRowCoefficients(FFDenseLayer.MeanSquares(h), positives, θ, direction, h.Cols, coef)</c>,
    /// then <c>layer.Gradients(x, h, coef, gradW, gradB)</c>.
    /// </remarks>
    public static float LossAndRowCoefficients(ReadOnlySpan<float> meanSquares, int positives, float threshold,
        LossDirection direction, int width, Span<float> coefficient)
    {
        int rows = meanSquares.Length;
        if ((uint)positives > (uint)rows) throw new ArgumentOutOfRangeException(nameof(positives), positives, $"positives must be within the {rows} rows.");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width (neurons in the layer) must be at least 1.");
        if (coefficient.Length < rows) throw new ArgumentException($"coefficient has {coefficient.Length} entries for {rows} rows.", nameof(coefficient));
        return LossKernels.FFLossAndRowCoefficients(meanSquares, positives, threshold, direction == LossDirection.Minimize, width, coefficient);
    }
}
