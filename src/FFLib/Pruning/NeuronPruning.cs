using FFLib.Analysis;
using FFLib.Compute;
using System.Numerics.Tensors;
using FFLib.Models;

namespace FFLib.Pruning;

/// <summary>How neurons are ranked for structural pruning.</summary>
public enum PruneMethod
{
    /// <summary>The paper's method: one seeded random permutation per hidden layer (§2.6).</summary>
    Random,

    /// <summary>Keep the neurons with the largest summed activation over a sample of positive data (optionally minus negative data).</summary>
    Activation,

    /// <summary>Keep the neurons whose incoming weight rows have the largest L2 norm.</summary>
    WeightNorm,
}

/// <summary>
/// Structural (neuron) pruning for every architecture (the paper's §2.6): for each hidden layer, a ranking
/// of its neurons; pruning to t keeps the first t of each ranking, deletes the other neurons' rows
/// and bias entries and the matching input columns downstream (FFRNN: also the neighbours'
/// backward-weight columns; FFNN+C: the classifier's input columns) — each architecture says
/// which slices a neuron owns (<see cref="INeuronPrunable"/>) and the cutting here is generic. The same t for every hidden
/// layer; input and output layers are never pruned. Because a ranking is fixed, the kept set for
/// a smaller t is a subset of the kept set for a larger one. The result is a smaller model of the
/// same type with fresh optimisers.
/// </summary>
public static class NeuronPruning
{
    /// <summary>Widths of the prunable (hidden) layers of a model.</summary>
    public static int[] HiddenWidths(IClassifierModel model) => Prunable(model).HiddenWidths.ToArray();

    private static INeuronPrunable Prunable(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model as INeuronPrunable ?? throw new ArgumentException($"{model.Architecture.DisplayName} ({model.GetType().Name}) does not say which parameters its neurons own (INeuronPrunable), so it cannot be pruned.", nameof(model));
    }

    /// <summary>The paper's ranking: an independent random permutation of each hidden layer, drawn from <paramref name="random"/>.</summary>
    public static int[][] RandomRanking(IClassifierModel model, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return HiddenWidths(model).Select(n =>
        {
            var p = Enumerable.Range(0, n).ToArray();
            random.Shuffle(p.AsSpan());
            return p;
        }).ToArray();
    }

    /// <summary>
    /// Neurons ordered by decreasing L2 norm of their incoming weights: the rows they own in every
    /// weight matrix (FFRNN: forward ⊕ backward row).
    /// </summary>
    public static int[][] WeightNormRanking(IClassifierModel model)
    {
        var prunable = Prunable(model);
        var byName = model.Parameters().ToDictionary(p => p.Name);
        var widths = prunable.HiddenWidths;
        var result = new int[widths.Count][];
        for (int l = 0; l < widths.Count; l++)
        {
            var squares = new double[widths[l]];
            foreach (var s in prunable.NeuronSlices(l))
            {
                var p = byName[s.Parameter];
                if (s.Axis != 0 || !p.IsMatrix) continue;
                for (int j = 0; j < widths[l]; j++)
                {
                    double n = TensorPrimitives.Norm(p.Data.AsSpan((s.Offset + j) * p.Cols, p.Cols));
                    squares[j] += n * n;
                }
            }
            result[l] = Descending(squares.Select(Math.Sqrt).ToArray());
        }
        return result;
    }

    /// <summary>
    /// Neurons ordered by decreasing summed activation over <paramref name="images"/> fed with their
    /// true labels (positive data); with <paramref name="subtractNegative"/>, minus the summed
    /// activation with a wrong label ((label + 1) mod classes). BPNN: plain hidden activations.
    /// </summary>
    public static int[][] ActivationRanking(IClassifierModel model, Matrix images, ReadOnlySpan<int> labels, bool subtractNegative = false)
    {
        if (model is not IActivationSource source) throw new ArgumentException($"{model.GetType().Name} exposes no activations.", nameof(model));
        var pos = FunctionalMaps.ActivationsWithLabels(source, images, labels, model.Classes);
        var scores = pos.Select(ColumnSums).ToArray();
        if (subtractNegative && source.ActivationsDependOnLabel)
        {
            var wrong = labels.ToArray().Select(l => (l + 1) % model.Classes).ToArray();
            var neg = FunctionalMaps.ActivationsWithLabels(source, images, wrong, model.Classes);
            for (int l = 0; l < scores.Length; l++)
            {
                var n = ColumnSums(neg[l]);
                for (int j = 0; j < n.Length; j++) scores[l][j] -= n[j];
            }
        }
        return scores.Select(Descending).ToArray();
    }

