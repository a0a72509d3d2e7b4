using System.Numerics.Tensors;
using FFLib.Compute;
using System.Text.Json.Nodes;
using FFLib.Layers;
using FFLib.Modules;
using FFLib.Optim;

namespace FFLib.Models;

/// <summary>
/// Hinton's recurrent FF network as in the reference FFRNN (docs/architectures.md): states
/// [image, h1, …, hk, label]; h_i ← β·ReLU(x̂_(i−1)Wfᵀ + x̂_(i+1)Wbᵀ + b) + (1 − β)·h_i, with
/// x̂ the row-normalised state. Hidden states start as one uniform [0, 1) row shared by the
/// batch, then one sequential bottom-up sweep. Training runs K_train synchronous frames per
/// batch, each layer taking one Adam step on the FF loss of its new state per frame. Prediction
/// runs K_testhigh frames per label and averages softplus(mean h² − θ) over layers and the
/// frames after K_testlow.
/// </summary>
public sealed partial class FFRecurrentNetwork : ComputeModule, ITrainableModel, ILabelScorer, IActivationSource, INeuronPrunable, IRandomStateOwner
{
    private readonly FFRecurrentLayer[] _layers;
    private readonly AdamOptimizer[] _optimizers;
    private readonly ActivityRegularizer[]? _regularizers;
    private readonly FFRandom _stateRandom;

    /// <summary>A fresh network: each layer draws Wf, Wb, b uniform in ±1/√width from <paramref name="random"/>;
    /// a seed for the training initial states is drawn after them.</summary>
    public FFRecurrentNetwork(FFRecurrentConfig config, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(random);
        config.Validate();
        Config = config;
        var d = config.Dimensions;
        _layers = new FFRecurrentLayer[config.HiddenSizes.Count];
        for (int i = 1; i <= _layers.Length; i++)
        {
            float bound = 1f / MathF.Sqrt(d[i]); // the reference scales by the layer's own width
            var wf = new Matrix(d[i], d[i - 1]);
            var wb = new Matrix(d[i], d[i + 1]);
            var b = new float[d[i]];
            foreach (var arr in new[] { wf.Data, wb.Data, b }) LayerParameters.FillUniform(arr, bound, random);
            _layers[i - 1] = new FFRecurrentLayer(wf, wb, b);
        }
        _stateRandom = new FFRandom((long)random.NextUInt64());
        _optimizers = CreateOptimizers();
        _regularizers = CreateRegularizers();
    }

    /// <summary>Wraps existing parameters (e.g. from a checkpoint); shapes must match the config.</summary>
    public FFRecurrentNetwork(FFRecurrentConfig config, IReadOnlyList<(Matrix Forward, Matrix Backward, float[] Bias)> layers, long stateSeed = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(layers);
        config.Validate();
        var d = config.Dimensions;
        if (layers.Count != config.HiddenSizes.Count) throw new ArgumentException($"Got {layers.Count} layers but the config lists {config.HiddenSizes.Count}.", nameof(layers));
        _layers = new FFRecurrentLayer[layers.Count];
        for (int i = 1; i <= layers.Count; i++)
        {
            var (f, bw, b) = layers[i - 1];
            if (f.Rows != d[i] || f.Cols != d[i - 1]) throw new ArgumentException($"Layer {i} forward weight is {f.Rows}×{f.Cols} but must be {d[i]}×{d[i - 1]}.", nameof(layers));
            if (bw.Rows != d[i] || bw.Cols != d[i + 1]) throw new ArgumentException($"Layer {i} backward weight is {bw.Rows}×{bw.Cols} but must be {d[i]}×{d[i + 1]}.", nameof(layers));
            if (b.Length != d[i]) throw new ArgumentException($"Layer {i} bias has {b.Length} entries but must have {d[i]}.", nameof(layers));
            _layers[i - 1] = new FFRecurrentLayer(f, bw, b);
        }
        Config = config;
        _stateRandom = new FFRandom(stateSeed);
        _optimizers = CreateOptimizers();
        _regularizers = CreateRegularizers();
    }

