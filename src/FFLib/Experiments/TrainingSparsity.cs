using FFLib.Analysis;

namespace FFLib.Experiments;

/// <summary>One curve of Figures 15–18: a weight matrix's sparsity over training, mean and std over the runs (seeds) at each sample.</summary>
/// <param name="Label">"ffnn layer 1", "bpnn output", …</param>
/// <param name="Progress">Training progress in epochs at each sample.</param>
/// <param name="Mean">The four measures' means over runs at each sample.</param>
/// <param name="Std">Their sample standard deviations (0 with one run).</param>
/// <param name="Runs">How many runs the curve pools.</param>
public sealed record SparsityBand(string Label, double[] Progress, SparsityValues[] Mean, SparsityValues[] Std, int Runs);

/// <summary>Figures 15–18 from a results folder's tracked runs: per dataset, one band per architecture and weight matrix.</summary>
public static class TrainingSparsity
{
    /// <summary>
    /// Per dataset (in the paper's order: MNIST, FashionMNIST, CIFAR-10, then others), the bands of every architecture's weight matrices (the FFRNN's forward and backward ones too),
    /// pooling the runs at hidden width <paramref name="width"/> that tracked sparsity (other widths belong to Figures 9–12).
    /// A sample step that only some runs reached is averaged over those.
    /// </summary>
    public static IReadOnlyList<(string Dataset, IReadOnlyList<SparsityBand> Bands)> PerLayer(IReadOnlyList<RunRecord> records, int width)
    {
        ArgumentNullException.ThrowIfNull(records);
        var result = new List<(string, IReadOnlyList<SparsityBand>)>();
        var tracked = records.Where(r => r.Status == "completed" && r.SparsityOverTraining is { Count: > 0 } && r.Layers.Length > 0 && r.Layers.Max() == width);
        foreach (var d in tracked.GroupBy(r => r.Dataset).OrderBy(g => g.Key switch { "mnist" => 0, "fashion-mnist" => 1, "cifar10" => 2, _ => 3 }).ThenBy(g => g.Key, StringComparer.Ordinal))
        {
            var bands = new List<SparsityBand>();
            foreach (var a in d.GroupBy(r => (r.Architecture, r.Loss)).OrderBy(g => g.Key.Architecture == "bpnn" ? 0 : 1).ThenBy(g => g.Key.Architecture, StringComparer.Ordinal))
            {
                var runs = a.ToArray();
                var matrices = runs[0].SparsityOverTraining!.Select(s => (s.Layer, s.Parameter)).Distinct().ToArray();
                foreach (var (layer, parameter) in matrices)
                {
                    var steps = runs.SelectMany(r => r.SparsityOverTraining!.Where(s => s.Layer == layer && s.Parameter == parameter))
                        .GroupBy(s => s.Step).OrderBy(g => g.Key).ToArray();
                    var mean = new SparsityValues[steps.Length];
                    var std = new SparsityValues[steps.Length];
                    for (int i = 0; i < steps.Length; i++)
                    {
                        var v = steps[i].Select(s => s.Sparsity).ToArray();
                        mean[i] = new SparsityValues(v.Average(x => x.L1NegativeEntropy), v.Average(x => x.L2NegativeEntropy), v.Average(x => x.Hoyer), v.Average(x => x.Gini));
                        std[i] = new SparsityValues(SampleStatistics.Std(v.Select(x => x.L1NegativeEntropy)), SampleStatistics.Std(v.Select(x => x.L2NegativeEntropy)), SampleStatistics.Std(v.Select(x => x.Hoyer)), SampleStatistics.Std(v.Select(x => x.Gini)));
                    }
                    string label = parameter == "weight" ? $"{a.Key.Architecture} {layer}" : $"{a.Key.Architecture} {layer} {parameter}";
                    bands.Add(new SparsityBand(label, steps.Select(s => s.First().Progress).ToArray(), mean, std, runs.Length));
                }
            }
            result.Add((d.Key, bands));
        }
        return result;
    }

}
