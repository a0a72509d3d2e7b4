using System.Numerics.Tensors;
using FFLib.Compute;
using System.Text.Json.Nodes;
using FFLib.Layers;
using FFLib.Modules;
using FFLib.Optim;

namespace FFLib.Models;

/// <summary>
/// The paper's FFNN: a stack of FF dense layers fed with image ⊕ one-hot label, each layer
/// trained greedily with its own loss and its own Adam, and a "try every label" prediction.
/// </summary>
public sealed partial class FFNetwork : ComputeModule, ITrainableModel, ILabelScorer, IActivationSource, INeuronPrunable
{
    private readonly FFDenseLayer[] _layers;
    private readonly AdamOptimizer[] _optimizers;
    private readonly ActivityRegularizer[]? _regularizers;
    private FFNetworkWorkspace? _train, _predict, _features;

    /// <summary>Creates a freshly initialised network (PyTorch nn.Linear initialisation, drawn from <paramref name="random"/> layer by layer: W then b).</summary>
    public FFNetwork(FFNetworkConfig config, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(random);
        config.Validate();
        Config = config;
        _layers = new FFDenseLayer[config.HiddenSizes.Count];
        int inF = config.InputFeatures;
        for (int i = 0; i < _layers.Length; i++)
        {
            _layers[i] = new FFDenseLayer(inF, config.HiddenSizes[i], random);
            inF = config.HiddenSizes[i];
        }
        _optimizers = CreateOptimizers(config, _layers);
        _regularizers = CreateRegularizers(config, _layers);
    }

