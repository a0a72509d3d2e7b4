using FFLib.Analysis;

namespace FFLib.Experiments;

/// <summary>A value the paper gives as mean ± standard deviation over its runs.</summary>
public readonly record struct PaperBand(double Mean, double Std)
{
    /// <summary>Whether <paramref name="value"/> lies within one standard deviation of the paper's mean (a std printed as 0.000 counts as half the last digit).</summary>
    public bool Contains(double value, double resolution = 0) => Math.Abs(value - Mean) <= Math.Max(Std, resolution / 2) + 1e-12;
}

/// <summary>One row of the paper's Table 4: statistics of a weight matrix after training on MNIST.</summary>
public readonly record struct PaperWeightStats(double Min, double Max, double Mean, double Std);

/// <summary>
/// The numbers printed in the paper's Tables 2–5 (Nikov, Strnad, Podgorelec, Mathematics 2025),
/// keyed by our architecture and dataset ids, so reports can put them beside ours. Network names:
/// "bpnn", "ffnn" (two hidden layers; the paper's FFNN2), "ffnn3" (three), "ffc", "ffrnn".
/// Loss: "min" is the paper's L−, "max" its L+, "ce" cross-entropy.
/// </summary>
public static class PaperValues
{
    /// <summary>The paper's name of a network key ("ffnn" → "FFNN", "ffc" → "FFNN+C").</summary>
    public static string DisplayName(string network) => network switch
    {
        "bpnn" => "BPNN", "ffnn" => "FFNN", "ffnn3" => "FFNN3", "ffc" => "FFNN+C", "ffrnn" => "FFRNN", _ => network,
    };

    private static readonly Dictionary<(string, string), PaperBand> Accuracy = new()
    {
        [("bpnn", "mnist")] = new(98.31, 0.08), [("bpnn", "fashion-mnist")] = new(89.77, 0.27), [("bpnn", "cifar10")] = new(56.05, 1.11),
        [("ffnn", "mnist")] = new(98.18, 0.08), [("ffnn", "fashion-mnist")] = new(87.84, 0.10), [("ffnn", "cifar10")] = new(51.80, 0.52),
        [("ffc", "mnist")] = new(97.95, 0.10), [("ffc", "fashion-mnist")] = new(87.09, 0.32), [("ffc", "cifar10")] = new(50.81, 0.47),
        [("ffrnn", "mnist")] = new(98.28, 0.10), [("ffrnn", "fashion-mnist")] = new(88.69, 0.19), [("ffrnn", "cifar10")] = new(43.83, 0.77),
    };

    /// <summary>Table 2: test accuracy (%) over 10 training runs at the Table 1 settings; null where the paper has no cell.</summary>
    public static PaperBand? TestAccuracy(string network, string dataset) =>
        Accuracy.TryGetValue((network, dataset), out var b) ? b : null;

    // Table 3, per metric: BPNN layers 1–3 (3 = output) and FFNN layers 1–2, for MNIST, FashionMNIST, CIFAR-10.
    private static readonly Dictionary<(SparsityMetric, string, int), PaperBand[]> Sparsity = new()
    {
        [(SparsityMetric.Hoyer, "bpnn", 1)] = [new(0.182, 0.001), new(0.202, 0.000), new(0.238, 0.001)],
        [(SparsityMetric.Hoyer, "bpnn", 2)] = [new(0.221, 0.001), new(0.251, 0.001), new(0.278, 0.002)],
        [(SparsityMetric.Hoyer, "bpnn", 3)] = [new(0.185, 0.002), new(0.263, 0.003), new(0.253, 0.003)],
        [(SparsityMetric.Hoyer, "ffnn", 1)] = [new(0.494, 0.001), new(0.547, 0.002), new(0.697, 0.003)],
        [(SparsityMetric.Hoyer, "ffnn", 2)] = [new(0.442, 0.004), new(0.464, 0.003), new(0.559, 0.012)],
        [(SparsityMetric.L1NegativeEntropy, "bpnn", 1)] = [new(0.017, 0.000), new(0.019, 0.000), new(0.020, 0.000)],
        [(SparsityMetric.L1NegativeEntropy, "bpnn", 2)] = [new(0.019, 0.000), new(0.023, 0.000), new(0.025, 0.000)],
        [(SparsityMetric.L1NegativeEntropy, "bpnn", 3)] = [new(0.025, 0.000), new(0.037, 0.001), new(0.036, 0.001)],
        [(SparsityMetric.L1NegativeEntropy, "ffnn", 1)] = [new(0.046, 0.000), new(0.046, 0.000), new(0.053, 0.001)],
        [(SparsityMetric.L1NegativeEntropy, "ffnn", 2)] = [new(0.055, 0.001), new(0.059, 0.001), new(0.080, 0.002)],
        [(SparsityMetric.L2NegativeEntropy, "bpnn", 1)] = [new(0.523, 0.000), new(0.526, 0.000), new(0.529, 0.000)],
        [(SparsityMetric.L2NegativeEntropy, "bpnn", 2)] = [new(0.527, 0.000), new(0.532, 0.000), new(0.537, 0.000)],
        [(SparsityMetric.L2NegativeEntropy, "bpnn", 3)] = [new(0.533, 0.000), new(0.551, 0.001), new(0.547, 0.001)],
        [(SparsityMetric.L2NegativeEntropy, "ffnn", 1)] = [new(0.600, 0.000), new(0.626, 0.000), new(0.682, 0.001)],
        [(SparsityMetric.L2NegativeEntropy, "ffnn", 2)] = [new(0.555, 0.001), new(0.560, 0.001), new(0.577, 0.003)],
        [(SparsityMetric.Gini, "bpnn", 1)] = [new(0.387, 0.001), new(0.404, 0.000), new(0.440, 0.001)],
        [(SparsityMetric.Gini, "bpnn", 2)] = [new(0.425, 0.001), new(0.451, 0.001), new(0.473, 0.001)],
        [(SparsityMetric.Gini, "bpnn", 3)] = [new(0.390, 0.002), new(0.468, 0.003), new(0.467, 0.004)],
        [(SparsityMetric.Gini, "ffnn", 1)] = [new(0.578, 0.001), new(0.558, 0.002), new(0.603, 0.005)],
        [(SparsityMetric.Gini, "ffnn", 2)] = [new(0.677, 0.003), new(0.693, 0.004), new(0.775, 0.008)],
    };

