using System.Numerics.Tensors;

namespace FFLib.Analysis;

/// <summary>The four sparsity measures of the paper (§2.5; definitions in docs/reference-values.md).</summary>
public enum SparsityMetric
{
    /// <summary>1 + (1/log₂ n) Σ pᵢ log₂ pᵢ with pᵢ = |xᵢ| / ‖x‖₁.</summary>
    L1NegativeEntropy,

    /// <summary>1 + (1/log₂ n²) Σ qᵢ log₂ qᵢ with qᵢ = xᵢ² / ‖x‖₂² (the reference divides by log₂(n·n)).</summary>
    L2NegativeEntropy,

    /// <summary>(√n − ‖x‖₁/‖x‖₂) / (√n − 1).</summary>
    Hoyer,

    /// <summary>1 − 2 Σᵢ (cᵢ/‖x‖₁)(n − i + ½)/n over |x| sorted ascending (c₁ ≤ … ≤ cₙ).</summary>
    Gini,
}

/// <summary>The four measures of one vector.</summary>
public readonly record struct SparsityValues(double L1NegativeEntropy, double L2NegativeEntropy, double Hoyer, double Gini)
{
    /// <summary>The value of one metric.</summary>
    public double this[SparsityMetric metric] => metric switch
    {
        SparsityMetric.L1NegativeEntropy => L1NegativeEntropy,
        SparsityMetric.L2NegativeEntropy => L2NegativeEntropy,
        SparsityMetric.Hoyer => Hoyer,
        SparsityMetric.Gini => Gini,
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };
}

/// <summary>
/// Sparsity of a vector, on absolute values. Conventions where the formulas are undefined:
/// 0·log 0 = 0 (the reference yields NaN for any exact zero); an all-zero vector has sparsity 0
/// under every metric; a one-element non-zero vector has sparsity 1 (it is one-hot). Note two
/// consequences of the reference's definitions: a constant vector has L2 negative entropy 0.5,
/// not 0 (log₂ n² in the denominator), and a one-hot vector has Gini 1 − 1/n.
/// </summary>
public static class Sparsity
{
    /// <summary>Names used in files and tables: l1_entropy, l2_entropy, hoyer, gini.</summary>
    public static string Id(SparsityMetric metric) => metric switch
    {
        SparsityMetric.L1NegativeEntropy => "l1_entropy",
        SparsityMetric.L2NegativeEntropy => "l2_entropy",
        SparsityMetric.Hoyer => "hoyer",
        SparsityMetric.Gini => "gini",
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };

    /// <summary>All four metrics.</summary>
    public static IReadOnlyList<SparsityMetric> Metrics { get; } =
        [SparsityMetric.L1NegativeEntropy, SparsityMetric.L2NegativeEntropy, SparsityMetric.Hoyer, SparsityMetric.Gini];

    /// <summary>One metric of <paramref name="x"/>.</summary>
    public static double Compute(ReadOnlySpan<float> x, SparsityMetric metric) => metric switch
    {
        SparsityMetric.L1NegativeEntropy => L1NegativeEntropy(x),
        SparsityMetric.L2NegativeEntropy => L2NegativeEntropy(x),
        SparsityMetric.Hoyer => Hoyer(x),
        SparsityMetric.Gini => Gini(x),
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };

    /// <summary>All four metrics of <paramref name="x"/>.</summary>
    public static SparsityValues All(ReadOnlySpan<float> x) => new(L1NegativeEntropy(x), L2NegativeEntropy(x), Hoyer(x), Gini(x));

    /// <summary>Hoyer sparsity.</summary>
    public static double Hoyer(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        double l1 = L1(x), l2 = Math.Sqrt(SumSquares(x));
        if (l2 == 0) return 0;
        if (n == 1) return 1;
        double sq = Math.Sqrt(n);
        return (sq - l1 / l2) / (sq - 1);
    }

    /// <summary>L1-normalised negative entropy.</summary>
    public static double L1NegativeEntropy(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        double l1 = L1(x);
        if (l1 == 0) return 0;
        if (n == 1) return 1;
        return 1 + PLogP(x, l1, squared: false) / Math.Log2(n);
    }

    /// <summary>L2-normalised negative entropy (denominator log₂ n², as the reference).</summary>
    public static double L2NegativeEntropy(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        double ss = SumSquares(x);
        if (ss == 0) return 0;
        if (n == 1) return 1;
        return 1 + PLogP(x, ss, squared: true) / Math.Log2((double)n * n);
    }

    /// <summary>Gini index of |x| (sorts a copy: O(n log n)).</summary>
    public static double Gini(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        double l1 = L1(x);
        if (l1 == 0) return 0;
        var c = new float[n];
        TensorPrimitives.Abs(x, c);
        Array.Sort(c);
        // Σ cᵢ (n − i + ½) with 1-based i, in blocks of floats summed in double.
        double s = 0;
        for (int i = 0; i < n; i++) s += c[i] * (n - (i + 1) + 0.5);
        return 1 - 2 * (s / l1) / n;
    }

    private static double L1(ReadOnlySpan<float> x) => BlockSum(x, TensorPrimitives.SumOfMagnitudes);

    private static double SumSquares(ReadOnlySpan<float> x) => BlockSum(x, TensorPrimitives.SumOfSquares);

    internal delegate float Reduction(ReadOnlySpan<float> block);

    /// <summary>
    /// A SIMD float reduction over blocks of 256, the block results summed in double: fast, and
    /// accurate enough for 4-million-element weight matrices where one float sum would drift.
    /// </summary>
    internal static double BlockSum(ReadOnlySpan<float> x, Reduction reduce)
    {
        double total = 0;
        const int block = 256;
        for (int i = 0; i < x.Length; i += block)
            total += reduce(x.Slice(i, Math.Min(block, x.Length - i)));
        return total;
    }

    /// <summary>Σ p log₂ p with p = |x|/norm or x²/norm, 0·log 0 = 0.</summary>
    private static double PLogP(ReadOnlySpan<float> x, double norm, bool squared)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            double p = (squared ? v * v : Math.Abs(v)) / norm;
            if (p > 0) s += p * Math.Log2(p);
        }
        return s;
    }
}

/// <summary>Min, max, mean and (Bessel-corrected, like torch.std) standard deviation of a tensor — Table 4.</summary>
public readonly record struct TensorStats(double Min, double Max, double Mean, double Std, int Count)
{
    /// <summary>Statistics of <paramref name="x"/>.</summary>
    public static TensorStats Of(ReadOnlySpan<float> x)
    {
        if (x.IsEmpty) return new TensorStats(double.NaN, double.NaN, double.NaN, double.NaN, 0);
        double mean = Sparsity.BlockSum(x, TensorPrimitives.Sum) / x.Length, ss = 0;
        for (int i = 0; i < x.Length; i++) { double d = x[i] - mean; ss += d * d; }
        double std = x.Length > 1 ? Math.Sqrt(ss / (x.Length - 1)) : 0;
        return new TensorStats(TensorPrimitives.Min(x), TensorPrimitives.Max(x), mean, std, x.Length);
    }
}
