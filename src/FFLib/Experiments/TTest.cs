using MathNet.Numerics.Distributions;

namespace FFLib.Experiments;

/// <summary>Result of an independent two-sample t-test.</summary>
/// <param name="T">The t statistic (mean(a) − mean(b) over its standard error).</param>
/// <param name="DegreesOfFreedom">Degrees of freedom (Welch: Welch–Satterthwaite, fractional).</param>
/// <param name="PValue">Two-sided p-value.</param>
public readonly record struct TTestResult(double T, double DegreesOfFreedom, double PValue);

/// <summary>Independent two-sample t-tests (Table 5): Student's (pooled variance) and Welch's (unequal variances).</summary>
public static class TTest
{
    /// <summary>Student's t-test, assuming equal variances.</summary>
    public static TTestResult Student(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        Check(a, b);
        double ma = a.Average(), mb = b.Average();
        double va = Var(a, ma), vb = Var(b, mb);
        int df = a.Count + b.Count - 2;
        double pooled = ((a.Count - 1) * va + (b.Count - 1) * vb) / df;
        double se = Math.Sqrt(pooled * (1.0 / a.Count + 1.0 / b.Count));
        return Result(ma - mb, se, df);
    }

    /// <summary>Welch's t-test, not assuming equal variances.</summary>
    public static TTestResult Welch(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        Check(a, b);
        double ma = a.Average(), mb = b.Average();
        double sa = Var(a, ma) / a.Count, sb = Var(b, mb) / b.Count;
        double se = Math.Sqrt(sa + sb);
        double df = (sa + sb) * (sa + sb) / (sa * sa / (a.Count - 1) + sb * sb / (b.Count - 1));
        return Result(ma - mb, se, df);
    }

    private static TTestResult Result(double diff, double se, double df)
    {
        if (se == 0) return new TTestResult(diff == 0 ? 0 : double.PositiveInfinity * Math.Sign(diff), df, diff == 0 ? 1 : 0);
        double t = diff / se;
        return new TTestResult(t, df, TwoSidedP(t, df));
    }

    /// <summary>Two-sided p-value of a t statistic with <paramref name="df"/> degrees of freedom.</summary>
    public static double TwoSidedP(double t, double df) => Math.Min(1, 2 * StudentT.CDF(0, 1, df, -Math.Abs(t)));

    private static double Var(IReadOnlyList<double> x, double mean) => x.Sum(v => (v - mean) * (v - mean)) / (x.Count - 1);

    private static void Check(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count < 2 || b.Count < 2) throw new ArgumentException($"A t-test needs at least 2 values per sample (got {a.Count} and {b.Count}).");
    }
}