    // One Adam per layer over its Wf, Wb, b (weight decay, when on, reaches Wf and Wb, not b).
    private AdamOptimizer[] CreateOptimizers() =>
        _layers.Select(l => new AdamOptimizer(new AdamSettings(Config.LearningRate, WeightDecay: Config.Regularization.WeightDecay), l.Parameters())).ToArray();

    // Each layer's activity regulariser when peer normalisation or activity L1 is on.
    private ActivityRegularizer[]? CreateRegularizers() => ActivityRegularizer.ForLayers(_layers.Select(l => l.Width), Config.Regularization);

    /// <summary>The layers' activity regularisers (null when the config has none): their running means are training state.</summary>
    public IReadOnlyList<ActivityRegularizer>? Regularizers => _regularizers;

    /// <inheritdoc />
    protected internal override IEnumerable<LocalParameter> LocalBuffers() => _regularizers?.Select(r => r.RunningMean) ?? [];

    /// <summary>The configuration.</summary>
    public FFRecurrentConfig Config { get; }

    /// <summary>The hidden layers, bottom first.</summary>
    public IReadOnlyList<FFRecurrentLayer> Layers => _layers;

    /// <summary>One Adam per hidden layer (over Wf, Wb, b).</summary>
    public IReadOnlyList<AdamOptimizer> Optimizers => _optimizers;

    /// <summary>Random source of the training initial states (its state belongs in a resume checkpoint).</summary>
    public FFRandom StateRandom => _stateRandom;

    /// <inheritdoc />
    public Architecture Architecture => Architecture.Ffrnn;

    /// <summary>"layers.{i}" (labelled "layer {i+1}").</summary>
    protected internal override IEnumerable<ChildModule> Children() =>
        _layers.Select((l, i) => new ChildModule($"layers.{i}", $"layer {i + 1}", l));

    /// <inheritdoc />
    public JsonObject ConfigToJson() => FFRecurrentArchitecture.WriteConfig(Config);

    /// <inheritdoc />
    public IReadOnlyList<int> HiddenWidths => _layers.Select(l => l.Width).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<NeuronSlice> NeuronSlices(int layer)
    {
        // A neuron's rows in its own Wf, Wb and b; its column in the forward weights of the layer
        // above and in the backward weights of the layer below (both read its state).
        var slices = new List<NeuronSlice> { new($"layers.{layer}.forward_weight", 0), new($"layers.{layer}.backward_weight", 0), new($"layers.{layer}.bias", 0) };
        if (layer + 1 < _layers.Length) slices.Add(new($"layers.{layer + 1}.forward_weight", 1));
        if (layer > 0) slices.Add(new($"layers.{layer - 1}.backward_weight", 1));
        return slices;
    }

