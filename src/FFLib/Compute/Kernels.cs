using System.Diagnostics;
using System.Numerics.Tensors;

namespace FFLib.Compute;

/// <summary>
/// Span-based kernels of the FF layer, each beside a plain reference loop that the tests compare
/// with. Element-wise work and reductions go through <see cref="TensorPrimitives"/>.
/// </summary>
internal static class Kernels
{
    /// <summary>The constant the reference adds to the row norm before dividing.</summary>
    public const float NormEpsilon = 1e-4f;

    /// <summary>invNorm[r] = 1 / (‖x_r‖ + 1e-4) for each of the rows of a rows×cols matrix.</summary>
    public static void InverseRowNorms(ReadOnlySpan<float> x, int rows, int cols, Span<float> invNorm)
    {
        Debug.Assert(x.Length >= rows * cols && invNorm.Length >= rows);
        for (int r = 0; r < rows; r++)
            invNorm[r] = 1f / (TensorPrimitives.Norm(x.Slice(r * cols, cols)) + NormEpsilon);
    }

    /// <summary>In place: h_r = ReLU(z_r · invNorm[r] + b). That is ReLU(x̂Wᵀ + b) given z = xWᵀ.</summary>
    public static void ScaleBiasRelu(Span<float> z, int rows, int cols, ReadOnlySpan<float> invNorm, ReadOnlySpan<float> bias)
    {
        Debug.Assert(z.Length >= rows * cols && bias.Length == cols);
        for (int r = 0; r < rows; r++)
        {
            var row = z.Slice(r * cols, cols);
            TensorPrimitives.MultiplyAdd(row, invNorm[r], bias, row);
            TensorPrimitives.Max(row, 0f, row);
        }
    }

    /// <summary>goodness[r] = mean_j h_rj² (the threshold is subtracted by the loss).</summary>
    public static void MeanSquares(ReadOnlySpan<float> h, int rows, int cols, Span<float> meanSquares)
    {
        for (int r = 0; r < rows; r++)
            meanSquares[r] = TensorPrimitives.SumOfSquares(h.Slice(r * cols, cols)) / cols;
    }

    /// <summary>Numerically stable softplus log(1 + eˣ) = max(x, 0) + log1p(e^−|x|); never overflows.</summary>
    public static float Softplus(float x)
    {
        float e = MathF.Exp(-MathF.Abs(x));
        // log1p(e): for tiny e, 1 + e rounds to 1 in float32, so use the series e − e²/2.
        float log1p = e < 1e-4f ? e - 0.5f * e * e : MathF.Log(1f + e);
        return MathF.Max(x, 0f) + log1p;
    }

    /// <summary>Logistic sigmoid without overflow: the derivative of <see cref="Softplus"/>.</summary>
    public static float Sigmoid(float x)
    {
        if (x >= 0) return 1f / (1f + MathF.Exp(-x));
        float e = MathF.Exp(x);
        return e / (1f + e);
    }

    /// <summary>In place, row by row: rows_r *= scale[r].</summary>
    public static void ScaleRows(Span<float> m, int rows, int cols, ReadOnlySpan<float> scale)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = m.Slice(r * cols, cols);
            TensorPrimitives.Multiply(row, scale[r], row);
        }
    }

    /// <summary>sum[j] = Σ_r m[r, j], summed in row order (deterministic).</summary>
    public static void ColumnSums(ReadOnlySpan<float> m, int rows, int cols, Span<float> sum)
    {
        sum.Slice(0, cols).Clear();
        for (int r = 0; r < rows; r++)
            TensorPrimitives.Add(sum.Slice(0, cols), m.Slice(r * cols, cols), sum.Slice(0, cols));
    }

    /// <summary>
    /// One Adam step with PyTorch's arithmetic (torch.optim.Adam, no weight decay, no amsgrad):
    /// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + ε).
    /// <paramref name="scratch"/> must be as long as the parameter.
    /// </summary>
    public static void AdamStep(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, Span<float> scratch,
        float lr, float beta1, float beta2, float eps, int step)
    {
        Debug.Assert(p.Length == g.Length && m.Length == p.Length && v.Length == p.Length && scratch.Length >= p.Length);
        float bc1 = 1f - MathF.Pow(beta1, step);
        float bc2Sqrt = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        float stepSize = lr / bc1;
        var s = scratch.Slice(0, p.Length);
        // m = m·β1 + g·(1−β1)
        TensorPrimitives.Multiply(m, beta1, m);
        TensorPrimitives.MultiplyAdd(g, 1f - beta1, m, m);
        // v = v·β2 + g·g·(1−β2)
        TensorPrimitives.Multiply(v, beta2, v);
        TensorPrimitives.Multiply(g, g, s);
        TensorPrimitives.MultiplyAdd(s, 1f - beta2, v, v);
        // denom = √v / √bc2 + ε ; p = p − stepSize · m / denom
        TensorPrimitives.Sqrt(v, s);
        TensorPrimitives.Divide(s, bc2Sqrt, s);
        TensorPrimitives.Add(s, eps, s);
        TensorPrimitives.Divide(m, s, s);
        TensorPrimitives.MultiplyAdd(s, -stepSize, p, p);
    }

    /// <summary>Scalar reference for <see cref="AdamStep"/>.</summary>
    public static void AdamStepReference(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, int step)
    {
        float bc1 = 1f - MathF.Pow(beta1, step);
        float bc2Sqrt = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        float stepSize = lr / bc1;
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = m[i] * beta1 + g[i] * (1f - beta1);
            v[i] = v[i] * beta2 + g[i] * g[i] * (1f - beta2);
            float denom = MathF.Sqrt(v[i]) / bc2Sqrt + eps;
            p[i] += -stepSize * (m[i] / denom);
        }
    }

    /// <summary>Scalar reference of the FF layer forward pass: h = ReLU(x/(‖x‖+1e-4) · Wᵀ + b), x̂ materialised.</summary>
    public static void FFForwardReference(ReadOnlySpan<float> x, int rows, int inF, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int outF, Span<float> h)
    {
        var xhat = new float[inF];
        for (int r = 0; r < rows; r++)
        {
            double ss = 0;
            for (int k = 0; k < inF; k++) ss += (double)x[r * inF + k] * x[r * inF + k];
            float s = (float)Math.Sqrt(ss) + NormEpsilon;
            for (int k = 0; k < inF; k++) xhat[k] = x[r * inF + k] / s;
            for (int j = 0; j < outF; j++)
            {
                float z = b[j];
                for (int k = 0; k < inF; k++) z += xhat[k] * w[j * inF + k];
                h[r * outF + j] = MathF.Max(z, 0f);
            }
        }
    }
}
