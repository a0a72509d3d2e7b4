using System.Numerics.Tensors;
using FFLib.Compute;
using System.Text.Json.Nodes;
using FFLib.Layers;
using FFLib.Modules;
using FFLib.Optim;

namespace FFLib.Models;

/// <summary>
/// The paper's backprop baseline: image → [Linear → ReLU]* → Linear → logits, softmax
/// cross-entropy, one Adam over all parameters, ordinary backpropagation. Prediction = argmax.
/// </summary>
public sealed class BackpropNetwork : Module, ITrainableModel, IActivationSource, INeuronPrunable
{
    private readonly DenseLayer[] _layers;
    private readonly AdamOptimizer _optimizer;
    private readonly float[][] _grads;
    private float[][] _acts = [];
    private float[] _delta = [], _deltaPrev = [];
    private int _rows;

    /// <summary>A freshly initialised network (nn.Linear initialisation, layer by layer: W then b).</summary>
    public BackpropNetwork(BackpropNetworkConfig config, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(random);
        config.Validate();
        Config = config;
        var widths = Widths(config);
        _layers = new DenseLayer[widths.Length - 1];
        for (int i = 0; i < _layers.Length; i++) _layers[i] = new DenseLayer(widths[i], widths[i + 1], random);
        (_optimizer, _grads) = CreateOptimizer();
    }

    /// <summary>Wraps existing layers (e.g. from a checkpoint); widths must chain and match the config.</summary>
    public BackpropNetwork(BackpropNetworkConfig config, IReadOnlyList<DenseLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(layers);
        config.Validate();
        var widths = Widths(config);
        if (layers.Count != widths.Length - 1) throw new ArgumentException($"Got {layers.Count} layers but the config needs {widths.Length - 1}.", nameof(layers));
        for (int i = 0; i < layers.Count; i++)
            if (layers[i].InFeatures != widths[i] || layers[i].OutFeatures != widths[i + 1])
                throw new ArgumentException($"Layer {i + 1} is {layers[i].InFeatures}→{layers[i].OutFeatures} but the config needs {widths[i]}→{widths[i + 1]}.", nameof(layers));
        Config = config;
        _layers = layers.ToArray();
        (_optimizer, _grads) = CreateOptimizer();
    }

    private static int[] Widths(BackpropNetworkConfig c) => [c.ImageFeatures, .. c.HiddenSizes, c.Classes];

    private (AdamOptimizer, float[][]) CreateOptimizer()
    {
        var parameters = _layers.SelectMany(l => new[] { l.Weight.Data, l.Bias }).ToArray();
        return (new AdamOptimizer(new AdamSettings(Config.LearningRate), parameters), parameters.Select(p => new float[p.Length]).ToArray());
    }

    /// <summary>The configuration.</summary>
    public BackpropNetworkConfig Config { get; }

    /// <summary>Test hook: sees the loss and the gradients (W0, b0, W1, b1, …) before each Adam step.</summary>
    internal Action<float, float[][]>? StepObserver { get; set; }

    /// <summary>All affine layers, the last one producing the logits.</summary>
    public IReadOnlyList<DenseLayer> Layers => _layers;

    /// <summary>The single Adam over all parameters.</summary>
    public AdamOptimizer Optimizer => _optimizer;

    /// <inheritdoc />
    public Architecture Architecture => Architecture.Bpnn;

    /// <summary>"layers.{i}", labelled "layer {i+1}" and, for the last one, "output".</summary>
    protected internal override IEnumerable<ChildModule> Children() =>
        _layers.Select((l, i) => new ChildModule($"layers.{i}", i == _layers.Length - 1 ? "output" : $"layer {i + 1}", l));

    /// <inheritdoc />
    public JsonObject ConfigToJson() => BackpropArchitecture.WriteConfig(Config);

    /// <inheritdoc />
    public IReadOnlyList<int> HiddenWidths => _layers.Take(_layers.Length - 1).Select(l => l.OutFeatures).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<NeuronSlice> NeuronSlices(int layer) => FFNetwork.DenseStackSlices(layer, _layers.Length);