    /// <inheritdoc />
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) => FFRecurrentArchitecture.WriteConfig(Config with { HiddenSizes = widths.ToArray() });

    /// <inheritdoc />
    public int ImageFeatures => Config.ImageFeatures;

    /// <inheritdoc />
    public int Classes => Config.Classes;

    /// <inheritdoc />
    public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs) => Enumerable.Repeat(TrainingPhase.ForwardForward, requestedEpochs).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<string> LossNames(TrainingPhase phase) => Enumerable.Range(1, _layers.Length).Select(i => $"layer {i}").ToArray();

    /// <inheritdoc />
    public IReadOnlyList<AdamOptimizer> AllOptimizers => _optimizers;

    /// <inheritdoc />
    public LayerActivationObserver? ActivationObserver { get; set; }

    /// <inheritdoc />
    public LossDirection ScoreDirection => Config.Loss;

    /// <summary>Test hook: supplies the initial row of (layer index, negative half) instead of the random one.</summary>
    internal Func<int, bool, float[]>? InitialStateOverride { get; set; }

    /// <summary>Test hook: all states after each training frame.</summary>
    internal Action<int, float[][]>? FrameObserver { get; set; }

    /// <summary>Test hook: the states after the first sweep (positives then negatives, per hidden layer).</summary>
    internal Action<float[][]>? SweepObserver { get; set; }

    /// <summary>
    /// Whether a layer's weight gradients are computed for the neurons active in the batch only,
    /// with the silent neurons' zero rows implied (bit-identical to the full products; switched off by tests to compare).
    /// </summary>
    internal bool UseSparseGradient { get; set; } = true;

    /// <summary>How many layer steps took the active-neurons-only gradient (for tests and diagnostics).</summary>
    internal int SparseGradientSteps { get; private set; }

    /// <inheritdoc />
    protected override void ReleaseWorkspaces()
    {
        DeviceWorkspace.Free(ref _train);
        DeviceWorkspace.Free(ref _predict);
    }

    /// <summary>
    /// Mean goodness per (image, label): row i, column c averages softplus(mean h² − θ) over the
    /// hidden layers and the frames after K_testlow, with the top state onehot(c). Initial states
    /// come from <see cref="FFRecurrentConfig.PredictionSeed"/>, so scores are reproducible. Safe
    /// to call from several threads at once.
    /// </summary>
    public Matrix LabelScores(Matrix images)
    {
        CheckImages(images);
        var be = Backend;
        int n = images.Rows, classes = Classes;
        var scores = new Matrix(n, classes);
        int chunk = Math.Max(1, be.PreferredRows / 20); // 32 images (320 rows) on the CPU
        var init = PredictionInitialRows();
        int scored = Config.TestFrameHigh - Config.TestFrameLow - 1;
        int maxRows = Math.Min(chunk, n) * classes;
        // Buffers (and the prepared weights) are kept between calls: evaluation calls this once per
        // chunk of the test set. A call takes them and puts them back, so a concurrent call allocates its own.
        var t = DeviceWorkspace.Take(ref _predict, kept => kept.Rows >= maxRows) ?? new FFRecurrentBuffers(be, maxRows, Config);
        // The weights are fixed during prediction and every one of them is used in the sweep and in
        // each of the K_testhigh frames of every chunk: prepare (pack) them for the products once per call.
        var prepared = PackWeightsForPrediction ? t.Prepare(be, this) : null;
        try
        {
            // Row i·classes + c starts from label c's initial rows: the same for every chunk, laid out once.
            if (t.InitialRows is null || t.InitialRowsCount != maxRows)
            {
                foreach (var old in t.InitialRows ?? []) t.Free(old);
                t.InitialRows = new DeviceArray[_layers.Length];
                for (int l = 0; l < _layers.Length; l++)
                {
                    int w = _layers[l].Width;
                    var host = new float[maxRows * w];
                    for (int r = 0; r < maxRows; r++) init[r % classes][l].CopyTo(host.AsSpan(r * w));
                    t.InitialRows[l] = t.Attach(host);
                }
                t.InitialRowsCount = maxRows;
            }
            var top = new float[maxRows * classes];
            for (int r = 0; r < maxRows; r++) top[r * classes + r % classes] = 1f;
            var staged = t.StageImages(images.Data, n * ImageFeatures);
            var acc = new double[maxRows];
            for (int start = 0; start < n; start += chunk)
            {
                int count = Math.Min(chunk, n - start), rows = count * classes;
                var states = t.States;
                be.GatherRows(staged.Slice(start * ImageFeatures, count * ImageFeatures), ImageFeatures, states[0], rows, 1, classes, count);
                be.Write(top.AsSpan(0, rows * classes), states[^1].Slice(0, rows * classes));
                for (int l = 0; l < _layers.Length; l++) be.Copy(t.InitialRows[l].Slice(0, rows * _layers[l].Width), states[l + 1].Slice(0, rows * _layers[l].Width));
                // Row i·classes + c holds image i: layer 1's image product is computed once per chunk
                // (count rows) and serves the sweep and every frame, the weights being fixed.
                var image = ShareImageProduct ? (t.ImageProduct ??= new FFRecurrentImageProduct(this, t)).Reset(count, divisor: classes, modulo: count) : null;
                Array.Clear(acc);
                RunFrames(t, rows, prepared, image, (frame, l, ms) =>
                {
                    if (frame <= Config.TestFrameLow) return;
                    var goodness = be.Read(ms);
                    for (int r = 0; r < rows; r++) acc[r] += Kernels.Softplus(goodness[r] - Config.Threshold);
                });
                for (int r = 0; r < rows; r++) scores.Data[start * classes + r] = (float)(acc[r] / (scored * _layers.Length));
            }
        }
        finally { DeviceWorkspace.Keep(ref _predict, t); }
        return scores;
    }

    /// <summary>
    /// The pass every read-out shares (prediction, activations): the sweep, then K_testhigh
    /// frames over the buffers' states; <paramref name="visit"/> sees every layer's mean squares
    /// per frame (when given, they are computed).
    /// </summary>
    private void RunFrames(FFRecurrentBuffers t, int rows, object?[]? prepared, FFRecurrentImageProduct? image, Action<int, int, DeviceSpan>? visit)
    {
        var be = Backend;
        Sweep(t, rows, prepared, image);
        for (int frame = 0; frame < Config.TestFrameHigh; frame++)
        {
            Normalise(t.States, rows, t.Normed);
            for (int i = 1; i <= _layers.Length; i++)
            {
                int w = _layers[i - 1].Width;
                var nw = t.Next[i].Slice(0, rows * w);
                Update(i - 1, t.Normed[i - 1], t.Normed[i + 1], t.States[i], rows, t.Pre.Slice(0, rows * w), nw, prepared, image);
                if (visit is not null && frame > Config.TestFrameLow)
                {
                    var ms = t.MeanSquares.Slice(0, rows);
                    be.MeanSquares(nw, rows, w, ms);
                    visit(frame, i - 1, ms);
                }
            }
            for (int i = 1; i <= _layers.Length; i++) (t.States[i], t.Next[i]) = (t.Next[i], t.States[i]);
        }
    }

    /// <summary>One uniform initial row per label and layer (and one more for "no label"), from the prediction seed.</summary>
    /// <summary>Test hook: the initial rows [label][layer][unit] prediction starts from instead of the seeded ones (the original's recorded draws).</summary>
    internal float[][][]? PredictionInitialRowsOverride { get; set; }

    private float[][][] PredictionInitialRows()
    {
        if (PredictionInitialRowsOverride is { } given) return given;
        var initRandom = new FFRandom(Config.PredictionSeed);
        var init = new float[Classes + 1][][];
        for (int c = 0; c <= Classes; c++)
        {
            init[c] = new float[_layers.Length][];
            for (int l = 0; l < _layers.Length; l++)
            {
                init[c][l] = new float[_layers[l].Width];
                for (int j = 0; j < init[c][l].Length; j++) init[c][l][j] = initRandom.NextSingle();
            }
        }
        return init;
    }

    private FFRecurrentBuffers? _train, _predict;

    /// <summary>
    /// Whether layer 1's image product (x̂_image·W_fᵀ) is computed once for the rows that share an
    /// image (the positive and negative halves in training, the ten labels at prediction) and reused
    /// while the forward weights stay the same (across frames and the sweep). Bit-identical to the
    /// plain products: a row's product does not depend on the other rows. Switched off by tests to compare.
    /// </summary>
    internal bool ShareImageProduct { get; set; } = true;

    /// <summary>Whether <see cref="LabelScores"/> packs the weights once per call (same bits either way; tests compare).</summary>
    internal bool PackWeightsForPrediction { get; set; } = true;

    /// <summary>
    /// Hidden states after the sweep and K_testhigh frames with the top state onehot(label) (all
    /// zeros when null), starting from the prediction seed's initial rows for that label.
    /// </summary>
    public Matrix[] LayerActivations(Matrix images, int? label)
    {
        CheckImages(images);
        if (label is int c0 && (uint)c0 >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(label), c0, $"label must be in [0, {Classes}).");
        var be = Backend;
        int rows = images.Rows;
        var chosen = PredictionInitialRows()[label ?? Classes];
        var t = new FFRecurrentBuffers(be, Math.Max(1, rows), Config);
        try
        {
            be.Write(images.Data.AsSpan(0, rows * ImageFeatures), t.States[0].Slice(0, rows * ImageFeatures));
            if (label is int c)
            {
                var top = new float[rows * Classes];
                for (int r = 0; r < rows; r++) top[r * Classes + c] = 1f;
                be.Write(top, t.States[^1].Slice(0, rows * Classes));
            }
            for (int l = 0; l < _layers.Length; l++) be.BroadcastRow(chosen[l], t.States[l + 1], rows);
            RunFrames(t, rows, prepared: null, image: null, visit: null);
            return Enumerable.Range(1, _layers.Length).Select(i => new Matrix(rows, _layers[i - 1].Width, be.Read(t.States[i].Slice(0, rows * _layers[i - 1].Width)).ToArray())).ToArray();
        }
        finally { t.Release(); } // sized for this call's rows: not worth keeping
    }

    /// <inheritdoc />
    public int[] Predict(Matrix images) => LabelProbe.Predict(LabelScores(images), Config.Loss);

    /// <summary>Every hidden level's rows [offset, offset + count) set to one uniform [0, 1) row.</summary>
    private void FillInitialStates(DeviceSpan[] states, int count, int offset, FFRandom random)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            int w = _layers[l].Width;
            var row = new float[w];
            for (int j = 0; j < w; j++) row[j] = random.NextSingle();
            if (InitialStateOverride is { } provide) row = provide(l, offset > 0);
            Backend.BroadcastRow(row, states[l + 1].Slice(offset * w, count * w), count);
        }
    }

    /// <summary>The sequential first pass: layer 1, 2, … each from the just-updated layer below.</summary>
    private void Sweep(FFRecurrentBuffers t, int rows, object?[]? prepared, FFRecurrentImageProduct? image)
    {
        var be = Backend;
        var d = Config.Dimensions;
        for (int i = 1; i <= _layers.Length; i++)
        {
            var below = t.SweepBelow.Slice(0, rows * d[i - 1]);
            var above = t.SweepAbove.Slice(0, rows * d[i + 1]);
            be.NormalizeRows(t.States[i - 1], rows, d[i - 1], below);
            be.NormalizeRows(t.States[i + 1], rows, d[i + 1], above);
            int w = d[i];
            if (i == 1) image?.Compute(below, prepared?[0]);
            var fresh = t.SweepFresh.Slice(0, rows * w);
            Update(i - 1, below, above, t.States[i], rows, t.SweepPre.Slice(0, rows * w), fresh, prepared, image);
            be.Copy(fresh, t.States[i].Slice(0, rows * w));
        }
    }

    /// <summary>Layer li's damped update (<see cref="FFRecurrentLayer.Forward"/>), layer 1's product from below taken from the shared image product when there is one.
    /// <paramref name="prepared"/>: [Wf₀, …, Wb₀, …] prepared for this call, or null.</summary>
    private void Update(int li, DeviceSpan belowNormed, DeviceSpan aboveNormed, DeviceSpan old, int rows, DeviceSpan pre, DeviceSpan result,
        object?[]? prepared, FFRecurrentImageProduct? image)
    {
        var layer = _layers[li];
        bool shared = li == 0 && image is not null;
        if (shared) image!.CopyRows(pre, rows); // layer 1's input from below is the image, shared by many rows
        layer.Forward(Backend, LayerOnDevice(li), belowNormed, aboveNormed, old, rows, Config.Beta, pre, result,
            belowProductInPre: shared, prepared?[li], prepared?[_layers.Length + li]);
    }

    /// <summary>Layer li's Wf, Wb and b as the backend holds them.</summary>
    private (DeviceSpan Forward, DeviceSpan Backward, DeviceSpan Bias) LayerOnDevice(int li) =>
        (Device(_layers[li].ForwardParameter), Device(_layers[li].BackwardParameter), Device(_layers[li].BiasParameter));

    private void Normalise(DeviceSpan[] states, int rows, DeviceSpan[] result)
    {
        var d = Config.Dimensions;
        for (int i = 0; i < states.Length; i++) Backend.NormalizeRows(states[i], rows, d[i], result[i]);
    }

    private void CheckImages(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != ImageFeatures)
            throw new ArgumentException($"images has {images.Cols} columns but the network expects {ImageFeatures} pixels per image.", nameof(images));
    }
}
