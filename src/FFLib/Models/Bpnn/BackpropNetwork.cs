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
public sealed partial class BackpropNetwork : ComputeModule, ITrainableModel, IActivationSource, INeuronPrunable, IDeviceTrainable, IClassScorer
{
    private readonly DenseLayer[] _layers;
    private readonly AdamOptimizer _optimizer;
    private TrainBuffers? _train;
    private PredictBuffers? _predict;

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
        _optimizer = CreateOptimizer();
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
        _optimizer = CreateOptimizer();
    }

    private static int[] Widths(BackpropNetworkConfig c) => [c.ImageFeatures, .. c.HiddenSizes, c.Classes];

    // One Adam over the whole parameter list, in its order (W0, b0, W1, b1, …).
    private AdamOptimizer CreateOptimizer() => new(new AdamSettings(Config.LearningRate), Parameters().Where(p => p.Trainable));

    /// <summary>The configuration.</summary>
    public BackpropNetworkConfig Config { get; }

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

    /// <inheritdoc />
    protected override void ReleaseWorkspaces()
    {
        DeviceWorkspace.Free(ref _train);
        DeviceWorkspace.Free(ref _predict);
    }

    /// <summary>
    /// The forward pass every caller shares (training, prediction, activations): rows of
    /// <paramref name="input"/> through every layer, layer l writing into <paramref name="output"/>(l),
    /// ReLU after every layer but the last. <paramref name="prepared"/>: weights prepared for this call.
    /// </summary>
    private void Forward(DeviceSpan input, int rows, Func<int, DeviceSpan> output, object?[]? prepared, Action<int, DeviceSpan>? visit = null)
    {
        var be = Backend;
        var x = input;
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var z = output(l);
            layer.Forward(be, x, rows, Device(layer.WeightParameter), prepared?[l], Device(layer.BiasParameter), relu: l + 1 < _layers.Length, z);
            visit?.Invoke(l, z);
            x = z;
        }
    }

    /// <summary>The logits (<see cref="Logits"/>).</summary>
    public Matrix ClassScores(Matrix images) => Logits(images);

    /// <summary>Logits of every image. Safe to call from several threads at once.</summary>
    public Matrix Logits(Matrix images)
    {
        CheckImages(images);
        int n = images.Rows;
        var be = Backend;
        var logits = new Matrix(n, Classes);
        // In chunks through two reused buffers: whole-set activations (8 MB per 1,000 images and
        // layer) would only pile up on the large-object heap. Weights are prepared (packed) once per call.
        int chunk = Math.Max(1, be.PreferredRows * 2 / 5); // 256 rows on the CPU
        int maxWidth = _layers.Max(l => l.OutFeatures);
        // Taken for the call and put back after, so concurrent calls on one network stay safe (one of them allocates).
        // Sized for this call when it needs less than a chunk; passes are pw.Rows long, which is
        // either the chunk or at least n (one pass), so the rows of each product do not depend on history.
        int needed = Math.Min(chunk, n);
        var pw = DeviceWorkspace.Take(ref _predict, kept => kept.Rows >= needed) ?? new PredictBuffers(be, Math.Max(1, needed), Math.Max(maxWidth, ImageFeatures), _layers.Length);
        var prepared = new object?[_layers.Length];
        if (n > pw.Rows)
            for (int l = 0; l < _layers.Length; l++)
                prepared[l] = pw.Prepared[l] = be.Prepare(true, _layers[l].InFeatures, _layers[l].OutFeatures, Device(_layers[l].WeightParameter), _layers[l].InFeatures, pw.Prepared[l]);
        var all = pw.StageImages(images.Data, n * ImageFeatures);
        for (int start = 0; start < n; start += pw.Rows)
        {
            int rows = Math.Min(pw.Rows, n - start);
            Forward(all.Slice(start * ImageFeatures, rows * ImageFeatures), rows,
                l => (l % 2 == 0 ? pw.A : pw.B).Slice(0, rows * _layers[l].OutFeatures), prepared);
            var last = (_layers.Length - 1) % 2 == 0 ? pw.A : pw.B;
            be.Read(last.Slice(0, rows * Classes)).CopyTo(logits.Data.AsSpan(start * Classes, rows * Classes));
        }
        DeviceWorkspace.Keep(ref _predict, pw);
        return logits;
    }

    private sealed class PredictBuffers : DeviceWorkspace
    {
        public PredictBuffers(ComputeBackend be, int rows, int width, int layers) : base(be)
        {
            Rows = rows;
            A = Allocate(rows * width);
            B = Allocate(rows * width);
            Prepared = new object?[layers];
        }

        public int Rows { get; }
        public DeviceArray A { get; }
        public DeviceArray B { get; }
        public object?[] Prepared { get; }
    }

    private sealed class TrainBuffers : DeviceWorkspace
    {
        public TrainBuffers(ComputeBackend be, int rows, int[] widths) : base(be)
        {
            Rows = rows;
            Acts = widths.Select(w => Allocate(rows * w)).ToArray();
            Delta = Allocate(rows * widths.Max());
            DeltaPrev = Allocate(rows * widths.Max());
            Loss = Allocate(1);
        }

        public int Rows { get; }
        /// <summary>Every layer's output (Acts[0] unused: the input is staged), kept for the backward pass.</summary>
        public DeviceArray[] Acts { get; }
        public DeviceArray Delta { get; }
        public DeviceArray DeltaPrev { get; }
        public DeviceArray Loss { get; }
    }

    /// <inheritdoc />
    public Matrix[] LayerActivations(Matrix images, int? label) => HiddenActivations(images);

    /// <summary>The BPNN has no control vector: the label is ignored.</summary>
    bool IActivationSource.ActivationsDependOnLabel => false;

    /// <summary>Hidden activations (after ReLU) of every layer, for analysis.</summary>
    public Matrix[] HiddenActivations(Matrix images)
    {
        CheckImages(images);
        int rows = images.Rows;
        var be = Backend;
        var buffers = new TrainBuffers(be, Math.Max(1, rows), Widths(Config));
        try
        {
            var result = new Matrix[_layers.Length - 1];
            Forward(buffers.StageImages(images.Data, rows * ImageFeatures), rows, l => buffers.Acts[l + 1].Slice(0, rows * _layers[l].OutFeatures), null,
                (l, z) => { if (l < result.Length) result[l] = new Matrix(rows, _layers[l].OutFeatures, be.Read(z).ToArray()); });
            return result;
        }
        finally { buffers.Release(); } // sized for this call's rows: not worth keeping
    }

    /// <inheritdoc />
    public int[] Predict(Matrix images) => LabelProbe.Predict(Logits(images), LossDirection.Maximize); // argmax

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
        var w = TrainingBuffers(rows);
        var loss = w.Loss.Slice(0, 1);
        Step(w.StageImages(images.Data, rows * ImageFeatures), labels, loss);
        return Backend.Read(loss)[0];
    }

    void IDeviceTrainable.TrainBatch(DeviceSpan images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase, DeviceSpan losses)
    {
        if (phase != TrainingPhase.Backprop) throw new ArgumentException($"A BPNN trains only in the Backprop phase, not {phase}.", nameof(phase));
        Step(images, labels, losses.Slice(0, 1));
    }

    private TrainBuffers TrainingBuffers(int rows)
    {
        if (_train is { } t && t.Rows >= rows) return t;
        DeviceWorkspace.Free(ref _train);
        return _train = new TrainBuffers(Backend, rows, Widths(Config));
    }

    /// <summary>The step on a batch on the backend; the loss before the step into <paramref name="lossOut"/>.</summary>
    private void Step(DeviceSpan input, ReadOnlySpan<int> labels, DeviceSpan lossOut)
    {
        int rows = labels.Length;
        if (input.Length != rows * ImageFeatures) throw new ArgumentException($"The batch holds {input.Length / ImageFeatures} images but labels has {rows} entries.", nameof(labels));
        for (int i = 0; i < rows; i++)
            if ((uint)labels[i] >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is not a class in [0, {Classes}).");
        var be = Backend;
        var w = TrainingBuffers(rows);
        DeviceSpan Act(int l) => l == 0 ? input : w.Acts[l].Slice(0, rows * (l == 0 ? ImageFeatures : _layers[l - 1].OutFeatures));

        // Forward, keeping every layer's output.
        Forward(input, rows, l => Act(l + 1), null, (l, z) =>
        {
            if (l + 1 < _layers.Length && ActivationObserver is { } observe) observe(new LayerActivation(l, 0, rows, rows, _layers[l].OutFeatures, be.Read(z), []));
        });
        var logits = Act(_layers.Length);
        be.CrossEntropyLossAndGradient(logits, rows, Classes, w.StageLabels(labels), w.Delta.Slice(0, rows * Classes), lossOut);

        // Backward: δ_L = dL/dlogits; for each layer, dW = δᵀa, db = Σδ, δ_prev = (δW) ⊙ [a > 0].
        var delta = w.Delta;
        var prev = w.DeltaPrev;
        var parameters = new DeviceSpan[2 * _layers.Length];
        var gradients = new DeviceSpan[2 * _layers.Length];
        for (int l = _layers.Length - 1; l >= 0; l--)
        {
            var layer = _layers[l];
            int inF = layer.InFeatures, outF = layer.OutFeatures;
            var a = Act(l);
            var d = delta.Slice(0, rows * outF);
            var (gw, gb) = (DeviceGradient(layer.WeightParameter), DeviceGradient(layer.BiasParameter));
            layer.ParameterGradients(be, d, a, rows, gw, gb);
            (parameters[2 * l], parameters[2 * l + 1], gradients[2 * l], gradients[2 * l + 1]) = (Device(layer.WeightParameter), Device(layer.BiasParameter), gw, gb);
            if (l > 0)
            {
                var dx = prev.Slice(0, rows * inF);
                layer.InputGradient(be, d, rows, Device(layer.WeightParameter), dx);
                be.ReluBackward(dx, a); // ReLU'(z) with PyTorch's 0 at 0
                (delta, prev) = (prev, delta);
            }
        }
        if (StepObserver is { } observeStep)
        {
            var grads = _layers.SelectMany(x => new[] { x.WeightParameter, x.BiasParameter }).ToArray();
            foreach (var g in grads) be.SyncToHost(DeviceGradient(g).Array, g.Gradient);
            observeStep(new TrainingStep(0, 0, be.Read(lossOut)[0], [], grads.Select(g => g.Gradient).ToArray()));
        }
        _optimizer.Step(be, parameters, gradients);
    }

    private void CheckImages(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != ImageFeatures)
            throw new ArgumentException($"images has {images.Cols} columns but the network expects {ImageFeatures} pixels per image.", nameof(images));
    }
}