    /// <inheritdoc />
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) => BackpropArchitecture.WriteConfig(Config with { HiddenSizes = widths.ToArray() });

    /// <inheritdoc />
    public int ImageFeatures => Config.ImageFeatures;

    /// <inheritdoc />
    public int Classes => Config.Classes;

    /// <inheritdoc />
    public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs) => Enumerable.Repeat(TrainingPhase.Backprop, requestedEpochs).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<string> LossNames(TrainingPhase phase) => ["cross-entropy"];

    /// <inheritdoc />
    public IReadOnlyList<AdamOptimizer> AllOptimizers => [_optimizer];

    /// <inheritdoc />
    public LayerActivationObserver? ActivationObserver { get; set; }

    /// <summary>Logits of every image.</summary>
    public Matrix Logits(Matrix images)
    {
        CheckImages(images);
        int n = images.Rows;
        var logits = new Matrix(n, Classes);
        // In chunks through two reused buffers: whole-set activations (8 MB per 1,000 images and
        // layer) would only pile up on the large-object heap. Weights are packed once per call.
        const int chunk = 256;
        int maxWidth = _layers.Max(l => l.OutFeatures);
        // Taken for the call and put back after, so concurrent calls on one network stay safe (one of them allocates).
        var pw = Interlocked.Exchange(ref _predict, null) ?? new PredictBuffers(chunk * Math.Max(maxWidth, ImageFeatures), _layers.Length);
        if (n > chunk)
            for (int l = 0; l < _layers.Length; l++)
                pw.Packed[l] = _layers[l].PackWeight(pw.Packed[l]);
        for (int start = 0; start < n; start += chunk)
        {
            int rows = Math.Min(chunk, n - start);
            ReadOnlySpan<float> x = images.Data.AsSpan(start * ImageFeatures, rows * ImageFeatures);
            float[] cur = pw.A, nxt = pw.B;
            for (int l = 0; l < _layers.Length; l++)
            {
                var layer = _layers[l];
                var z = l + 1 < _layers.Length ? nxt.AsSpan(0, rows * layer.OutFeatures) : logits.Data.AsSpan(start * Classes, rows * Classes);
                layer.ForwardInto(x, rows, z, n > chunk ? pw.Packed[l] : null);
                if (l + 1 < _layers.Length) TensorPrimitives.Max(z, 0f, z);
                x = z;
                (cur, nxt) = (nxt, cur);
            }
        }
        _predict = pw;
        return logits;
    }

    private PredictBuffers? _predict;

    private sealed class PredictBuffers(int size, int layers)
    {
        public float[] A { get; } = new float[size];
        public float[] B { get; } = new float[size];
        public PackedMatrix?[] Packed { get; } = new PackedMatrix?[layers];
    }

    /// <inheritdoc />
    public Matrix[] LayerActivations(Matrix images, int? label) => HiddenActivations(images);

    /// <summary>The BPNN has no control vector: the label is ignored.</summary>
    bool IActivationSource.ActivationsDependOnLabel => false;

    /// <summary>Hidden activations (after ReLU) of every layer, for analysis.</summary>
    public Matrix[] HiddenActivations(Matrix images)
    {
        CheckImages(images);
        var result = new Matrix[_layers.Length - 1];
        var x = images;
        for (int l = 0; l < _layers.Length - 1; l++)
        {
            var z = _layers[l].Forward(x);
            TensorPrimitives.Max(z.Data, 0f, z.Data);
            result[l] = x = z;
        }
        return result;
    }

    /// <inheritdoc />
    public int[] Predict(Matrix images)
    {
        var logits = Logits(images);
        var result = new int[images.Rows];
        for (int i = 0; i < result.Length; i++) result[i] = TensorPrimitives.IndexOfMax(logits.Row(i));
        return result;
    }

    /// <inheritdoc />
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase)
    {
        if (phase != TrainingPhase.Backprop) throw new ArgumentException($"A BPNN trains only in the Backprop phase, not {phase}.", nameof(phase));
        return [TrainBatch(images, labels)];
    }

    /// <summary>One Adam step on the mean cross-entropy of the batch; returns the loss before the step.</summary>
    public float TrainBatch(Matrix images, ReadOnlySpan<int> labels)
    {
        CheckImages(images);
        int rows = images.Rows;
        if (labels.Length != rows) throw new ArgumentException($"labels has {labels.Length} entries but images has {rows} rows.", nameof(labels));
        for (int i = 0; i < rows; i++)
            if ((uint)labels[i] >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is not a class in [0, {Classes}).");
        EnsureBuffers(rows);

        // Forward, keeping every layer's output (acts[0] = input).
        images.Data.AsSpan(0, rows * ImageFeatures).CopyTo(_acts[0]);
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var z = _acts[l + 1].AsSpan(0, rows * layer.OutFeatures);
            layer.ForwardInto(_acts[l].AsSpan(0, rows * layer.InFeatures), rows, z);
            if (l + 1 < _layers.Length)
            {
                TensorPrimitives.Max(z, 0f, z);
                ActivationObserver?.Invoke(new LayerActivation(l, 0, rows, rows, layer.OutFeatures, z, []));
            }
        }
        var logits = _acts[^1].AsSpan(0, rows * Classes);
        float loss = CrossEntropy.LossAndGradient(logits, rows, Classes, labels, _delta);

        // Backward: δ_L = dL/dlogits; for each layer, dW = δᵀa, db = Σδ, δ_prev = (δW) ⊙ [a > 0].
        var delta = _delta;
        var prev = _deltaPrev;
        for (int l = _layers.Length - 1; l >= 0; l--)
        {
            var layer = _layers[l];
            var input = _acts[l].AsSpan(0, rows * layer.InFeatures);
            layer.Gradients(input, delta.AsSpan(0, rows * layer.OutFeatures), rows, _grads[2 * l], _grads[2 * l + 1]);
            if (l > 0)
            {
                var dx = prev.AsSpan(0, rows * layer.InFeatures);
                layer.InputGradient(delta.AsSpan(0, rows * layer.OutFeatures), rows, dx);
                for (int i = 0; i < dx.Length; i++) if (input[i] <= 0f) dx[i] = 0f; // ReLU'(z) with PyTorch's 0 at 0
                (delta, prev) = (prev, delta);
            }
        }
        StepObserver?.Invoke(loss, _grads);
        _optimizer.Step(_grads);
        return loss;
    }

    private void EnsureBuffers(int rows)
    {
        if (rows <= _rows) return;
        _rows = rows;
        var widths = Widths(Config);
        _acts = widths.Select(w => new float[rows * w]).ToArray();
        int max = widths.Max();
        _delta = new float[rows * max];
        _deltaPrev = new float[rows * max];
    }

    private void CheckImages(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != ImageFeatures)
            throw new ArgumentException($"images has {images.Cols} columns but the network expects {ImageFeatures} pixels per image.", nameof(images));
    }
}
