using FFLib.Compute;
using FFLib.Models;

namespace FFLib.Analysis;

/// <summary>Per-neuron colour of the HSV functional-sparsity map (Figure 14).</summary>
/// <param name="Class">The class the neuron responds to most (its hue: Class / classes × 360°).</param>
/// <param name="Hue">Hue in degrees [0, 360).</param>
/// <param name="Saturation">That class's share of the neuron's summed mean response, in [1/classes, 1] (0 for a silent neuron).</param>
/// <param name="Value">That mean response, min–max normalised over the layer's neurons.</param>
public readonly record struct NeuronColour(int Class, double Hue, double Saturation, double Value);

/// <summary>The HSV map of one layer.</summary>
public sealed record LayerHsvMap(string Layer, IReadOnlyList<NeuronColour> Neurons);

/// <summary>Activation maps (Figure 13) and HSV functional-sparsity maps (Figure 14), as numbers.</summary>
public static class FunctionalMaps
{
    /// <summary>
    /// The HSV map of one layer from its activations over a batch (rows) and each row's class:
    /// per neuron, the mean activation per class m[c]; hue from argmax_c m[c], saturation
    /// m[c*]/Σ_c m[c], value m[c*] min–max normalised across the layer.
    /// </summary>
    public static LayerHsvMap Hsv(string layer, Matrix activations, ReadOnlySpan<int> classes, int classCount)
    {
        ArgumentNullException.ThrowIfNull(activations);
        if (classes.Length != activations.Rows) throw new ArgumentException($"classes has {classes.Length} entries but activations has {activations.Rows} rows.", nameof(classes));
        if (classCount < 1) throw new ArgumentOutOfRangeException(nameof(classCount));
        int w = activations.Cols;
        var sums = new double[classCount, w];
        var counts = new int[classCount];
        for (int r = 0; r < activations.Rows; r++)
        {
            int c = classes[r];
            if ((uint)c >= (uint)classCount) throw new ArgumentOutOfRangeException(nameof(classes), c, $"class {c} of row {r} is outside [0, {classCount}).");
            counts[c]++;
            var row = activations.Row(r);
            for (int j = 0; j < w; j++) sums[c, j] += row[j];
        }
        var best = new int[w];
        var bestMean = new double[w];
        var saturation = new double[w];
        for (int j = 0; j < w; j++)
        {
            double total = 0, max = double.NegativeInfinity;
            for (int c = 0; c < classCount; c++)
            {
                if (counts[c] == 0) continue;
                double m = sums[c, j] / counts[c];
                total += m;
                if (m > max) { max = m; best[j] = c; }
            }
            bestMean[j] = double.IsFinite(max) ? max : 0;
            saturation[j] = total > 0 ? Math.Clamp(bestMean[j] / total, 0, 1) : 0;
        }
        double lo = bestMean.Length > 0 ? bestMean.Min() : 0, hi = bestMean.Length > 0 ? bestMean.Max() : 0;
        var neurons = new NeuronColour[w];
        for (int j = 0; j < w; j++)
            neurons[j] = new NeuronColour(best[j], 360.0 * best[j] / classCount, saturation[j], hi > lo ? (bestMean[j] - lo) / (hi - lo) : 0);
        return new LayerHsvMap(layer, neurons);
    }

    /// <summary>HSV maps of every hidden layer of <paramref name="model"/> over a batch fed with each image's true label.</summary>
    public static IReadOnlyList<LayerHsvMap> Hsv(IActivationSource model, Matrix images, ReadOnlySpan<int> labels, int classCount)
    {
        var layers = ActivationsWithLabels(model, images, labels, classCount);
        var labelsArr = labels.ToArray();
        return layers.Select((a, l) => Hsv($"layer {l + 1}", a, labelsArr, classCount)).ToArray();
    }

