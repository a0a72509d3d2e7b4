namespace FFLib.Experiments;

/// <summary>Sample statistics the reports share.</summary>
internal static class SampleStatistics
{
    /// <summary>The sample standard deviation (n − 1); 0 for fewer than two values.</summary>
    public static double Std(IEnumerable<double> values)
    {
        var v = values as double[] ?? values.ToArray();
        if (v.Length < 2) return 0;
        double m = v.Average();
        return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1));
    }
}
