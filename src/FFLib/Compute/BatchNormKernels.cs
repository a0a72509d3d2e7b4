namespace FFLib.Compute;

/// <summary>
/// Batch normalisation over rows × channels (each row one image position of an NHWC map): the plain loops
/// the backends' primitives run (<see cref="ComputeBackend.BatchNormForward"/>, <see cref="ComputeBackend.BatchNormBackward"/>).
/// Sums are taken in double, per channel.
/// </summary>
internal static class BatchNormKernels
{
    /// <summary>The ε added to the variance (PyTorch's default).</summary>
    public const float Epsilon = 1e-5f;

    /// <summary>
    /// Per channel c over the rows: mean[c], invStd[c] = 1/√(var[c] + ε) (the biased variance), and
    /// y = γ[c]·(h − mean[c])·invStd[c] + β[c]. <paramref name="y"/> may be <paramref name="h"/>.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> h, int rows, int channels, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> mean, Span<float> invStd, Span<float> y)
    {
        var sum = new double[channels];
        var squares = new double[channels];
        for (int r = 0; r < rows; r++)
        {
            var row = h.Slice(r * channels, channels);
            for (int c = 0; c < channels; c++) { double v = row[c]; sum[c] += v; squares[c] += v * v; }
        }
        for (int c = 0; c < channels; c++)
        {
            double m = sum[c] / rows, variance = Math.Max(0, squares[c] / rows - m * m);
            mean[c] = (float)m;
            invStd[c] = (float)(1 / Math.Sqrt(variance + Epsilon));
        }
        Affine(h, rows, channels, gamma, beta, mean, invStd, y);
    }

    /// <summary>y = γ·(h − mean)·invStd + β per channel (training with batch statistics, or inference with running ones).</summary>
    public static void Affine(ReadOnlySpan<float> h, int rows, int channels, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, Span<float> y)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++)
            {
                int i = r * channels + c;
                y[i] = gamma[c] * ((h[i] - mean[c]) * invStd[c]) + beta[c];
            }
    }

    /// <summary>
    /// The gradients through y = γ·ĥ + β, ĥ = (h − mean)·invStd with batch statistics: dγ = Σ dy·ĥ, dβ = Σ dy,
    /// dh = γ·invStd·(dy − mean(dy) − ĥ·mean(dy·ĥ)) per channel. <paramref name="dh"/> may be <paramref name="dy"/>.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> h, int rows, int channels, ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd,
        ReadOnlySpan<float> dy, Span<float> dh, Span<float> dGamma, Span<float> dBeta)
    {
        var sumDy = new double[channels];
        var sumDyXhat = new double[channels];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++)
            {
                int i = r * channels + c;
                double xhat = (h[i] - mean[c]) * (double)invStd[c];
                sumDy[c] += dy[i];
                sumDyXhat[c] += dy[i] * xhat;
            }
        for (int c = 0; c < channels; c++) { dGamma[c] = (float)sumDyXhat[c]; dBeta[c] = (float)sumDy[c]; }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++)
            {
                int i = r * channels + c;
                double xhat = (h[i] - mean[c]) * (double)invStd[c];
                dh[i] = (float)(gamma[c] * (double)invStd[c] * (dy[i] - sumDy[c] / rows - xhat * sumDyXhat[c] / rows));
            }
    }
}