    /// <summary>Keeps the first <paramref name="keep"/> neurons of each layer's ranking (all of them where a layer is narrower).</summary>
    public static IClassifierModel Prune(IClassifierModel model, IReadOnlyList<int[]> ranking, int keep)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ranking);
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), keep, "At least one neuron per layer must be kept.");
        var widths = HiddenWidths(model);
        if (ranking.Count != widths.Length) throw new ArgumentException($"The ranking covers {ranking.Count} layers but the model has {widths.Length} hidden layers.", nameof(ranking));
        var kept = new int[widths.Length][];
        for (int l = 0; l < widths.Length; l++)
        {
            if (ranking[l].Length != widths[l] || ranking[l].Distinct().Count() != widths[l] || ranking[l].Any(i => (uint)i >= (uint)widths[l]))
                throw new ArgumentException($"The ranking of layer {l + 1} is not a permutation of its {widths[l]} neurons.", nameof(ranking));
            // Kept neurons stay in their original order: the function does not depend on it, and files diff cleanly.
            kept[l] = ranking[l].Take(Math.Min(keep, widths[l])).OrderBy(i => i).ToArray();
        }
        return Cut((INeuronPrunable)model, kept);
    }

    /// <summary>
    /// The ranking of the neurons <see cref="Prune"/> kept, in the pruned model's numbering (kept neurons
    /// keep their original order): pruning again with it continues down the same ranking, so
    /// pruning in several rounds removes the same neurons as one-shot pruning to the last count.
    /// </summary>
    public static int[][] RankingAfter(IReadOnlyList<int[]> ranking, int keep)
    {
        ArgumentNullException.ThrowIfNull(ranking);
        return ranking.Select(layer =>
        {
            var kept = layer.Take(Math.Min(keep, layer.Length)).ToArray();
            var sorted = kept.Order().ToArray();
            return kept.Select(i => Array.BinarySearch(sorted, i)).ToArray();
        }).ToArray();
    }

    /// <summary>Number of parameters (weights and biases) of a model.</summary>
    public static long ParameterCount(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Parameters().Sum(p => (long)p.Data.Length);
    }

    /// <summary>
    /// The smaller model: built by the architecture from the config with the kept widths, each of
    /// its parameters the original's sub-tensor over the kept indices of every axis that some
    /// hidden layer's neurons index (the others kept whole).
    /// </summary>
    private static IClassifierModel Cut(INeuronPrunable model, int[][] kept)
    {
        var source = model.Parameters();
        var keepMask = source.ToDictionary(p => p.Name, p => p.Shape.Select(n => Enumerable.Repeat(true, n).ToArray()).ToArray());
        for (int l = 0; l < kept.Length; l++)
        {
            var set = new HashSet<int>(kept[l]);
            foreach (var s in model.NeuronSlices(l))
            {
                if (!keepMask.TryGetValue(s.Parameter, out var masks) || s.Axis < 0 || s.Axis >= masks.Length)
                    throw new InvalidOperationException($"{model.Architecture.Id}: neuron slice {s.Parameter} axis {s.Axis} names no parameter axis of the model.");
                var mask = masks[s.Axis];
                if (s.Offset < 0 || s.Offset + model.HiddenWidths[l] > mask.Length)
                    throw new InvalidOperationException($"{model.Architecture.Id}: neuron slice {s.Parameter} axis {s.Axis} offset {s.Offset} + {model.HiddenWidths[l]} neurons exceeds its length {mask.Length}.");
                for (int j = 0; j < model.HiddenWidths[l]; j++) mask[s.Offset + j] = set.Contains(j);
            }
        }
        var pruned = model.Architecture.FromConfig(model.ConfigWithKeptNeurons(kept));
        var target = pruned.Parameters().ToDictionary(p => p.Name);
        foreach (var p in source)
        {
            var idx = keepMask[p.Name].Select(m => Enumerable.Range(0, m.Length).Where(i => m[i]).ToArray()).ToArray();
            if (!target.TryGetValue(p.Name, out var t) || !t.Shape.SequenceEqual(idx.Select(i => i.Length)))
                throw new InvalidOperationException($"{model.Architecture.Id}: the pruned model's {p.Name} is {(t is null ? "missing" : t.ShapeText)}, the cut gives [{string.Join(", ", idx.Select(i => i.Length))}].");
            if (idx.Length == 2)
            {
                int cols = p.Cols, k = idx[1].Length;
                for (int r = 0; r < idx[0].Length; r++)
                {
                    var src = p.Data.AsSpan(idx[0][r] * cols, cols);
                    var dst = t.Data.AsSpan(r * k, k);
                    for (int c = 0; c < k; c++) dst[c] = src[idx[1][c]];
                }
            }
            else if (idx.Length == 1)
                for (int i = 0; i < idx[0].Length; i++) t.Data[i] = p.Data[idx[0][i]];
            else CopyKept(p.Data, p.Shape, idx, t.Data);
        }
        return pruned;
    }

    /// <summary>Copies the kept entries of a tensor of any rank (a convolution kernel [out, K, K, in]): every index combination of <paramref name="kept"/>, row-major.</summary>
    private static void CopyKept(float[] source, int[] shape, int[][] kept, float[] target)
    {
        var strides = new int[shape.Length];
        strides[^1] = 1;
        for (int a = shape.Length - 2; a >= 0; a--) strides[a] = strides[a + 1] * shape[a + 1];
        var at = new int[shape.Length];
        for (int o = 0; o < target.Length; o++)
        {
            int src = 0;
            for (int a = 0; a < shape.Length; a++) src += kept[a][at[a]] * strides[a];
            target[o] = source[src];
            for (int a = shape.Length - 1; a >= 0 && ++at[a] == kept[a].Length; a--) at[a] = 0;
        }
    }

    private static double[] ColumnSums(Matrix m)
    {
        var s = new double[m.Cols];
        for (int r = 0; r < m.Rows; r++)
        {
            var row = m.Row(r);
            for (int j = 0; j < s.Length; j++) s[j] += row[j];
        }
        return s;
    }

    /// <summary>Indices by decreasing score; ties by index (stable, deterministic).</summary>
    private static int[] Descending(double[] score) =>
        Enumerable.Range(0, score.Length).OrderByDescending(i => score[i]).ThenBy(i => i).ToArray();
}