    /// <summary>Table 3's values are printed to three decimals: the resolution to compare within.</summary>
    public const double SparsityResolution = 0.001;

    /// <summary>Table 3: weight sparsity of layer <paramref name="layer"/> (1-based; the BPNN's 3 is its output layer) over 10 runs; null where the paper has no cell.</summary>
    public static PaperBand? WeightSparsity(SparsityMetric metric, string network, string dataset, int layer)
    {
        int d = dataset switch { "mnist" => 0, "fashion-mnist" => 1, "cifar10" => 2, _ => -1 };
        return d >= 0 && Sparsity.TryGetValue((metric, network, layer), out var row) ? row[d] : null;
    }

    private static readonly Dictionary<(string, string, int), PaperWeightStats> Weights = new()
    {
        [("bpnn", "ce", 1)] = new(-0.14, 0.10, -0.0005, 0.0249),
        [("bpnn", "ce", 2)] = new(-0.12, 0.13, 0.0026, 0.0207),
        [("bpnn", "ce", 3)] = new(-0.13, 0.10, -0.0059, 0.0352),
        [("ffnn", "max", 1)] = new(-176.08, 103.74, -0.97, 8.06),
        [("ffnn", "max", 2)] = new(-62.85, 20.29, -0.77, 4.14),
        [("ffnn", "min", 1)] = new(-215.04, 91.84, -0.49, 7.21),
        [("ffnn", "min", 2)] = new(-41.44, 15.28, -0.44, 3.11),
        [("ffnn3", "max", 1)] = new(-176.18, 106.26, -0.97, 8.06),
        [("ffnn3", "max", 2)] = new(-64.33, 19.11, -0.75, 4.15),
        [("ffnn3", "max", 3)] = new(-79.26, 23.53, -0.49, 3.68),
        [("ffnn3", "min", 1)] = new(-218.23, 92.61, -0.49, 7.20),
        [("ffnn3", "min", 2)] = new(-40.78, 16.68, -0.43, 3.11),
        [("ffnn3", "min", 3)] = new(-43.37, 19.47, -0.12, 2.50),
        [("ffc", "max", 1)] = new(-122.65, 77.63, -0.61, 5.10),
        [("ffc", "max", 2)] = new(-44.54, 15.38, -0.37, 2.33),
        [("ffc", "min", 1)] = new(-113.77, 73.05, -0.26, 4.65),
        [("ffc", "min", 2)] = new(-20.74, 12.11, -0.22, 1.75),
        [("ffrnn", "max", 1)] = new(-201.94, 93.29, -1.37, 10.34),
        [("ffrnn", "max", 2)] = new(-149.80, 69.57, 1.98, 10.01),
        [("ffrnn", "min", 1)] = new(-169.16, 73.14, -1.31, 8.18),
        [("ffrnn", "min", 2)] = new(-109.88, 61.73, 2.08, 7.84),
    };

    /// <summary>
    /// Table 4: min, max, mean and std of layer <paramref name="layer"/>'s weight matrix on MNIST (the FFRNN's forward
    /// matrix; the authors' plot_stats.py averages each statistic over their runs); null where the paper has no row.
    /// </summary>
    public static PaperWeightStats? WeightStatistics(string network, string loss, int layer) =>
        Weights.TryGetValue((network, loss, layer), out var s) ? s : null;

    private static readonly Dictionary<string, (PaperBand Max, PaperBand Min, double BestMax, double BestMin, double P)> Losses = new()
    {
        ["ffnn"] = (new(98.15, 0.10), new(98.18, 0.08), 98.33, 98.36, 4.92e-1),
        ["ffc"] = (new(97.96, 0.14), new(97.95, 0.10), 98.17, 98.13, 8.60e-1),
        ["ffrnn"] = (new(97.80, 0.12), new(98.28, 0.10), 97.94, 98.44, 1.34e-7),
        ["ffnn3"] = (new(98.01, 0.09), new(98.22, 0.08), 98.16, 98.33, 1.86e-5),
    };

    /// <summary>Table 5 (MNIST): accuracy with L+ ("max") and L− ("min"), the best run of each, and the t-test's p-value; null for a network the table lacks.</summary>
    public static (PaperBand Max, PaperBand Min, double BestMax, double BestMin, double P)? LossComparison(string network) =>
        Losses.TryGetValue(network, out var v) ? v : null;
}
