using ILGPU;

namespace FFLib.Gpu;

// Batch normalisation over rows × channels of NHWC maps (the competitive FF CNN's --batch-norm), as kernels:
// the per-channel sums run one thread per channel in double, in the CPU kernels' row order; the element-wise
// parts one thread per value. Before these, the backend took ComputeBackend's host default (a copy each way).
internal static partial class GpuKernels
{
    /// <summary>PyTorch's ε, as BatchNormKernels.Epsilon.</summary>
    public const float BatchNormEpsilon = 1e-5f;

    /// <summary>One thread per channel c: mean[c] and invStd[c] = 1/√(var + ε) over the rows (biased variance, sums in double).</summary>
    public static void BatchNormStatistics(Index1D c, ArrayView<float> h, int rows, int channels, ArrayView<float> mean, ArrayView<float> invStd)
    {
        double sum = 0, squares = 0;
        for (int r = 0; r < rows; r++)
        {
            double v = h[(long)r * channels + c];
            sum += v;
            squares += v * v;
        }
        double m = sum / rows, variance = Math.Max(0.0, squares / rows - m * m);
        mean[c] = (float)m;
        invStd[c] = (float)(1 / Math.Sqrt(variance + BatchNormEpsilon));
    }

    /// <summary>One thread per value: y = γ[c]·((h − mean[c])·invStd[c]) + β[c] (y may be h).</summary>
    public static void BatchNormAffine(Index1D i, ArrayView<float> h, int channels, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> mean, ArrayView<float> invStd, ArrayView<float> y)
    {
        int c = (int)(i % channels);
        y[i] = gamma[c] * ((h[i] - mean[c]) * invStd[c]) + beta[c];
    }

    /// <summary>One thread per channel: dβ[c] = Σ dy, dγ[c] = Σ dy·ĥ over the rows (in double).</summary>
    public static void BatchNormGradientSums(Index1D c, ArrayView<float> h, int rows, int channels, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> dy, ArrayView<float> dGamma, ArrayView<float> dBeta)
    {
        double sumDy = 0, sumDyXhat = 0;
        for (int r = 0; r < rows; r++)
        {
            long i = (long)r * channels + c;
            double xhat = (h[i] - mean[c]) * (double)invStd[c];
            sumDy += dy[i];
            sumDyXhat += dy[i] * xhat;
        }
        dGamma[c] = (float)sumDyXhat;
        dBeta[c] = (float)sumDy;
    }

    /// <summary>One thread per value: dh = γ·invStd·(dy − dβ/rows − ĥ·dγ/rows) (dh may be dy; dγ, dβ from <see cref="BatchNormGradientSums"/>).</summary>
    public static void BatchNormInputGradient(Index1D i, ArrayView<float> h, int rows, int channels, ArrayView<float> gamma, ArrayView<float> mean,
        ArrayView<float> invStd, ArrayView<float> dy, ArrayView<float> dGamma, ArrayView<float> dBeta, ArrayView<float> dh)
    {
        int c = (int)(i % channels);
        double xhat = (h[i] - mean[c]) * (double)invStd[c];
        dh[i] = (float)(gamma[c] * (double)invStd[c] * (dy[i] - (double)dBeta[c] / rows - xhat * (double)dGamma[c] / rows));
    }
}
