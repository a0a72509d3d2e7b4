using FFLib.Analysis;
using FFLib.Compute;
using FFLib.Layers;
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
/// Structural (neuron) pruning for every architecture (SPEC §5): for each hidden layer, a ranking
/// of its neurons; pruning to t keeps the first t of each ranking, deletes the other neurons' rows
/// and bias entries and the matching input columns downstream (FFRNN: also the neighbours'
/// backward-weight columns; FFNN+C: the classifier's input columns). The same t for every hidden
/// layer; input and output layers are never pruned. Because a ranking is fixed, the kept set for
/// a smaller t is a subset of the kept set for a larger one. The result is a smaller model of the
/// same type with fresh optimisers.
/// </summary>
public static class NeuronPruning
{
    /// <summary>Widths of the prunable (hidden) layers of a model.</summary>
    public static int[] HiddenWidths(IClassifierModel model) => model switch
    {
        FFNetwork f => f.Layers.Select(l => l.OutFeatures).ToArray(),
        FFClassifierNetwork c => c.Stack.Layers.Select(l => l.OutFeatures).ToArray(),
        FFRecurrentNetwork r => r.Layers.Select(l => l.Width).ToArray(),
        BackpropNetwork b => b.Layers.Take(b.Layers.Count - 1).Select(l => l.OutFeatures).ToArray(),
        _ => throw new ArgumentException($"{model.GetType().Name} cannot be pruned.", nameof(model)),
    };

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

    /// <summary>Neurons ordered by decreasing L2 norm of their incoming weights (FFRNN: forward ⊕ backward row).</summary>
    public static int[][] WeightNormRanking(IClassifierModel model)
    {
        IEnumerable<double[]> norms = model switch
        {
            FFNetwork f => f.Layers.Select(l => RowNorms(l.Weight)),
            FFClassifierNetwork c => c.Stack.Layers.Select(l => RowNorms(l.Weight)),
            FFRecurrentNetwork r => r.Layers.Select(l => RowNorms(l.ForwardWeight).Zip(RowNorms(l.BackwardWeight), (a, b) => Math.Sqrt(a * a + b * b)).ToArray()),
            BackpropNetwork b => b.Layers.Take(b.Layers.Count - 1).Select(l => RowNorms(l.Weight)),
            _ => throw new ArgumentException($"{model.GetType().Name} cannot be pruned.", nameof(model)),
        };
        return norms.Select(Descending).ToArray();
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
        if (subtractNegative && model.Architecture != Architecture.Bpnn)
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
        return model switch
        {
            FFNetwork f => PruneFfnn(f, kept),
            FFClassifierNetwork c => PruneFfc(c, kept),
            FFRecurrentNetwork r => PruneFfrnn(r, kept),
            BackpropNetwork b => PruneBpnn(b, kept),
            _ => throw new ArgumentException($"{model.GetType().Name} cannot be pruned.", nameof(model)),
        };
    }

    /// <summary>Number of parameters (weights and biases) of a model.</summary>
    public static long ParameterCount(IClassifierModel model) => ModelAnalysis.Parameters(model)
        .Where(p => p.Parameter != "forward+bias").Sum(p => (long)p.Values.Length);

    private static FFNetwork PruneFfnn(FFNetwork f, int[][] kept)
    {
        var layers = new List<FFDenseLayer>();
        int[]? prev = null;
        for (int l = 0; l < f.Layers.Count; l++)
        {
            var layer = f.Layers[l];
            var cols = prev ?? Enumerable.Range(0, layer.InFeatures).ToArray();
            layers.Add(new FFDenseLayer(Select(layer.Weight, kept[l], cols), kept[l].Select(i => layer.Bias[i]).ToArray()));
            prev = kept[l];
        }
        return new FFNetwork(f.Config with { HiddenSizes = kept.Select(k => k.Length).ToArray() }, layers);
    }

    private static FFClassifierNetwork PruneFfc(FFClassifierNetwork c, int[][] kept)
    {
        var stack = PruneFfnn(c.Stack, kept);
        // The classifier's inputs are the concatenated layer outputs: keep the kept neurons' columns at each layer's offset.
        var cols = new List<int>();
        int offset = 0;
        for (int l = 0; l < kept.Length; l++)
        {
            cols.AddRange(kept[l].Select(i => offset + i));
            offset += c.Stack.Layers[l].OutFeatures;
        }
        var rows = Enumerable.Range(0, c.Classifier.OutFeatures).ToArray();
        return new FFClassifierNetwork(stack, new DenseLayer(Select(c.Classifier.Weight, rows, cols.ToArray()), (float[])c.Classifier.Bias.Clone()), c.ClassifierLearningRate);
    }

    private static FFRecurrentNetwork PruneFfrnn(FFRecurrentNetwork r, int[][] kept)
    {
        int k = r.Layers.Count;
        var layers = new List<(Matrix, Matrix, float[])>();
        for (int i = 0; i < k; i++)
        {
            var layer = r.Layers[i];
            var below = i == 0 ? Enumerable.Range(0, layer.ForwardWeight.Cols).ToArray() : kept[i - 1];
            var above = i == k - 1 ? Enumerable.Range(0, layer.BackwardWeight.Cols).ToArray() : kept[i + 1];
            layers.Add((Select(layer.ForwardWeight, kept[i], below), Select(layer.BackwardWeight, kept[i], above), kept[i].Select(j => layer.Bias[j]).ToArray()));
        }
        return new FFRecurrentNetwork(r.Config with { HiddenSizes = kept.Select(x => x.Length).ToArray() }, layers);
    }

    private static BackpropNetwork PruneBpnn(BackpropNetwork b, int[][] kept)
    {
        var layers = new List<DenseLayer>();
        int[]? prev = null;
        for (int l = 0; l < b.Layers.Count; l++)
        {
            var layer = b.Layers[l];
            var rows = l < kept.Length ? kept[l] : Enumerable.Range(0, layer.OutFeatures).ToArray();
            var cols = prev ?? Enumerable.Range(0, layer.InFeatures).ToArray();
            layers.Add(new DenseLayer(Select(layer.Weight, rows, cols), rows.Select(i => layer.Bias[i]).ToArray()));
            prev = rows;
        }
        return new BackpropNetwork(b.Config with { HiddenSizes = kept.Select(x => x.Length).ToArray() }, layers);
    }

    /// <summary>The sub-matrix of the given rows and columns.</summary>
    private static Matrix Select(Matrix m, int[] rows, int[] cols)
    {
        var result = new Matrix(rows.Length, cols.Length);
        for (int r = 0; r < rows.Length; r++)
        {
            var src = m.Row(rows[r]);
            var dst = result.Row(r);
            for (int c = 0; c < cols.Length; c++) dst[c] = src[cols[c]];
        }
        return result;
    }

    private static double[] RowNorms(Matrix m) =>
        Enumerable.Range(0, m.Rows).Select(r => (double)System.Numerics.Tensors.TensorPrimitives.Norm(m.Row(r))).ToArray();

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