    /// <summary>
    /// Figure 14 as the authors drew it (ff-research, utils.plot_activations_hsv with the loaders' --save-activations-hsv):
    /// every image fed with an all-zero control vector (no label), per neuron the sum of |activation| over the images of
    /// each class a[c]; hue from c* = argmax a[c], placed at c*/(K−1) of the circle (their np.linspace(0, 1, K): the first
    /// and the last class are both red); saturation |a[c*]| / |Σ a|; value (a[c*] − min) / (max − min) over all classes ×
    /// neurons of the layer. Sums, not means: a class with more images weighs more, as in theirs.
    /// </summary>
    public static IReadOnlyList<LayerHsvMap> HsvAuthors(IActivationSource model, Matrix images, ReadOnlySpan<int> labels, int classCount)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (labels.Length != images.Rows) throw new ArgumentException($"labels has {labels.Length} entries but images has {images.Rows} rows.", nameof(labels));
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "The authors' hue scale needs at least 2 classes.");
        var layers = model.LayerActivations(images, null);
        var maps = new LayerHsvMap[layers.Length];
        for (int l = 0; l < layers.Length; l++)
        {
            var acts = layers[l];
            int w = acts.Cols;
            var sums = new double[classCount, w];
            for (int r = 0; r < acts.Rows; r++)
            {
                int c = labels[r];
                if ((uint)c >= (uint)classCount) throw new ArgumentOutOfRangeException(nameof(labels), c, $"label {c} of row {r} is outside [0, {classCount}).");
                var row = acts.Row(r);
                for (int j = 0; j < w; j++) sums[c, j] += Math.Abs(row[j]);
            }
            double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
            foreach (double v in sums) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
            double range = hi != lo ? hi - lo : 1;
            var neurons = new NeuronColour[w];
            for (int j = 0; j < w; j++)
            {
                int best = 0;
                double total = 0;
                for (int c = 0; c < classCount; c++)
                {
                    total += sums[c, j];
                    if (sums[c, j] > sums[best, j]) best = c;
                }
                double raw = sums[best, j];
                neurons[j] = new NeuronColour(best, 360.0 * best / (classCount - 1) % 360.0, Math.Abs(raw) / (Math.Abs(total) + 1e-5), Math.Clamp((raw - lo) / range, 0, 1));
            }
            maps[l] = new LayerHsvMap($"layer {l + 1}", neurons);
        }
        return maps;
    }

    /// <summary>
    /// Every hidden layer's activations with each image fed its own control label (rows aligned
    /// with <paramref name="images"/>); one pass per distinct label.
    /// </summary>
    public static Matrix[] ActivationsWithLabels(IActivationSource model, Matrix images, ReadOnlySpan<int> labels, int classCount)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (labels.Length != images.Rows) throw new ArgumentException($"labels has {labels.Length} entries but images has {images.Rows} rows.", nameof(labels));
        var rowsOf = new List<int>[classCount];
        for (int c = 0; c < classCount; c++) rowsOf[c] = [];
        for (int r = 0; r < labels.Length; r++)
        {
            if ((uint)labels[r] >= (uint)classCount) throw new ArgumentOutOfRangeException(nameof(labels), labels[r], $"label {labels[r]} of row {r} is outside [0, {classCount}).");
            rowsOf[labels[r]].Add(r);
        }
        Matrix[]? layers = null;
        for (int c = 0; c < classCount; c++)
        {
            if (rowsOf[c].Count == 0) continue;
            var sub = new Matrix(rowsOf[c].Count, images.Cols);
            for (int k = 0; k < rowsOf[c].Count; k++) images.Row(rowsOf[c][k]).CopyTo(sub.Row(k));
            var acts = model.LayerActivations(sub, c);
            layers ??= acts.Select(a => new Matrix(images.Rows, a.Cols)).ToArray();
            for (int l = 0; l < acts.Length; l++)
                for (int k = 0; k < rowsOf[c].Count; k++) acts[l].Row(k).CopyTo(layers[l].Row(rowsOf[c][k]));
        }
        return layers ?? [];
    }

    /// <summary>Activations normalised to [0, 1] by the layer's own min and max (Figure 13's per-layer normalisation).</summary>
    public static float[] NormalisePerLayer(ReadOnlySpan<float> activations)
    {
        var result = new float[activations.Length];
        if (activations.IsEmpty) return result;
        float lo = System.Numerics.Tensors.TensorPrimitives.Min(activations), hi = System.Numerics.Tensors.TensorPrimitives.Max(activations);
        if (hi > lo)
            for (int i = 0; i < result.Length; i++) result[i] = (activations[i] - lo) / (hi - lo);
        return result;
    }

    /// <summary>A near-square grid for n neurons: width = the smallest divisor of n ≥ √n (2000 → 50×40), else ⌈√n⌉.</summary>
    public static (int Width, int Height) GridShape(int n)
    {
        if (n <= 0) return (0, 0);
        int root = (int)Math.Ceiling(Math.Sqrt(n));
        for (int w = root; w <= Math.Min(n, root * 2); w++)
            if (n % w == 0) return (w, n / w);
        return (root, (n + root - 1) / root);
    }
}