    /// <summary>Builds a network around existing layers (e.g. loaded from a checkpoint). Layer widths must chain.</summary>
    public FFNetwork(FFNetworkConfig config, IReadOnlyList<FFDenseLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(layers);
        config.Validate();
        if (layers.Count != config.HiddenSizes.Count)
            throw new ArgumentException($"Got {layers.Count} layers but the config lists {config.HiddenSizes.Count}.", nameof(layers));
        int inF = config.InputFeatures;
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i].InFeatures != inF || layers[i].OutFeatures != config.HiddenSizes[i])
                throw new ArgumentException($"Layer {i + 1} is {layers[i].InFeatures}→{layers[i].OutFeatures} but the config needs {inF}→{config.HiddenSizes[i]}.", nameof(layers));
            inF = layers[i].OutFeatures;
        }
        Config = config;
        _layers = layers.ToArray();
        _optimizers = CreateOptimizers(config, _layers);
        _regularizers = CreateRegularizers(config, _layers);
    }

    /// <summary>Architecture and training rule.</summary>
    public FFNetworkConfig Config { get; }

    /// <summary>The FF layers, input side first.</summary>
    public IReadOnlyList<FFDenseLayer> Layers => _layers;

    /// <summary>One Adam per layer (the FF rule: no gradient crosses layers).</summary>
    public IReadOnlyList<AdamOptimizer> Optimizers => _optimizers;

    /// <inheritdoc />
    public Architecture Architecture => Architecture.Ffnn;

    /// <summary>"layers.{i}" (labelled "layer {i+1}").</summary>
    protected internal override IEnumerable<ChildModule> Children() =>
        _layers.Select((l, i) => new ChildModule($"layers.{i}", $"layer {i + 1}", l));

    /// <inheritdoc />
    public JsonObject ConfigToJson() => FFNetworkArchitecture.WriteConfig(Config);

    /// <inheritdoc />
    public IReadOnlyList<int> HiddenWidths => _layers.Select(l => l.OutFeatures).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<NeuronSlice> NeuronSlices(int layer) => DenseStackSlices(layer, _layers.Length);

    /// <summary>A neuron of layer l in a chain of dense layers: its row and bias entry, and the next layer's input column.</summary>
    internal static NeuronSlice[] DenseStackSlices(int layer, int layers) => layer + 1 < layers
        ? [new($"layers.{layer}.weight", 0), new($"layers.{layer}.bias", 0), new($"layers.{layer + 1}.weight", 1)]
        : [new($"layers.{layer}.weight", 0), new($"layers.{layer}.bias", 0)];

    /// <inheritdoc />
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) => FFNetworkArchitecture.WriteConfig(Config with { HiddenSizes = widths.ToArray() });

    /// <inheritdoc />
    public int ImageFeatures => Config.ImageFeatures;

    /// <inheritdoc />
    public int Classes => Config.Classes;

    /// <inheritdoc />
    public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs) => Enumerable.Repeat(TrainingPhase.ForwardForward, requestedEpochs).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<string> LossNames(TrainingPhase phase) => Enumerable.Range(1, _layers.Length).Select(i => $"layer {i}").ToArray();

    /// <inheritdoc />
    float[] ITrainableModel.TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase)
    {
        if (phase != TrainingPhase.ForwardForward) throw new ArgumentException($"An FFNN trains only in the ForwardForward phase, not {phase}.", nameof(phase));
        return TrainBatch(images, labels, negativeControl);
    }

    /// <inheritdoc />
    public IReadOnlyList<AdamOptimizer> AllOptimizers => _optimizers;

    /// <inheritdoc />
    public LayerActivationObserver? ActivationObserver { get; set; }

    /// <inheritdoc />
    public LossDirection ScoreDirection => Config.Loss;

    /// <inheritdoc />
    protected override void ReleaseWorkspaces()
    {
        DeviceWorkspace.Free(ref _train);
        DeviceWorkspace.Free(ref _predict);
        DeviceWorkspace.Free(ref _features);
    }

    /// <summary>
    /// Writes the concatenation of every layer's activations (zero control vector) of each image
    /// into <paramref name="concat"/> (rows × Σ widths, on this network's backend): the FFNN+C
    /// classifier's features. Safe to call concurrently (a call takes the kept buffers; a
    /// concurrent one allocates its own).
    /// </summary>
    internal void ConcatenatedActivations(Matrix images, DeviceSpan concat)
    {
        int rows = images.Rows;
        var w = Take(ref _features, rows, 0);
        Concatenate(w, w.StageImages(images.Data, images.Data.Length), rows, concat);
        DeviceWorkspace.Keep(ref _features, w);
    }

    /// <summary>As above for images already on the backend (rows × pixels).</summary>
    internal void ConcatenatedActivations(DeviceSpan images, int rows, DeviceSpan concat)
    {
        var w = Take(ref _features, rows, 0);
        Concatenate(w, images, rows, concat);
        DeviceWorkspace.Keep(ref _features, w);
    }

    private void Concatenate(FFNetworkWorkspace w, DeviceSpan images, int rows, DeviceSpan concat)
    {
        int total = _layers.Sum(l => l.OutFeatures);
        Backend.Clear(w.Control.Slice(0, rows * Config.Classes));
        int offset = 0;
        Forward(w, images, rows, rows, identity: false, prepared: null, (l, h, width) =>
        {
            Backend.CopyColumns(h, rows, width, concat, total, offset);
            offset += width;
        });
    }

    /// <summary>
    /// Every layer's activations for images ⊕ control vector: onehot(<paramref name="label"/>), or
    /// all zeros when <paramref name="label"/> is null (the FFNN+C convention).
    /// </summary>
    public Matrix[] LayerActivations(Matrix images, int? label = null)
    {
        CheckImages(images);
        if (label is int c && (uint)c >= (uint)Config.Classes) throw new ArgumentOutOfRangeException(nameof(label), c, $"label must be in [0, {Config.Classes}).");
        int rows = images.Rows, k = Config.Classes;
        var w = new FFNetworkWorkspace(Backend, rows, 0, Config, _layers);
        try
        {
            var control = new float[rows * k];
            if (label is int l0) for (int r = 0; r < rows; r++) control[r * k + l0] = 1f;
            Backend.Write(control, w.Control.Slice(0, rows * k));
            var result = new Matrix[_layers.Length];
            Forward(w, w.StageImages(images.Data, images.Data.Length), rows, rows, identity: false, prepared: null,
                (l, h, width) => result[l] = new Matrix(rows, width, Backend.Read(h).ToArray()));
            return result;
        }
        finally { w.Release(); } // sized for this call's rows: not worth keeping
    }

    // One Adam per layer over that layer's parameters (the FF rule: no gradient crosses layers).
    private static AdamOptimizer[] CreateOptimizers(FFNetworkConfig config, FFDenseLayer[] layers) =>
        layers.Select(l => new AdamOptimizer(new AdamSettings(config.LearningRate, WeightDecay: config.Regularization.WeightDecay), l.Parameters())).ToArray();

    /// <summary>Each layer's activity regulariser when peer normalisation or activity L1 is on; else null.</summary>
    private static ActivityRegularizer[]? CreateRegularizers(FFNetworkConfig config, FFDenseLayer[] layers) =>
        ActivityRegularizer.ForLayers(layers.Select(l => l.OutFeatures), config.Regularization);

    /// <summary>The layers' activity regularisers (null when the config has none): their running means are training state.</summary>
    public IReadOnlyList<ActivityRegularizer>? Regularizers => _regularizers;

    /// <inheritdoc />
    protected internal override IEnumerable<LocalParameter> LocalBuffers() =>
        _regularizers?.Select(r => r.RunningMean) ?? [];

    /// <summary>
    /// Layer l's activations for the workspace's rows, written to its output buffer: through the
    /// layer-1 shortcut (<paramref name="fast"/>), or x → x̂Wᵀ + b → ReLU. Layer 0's plain input is
    /// built from the images and the control rows first. Without <paramref name="computeNorms"/>,
    /// the row norms of the last call are reused (same input, new weights).
    /// </summary>
    private void ForwardLayer(FFNetworkWorkspace w, int l, DeviceSpan images, int n, int rows, bool fast, object? prepared, bool computeNorms)
    {
        var be = Backend;
        var layer = _layers[l];
        int inF = layer.InFeatures, outF = layer.OutFeatures;
        var (x, h) = w.Buffers(l, rows, inF, outF);
        var invNorm = w.InvNorm.Slice(0, rows);
        if (fast)
        {
            FirstLayer!.Forward(w, images, n, rows, computeNorms, prepared);
            return;
        }
        if (l == 0 && computeNorms) FFNetworkFusedOps.EmbedControl(be, images, n, Config.ImageFeatures, w.Control, Config.Classes, rows, x);
        var (weight, bias) = LayerOnDevice(l);
        layer.Forward(be, x, rows, weight, prepared, bias, invNorm, computeNorms, h);
    }

    /// <summary>
    /// The forward pass every read-out shares (prediction, activations, FFNN+C features): rows
    /// r = 0..rows−1 of image (r mod n) ⊕ the workspace's control row r, layer by layer;
    /// <paramref name="visit"/> sees each layer's activations.
    /// </summary>
    private void Forward(FFNetworkWorkspace w, DeviceSpan images, int n, int rows, bool identity, object?[]? prepared, Action<int, DeviceSpan, int> visit)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            ForwardLayer(w, l, images, n, rows, identity && l == 0, prepared?[l], computeNorms: true);
            visit(l, w.Buffers(l, rows, _layers[l].InFeatures, _layers[l].OutFeatures).H, _layers[l].OutFeatures);
        }
    }

    /// <summary>
    /// Whether layer 1 uses the exact identity x·Wᵀ = image·W_imgᵀ + control·W_ctrlᵀ with
    /// ‖x‖² = ‖image‖² + ‖control‖² (docs/performance.md): one image product serves the positive
    /// and negative rows in training and all labels in prediction. Same maths as the plain path up
    /// to float rounding; switched off by tests to compare.
    /// </summary>
    internal bool UseInputIdentity { get; set; } = true;

    /// <summary>
    /// Whether the weight gradient of a layer fed by another FF layer is computed for the neurons
    /// active in the batch only, with the dead neurons' zero rows implied (bit-identical to the full
    /// product; switched off by tests to compare).
    /// </summary>
    internal bool UseSparseGradient { get; set; } = true;

    /// <summary>How many layer steps took the active-neurons-only gradient (for tests and diagnostics).</summary>
    internal int SparseGradientSteps { get; private set; }

    private FirstLayerShortcut? _firstLayer;

    /// <summary>Layer l's gradient buffers as the backend sees them (the CPU: the same arrays the optimiser reads).</summary>
    internal (DeviceSpan Weight, DeviceSpan Bias) GradientsOnDevice(int l) => (DeviceGradient(_layers[l].WeightParameter), DeviceGradient(_layers[l].BiasParameter));

    /// <summary>Layer l's weight and bias as the backend sees them.</summary>
    internal (DeviceSpan Weight, DeviceSpan Bias) LayerOnDevice(int l) => (Device(_layers[l].WeightParameter), Device(_layers[l].BiasParameter));

    private ComputeBackend? _firstLayerBackend;

    /// <summary>
    /// The layer-1 identity (its own type: forward and weight gradient through the image/control
    /// split) on the current backend; null when switched off or where the backend lacks the FFNN's
    /// fused operations (<see cref="IFFNetworkFusedOps"/>): layer 1 is then an ordinary FF layer.
    /// </summary>
    private FirstLayerShortcut? FirstLayer
    {
        get
        {
            if (!UseInputIdentity) return null;
            var be = Backend;
            if (_firstLayerBackend == be) return _firstLayer;
            var ops = FFNetworkFusedOps.For(be);
            _firstLayer = ops is null ? null : new FirstLayerShortcut(this, ops);
            _firstLayerBackend = be;
            return _firstLayer;
        }
    }

    /// <summary>
    /// Summed goodness per (image, label): row i, column c holds Σ_layers softplus(meanh² − θ) for
    /// image i with control vector onehot(c). Safe to call from several threads at once.
    /// </summary>
    public Matrix LabelScores(Matrix images)
    {
        CheckImages(images);
        int n = images.Rows, classes = Config.Classes, px = Config.ImageFeatures;
        var be = Backend;
        var scores = new Matrix(n, classes);
        // 640 rows per product on the CPU: big enough for the kernels, small in memory; far more on a GPU.
        int chunk = Math.Max(1, be.PreferredRows / classes);
        // Buffers are kept between calls (evaluation calls this once per chunk of the test set):
        // fresh large arrays each time only pile up on the large-object heap.
        // Sized for this call when it needs less than a chunk (a GPU's chunk is 16,384 rows: ~100 MB
        // at 2000 wide); a call of n ≤ chunk images is one pass either way, so the bits are the same.
        int needed = Math.Min(chunk, n);
        var w = Take(ref _predict, needed * classes, needed);
        // Over several chunks, each weight matrix is prepared (packed) for the product once, not once per chunk.
        // (One chunk: nothing to share, no preparation.) The preparations are refilled in place each call.
        object?[]? prepared = null;
        if (n > chunk)
        {
            prepared = w.Prepared;
            for (int l = 0; l < _layers.Length; l++)
            {
                var layer = _layers[l];
                var weight = LayerOnDevice(l).Weight;
                prepared[l] = l == 0 && FirstLayer is not null
                    ? be.Prepare(true, px, layer.OutFeatures, weight, layer.InFeatures, prepared[l])
                    : be.Prepare(true, layer.InFeatures, layer.OutFeatures, weight, layer.InFeatures, prepared[l]);
            }
        }
        var allImages = w.StageImages(images.Data, n * px);
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start), rows = count * classes;
            // Label-major rows: row c·count + i = image i ⊕ onehot(c).
            var control = w.HostControl.AsSpan(0, rows * classes);
            control.Clear();
            for (int r = 0; r < rows; r++) control[r * classes + r / count] = 1f;
            be.Write(control, w.Control.Slice(0, rows * classes));
            Forward(w, allImages.Slice(start * px, count * px), count, rows, FirstLayer is not null, prepared, (l, h, width) =>
            {
                var ms = w.MeanSquares.Slice(0, rows);
                be.MeanSquares(h, rows, width, ms);
                var goodness = be.Read(ms);
                for (int r = 0; r < rows; r++) scores.Data[(start + r % count) * classes + r / count] += Kernels.Softplus(goodness[r] - Config.Threshold);
            });
        }
        DeviceWorkspace.Keep(ref _predict, w);
        return scores;
    }

    /// <summary>Takes the kept workspace if it is large enough (a concurrent caller finds none and makes its own).</summary>
    private FFNetworkWorkspace Take(ref FFNetworkWorkspace? kept, int rows, int imageRows)
    {
        return DeviceWorkspace.Take(ref kept, w => w.Rows >= rows && w.ImageRows >= imageRows) ?? new FFNetworkWorkspace(Backend, rows, imageRows, Config, _layers);
    }

    /// <summary>Predicted class per image: argmin of <see cref="LabelScores"/> under L−, argmax under L+.</summary>
    public int[] Predict(Matrix images) => LabelProbe.Predict(LabelScores(images), Config.Loss);

    private void CheckImages(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != Config.ImageFeatures)
            throw new ArgumentException($"images has {images.Cols} columns but the network expects {Config.ImageFeatures} pixels per image.", nameof(images));
    }

    private void CheckLabels(ReadOnlySpan<int> labels, string name)
    {
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)Config.Classes)
                throw new ArgumentOutOfRangeException(name, labels[i], $"{name}[{i}] = {labels[i]} is not a class in [0, {Config.Classes}).");
    }
}
