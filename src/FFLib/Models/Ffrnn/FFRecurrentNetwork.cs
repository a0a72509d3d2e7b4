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
public sealed class FFRecurrentNetwork : Module, ITrainableModel, ILabelScorer, IActivationSource, INeuronPrunable, IRandomStateOwner
{
    private readonly FFRecurrentLayer[] _layers;
    private readonly AdamOptimizer[] _optimizers;
    private readonly float[][] _gradF, _gradB, _gradBias;
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
        (_optimizers, _gradF, _gradB, _gradBias) = CreateOptimizers();
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
        (_optimizers, _gradF, _gradB, _gradBias) = CreateOptimizers();
    }

    private (AdamOptimizer[], float[][], float[][], float[][]) CreateOptimizers() => (
        _layers.Select(l => new AdamOptimizer(new AdamSettings(Config.LearningRate), l.ForwardWeight.Data, l.BackwardWeight.Data, l.Bias)).ToArray(),
        _layers.Select(l => new float[l.ForwardWeight.Length]).ToArray(),
        _layers.Select(l => new float[l.BackwardWeight.Length]).ToArray(),
        _layers.Select(l => new float[l.Width]).ToArray());

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
    /// with the silent neurons' zero rows implied (bit-identical to the full products; switch off to compare).
    /// </summary>
    public bool UseSparseGradient { get; set; } = true;

    /// <summary>How many layer steps took the active-neurons-only gradient (for tests and diagnostics).</summary>
    internal int SparseGradientSteps { get; private set; }

    /// <summary>Test hook: layer index, frame, loss, per-row mean squares and gradients (Wf, Wb, b) before each Adam step.</summary>
    internal Action<int, int, float, float[], float[], float[], float[]>? StepObserver { get; set; }

    /// <inheritdoc />
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase)
    {
        if (phase != TrainingPhase.ForwardForward) throw new ArgumentException($"An FFRNN trains only in the ForwardForward phase, not {phase}.", nameof(phase));
        CheckImages(images);
        ArgumentNullException.ThrowIfNull(negativeControl);
        int b = images.Rows;
        if (labels.Length != b) throw new ArgumentException($"labels has {labels.Length} entries but images has {b} rows.", nameof(labels));
        if (negativeControl.Rows != b || negativeControl.Cols != Classes)
            throw new ArgumentException($"negativeControl is {negativeControl.Rows}×{negativeControl.Cols} but must be {b}×{Classes}.", nameof(negativeControl));
        for (int i = 0; i < b; i++)
            if ((uint)labels[i] >= (uint)Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is outside [0, {Classes}).");

        int rows = 2 * b;
        // Buffers are kept across batches: large arrays allocated per batch only pile up on the LOH.
        if (_train is null || _train.Rows != rows) _train = new Buffers(rows, this);
        var (states, next, normed, work) = (_train.States, _train.Next, _train.Normed, _train.Work);
        foreach (var level in states) Array.Clear(level);
        // Bottom: the image for both halves; top: onehot(label) for positives, onehot(wrong label) for negatives.
        images.Data.AsSpan(0, b * ImageFeatures).CopyTo(states[0]);
        images.Data.AsSpan(0, b * ImageFeatures).CopyTo(states[0].AsSpan(b * ImageFeatures));
        var top = states[^1];
        for (int r = 0; r < b; r++) top[r * Classes + labels[r]] = 1f;
        negativeControl.Data.AsSpan(0, b * Classes).CopyTo(top.AsSpan(b * Classes));
        // Positive and negative halves each start from their own uniform row.
        FillInitialStates(states, b, 0, _stateRandom);
        FillInitialStates(states, b, b, _stateRandom);
        // Both halves hold the same images, so layer 1's image product is computed for b rows and
        // shared; it stays valid until layer 1's forward weights change (docs/performance.md, identity 7).
        var image = ShareImageProduct ? (_train.Image ??= new ImageProduct(this)).Reset(b, divisor: 1, modulo: b) : null;
        Sweep(states, rows, _train.Sweep, image: image);
        SweepObserver?.Invoke(states.Select(x => (float[])x.Clone()).ToArray());

        var losses = new double[_layers.Length];
        for (int frame = 0; frame < Config.TrainFrames; frame++)
        {
            Normalise(states, rows, normed);
            for (int i = 1; i <= _layers.Length; i++)
            {
                int li = i - 1, w = _layers[li].Width;
                var pre = work.Pre.AsSpan(0, rows * w);
                var nw = next[i].AsSpan(0, rows * w);
                Update(li, normed[i - 1], normed[i + 1], states[i], rows, pre, nw, image: image);
                Kernels.MeanSquares(nw, rows, w, work.MeanSquares);
                ActivationObserver?.Invoke(new LayerActivation(li, frame, rows, b, w, nw, work.MeanSquares.AsSpan(0, rows)));
                float loss = FFLoss.LossAndRowCoefficients(work.MeanSquares.AsSpan(0, rows), b, Config.Threshold, Config.Loss, w, work.Coefficient);
                losses[li] += loss / Config.TrainFrames;
                // δ_pre = coef_r · new · β · [pre > 0]: the (1 − β)·old term carries no gradient.
                for (int r = 0; r < rows; r++)
                {
                    float c = work.Coefficient[r] * Config.Beta;
                    var pr = pre.Slice(r * w, w);
                    var nr = nw.Slice(r * w, w);
                    for (int j = 0; j < w; j++) pr[j] = pr[j] > 0f ? c * nr[j] : 0f;
                }
                var layer = _layers[li];
                int inF = layer.ForwardWeight.Cols, inB = layer.BackwardWeight.Cols;
                Kernels.ColumnSums(pre, rows, w, _gradBias[li]);
                // Neurons with pre ≤ 0 on every row have zero rows in both weight gradients: the
                // products run over the active neurons only (bit-identical, as in FFNetwork).
                var activeNeurons = UseSparseGradient ? _train.Active ??= new ActiveNeurons(rows, Config.HiddenSizes.Max()) : null;
                if (activeNeurons is not null && activeNeurons.TryCompact(pre, rows, w))
                {
                    var columns = activeNeurons.Columns;
                    activeNeurons.WeightGradient(normed[i - 1], inF, _gradF[li]);
                    activeNeurons.WeightGradient(normed[i + 1], inB, _gradB[li]);
                    SparseGradientSteps++;
                    if (StepObserver is null)
                    {
                        _optimizers[li].StepRowSparse(w, columns, [_gradF[li], _gradB[li], _gradBias[li]], [0, 1]);
                    }
                    else
                    {
                        Kernels.SpreadRows(_gradF[li], columns, inF, w);
                        Kernels.SpreadRows(_gradB[li], columns, inB, w);
                        StepObserver(li, frame, loss, work.MeanSquares.AsSpan(0, rows).ToArray(), _gradF[li], _gradB[li], _gradBias[li]);
                        _optimizers[li].Step([_gradF[li], _gradB[li], _gradBias[li]]);
                    }
                }
                else
                {
                    Gemm.Multiply(true, false, w, inF, rows, pre, w, normed[i - 1], inF, _gradF[li], inF, false);
                    Gemm.Multiply(true, false, w, inB, rows, pre, w, normed[i + 1], inB, _gradB[li], inB, false);
                    StepObserver?.Invoke(li, frame, loss, work.MeanSquares.AsSpan(0, rows).ToArray(), _gradF[li], _gradB[li], _gradBias[li]);
                    _optimizers[li].Step([_gradF[li], _gradB[li], _gradBias[li]]);
                }
                // The layer's state for the next frame, from this frame's states and its new weights
                // (layer 1's image product anew: it serves this update and the next frame's first).
                if (li == 0) image?.Compute(normed[0], null);
                Update(li, normed[i - 1], normed[i + 1], states[i], rows, pre, nw, image: image);
            }
            for (int i = 1; i <= _layers.Length; i++) (states[i], next[i]) = (next[i], states[i]);
            FrameObserver?.Invoke(frame, states.Select(x => (float[])x.Clone()).ToArray());
        }
        return losses.Select(l => (float)l).ToArray();
    }

    /// <summary>
    /// Mean goodness per (image, label): row i, column c averages softplus(mean h² − θ) over the
    /// hidden layers and the frames after K_testlow, with the top state onehot(c). Initial states
    /// come from <see cref="FFRecurrentConfig.PredictionSeed"/>, so scores are reproducible.
    /// </summary>
    public Matrix LabelScores(Matrix images)
    {
        CheckImages(images);
        int n = images.Rows, classes = Classes;
        var scores = new Matrix(n, classes);
        const int chunk = 32;
        var initRandom = new FFRandom(Config.PredictionSeed);
        // One uniform initial row per label and layer, as the reference draws fresh states for every label's pass.
        var init = new float[classes][][];
        for (int c = 0; c < classes; c++)
        {
            init[c] = new float[_layers.Length][];
            for (int l = 0; l < _layers.Length; l++)
            {
                init[c][l] = new float[_layers[l].Width];
                for (int j = 0; j < init[c][l].Length; j++) init[c][l][j] = initRandom.NextSingle();
            }
        }
        int scored = Config.TestFrameHigh - Config.TestFrameLow - 1;
        int maxRows = Math.Min(chunk, n) * classes;
        // Buffers (and the packed weights) are kept between calls: evaluation calls this once per
        // chunk of the test set, and fresh state matrices each time only pile up on the large-object
        // heap. A call takes them and puts them back, so a concurrent call allocates its own.
        var buffers = Interlocked.Exchange(ref _predict, null) is { } kept && kept.Rows >= maxRows ? kept : new Buffers(maxRows, this);
        var (states, next, normed, work) = (buffers.States, buffers.Next, buffers.Normed, buffers.Work);
        // The weights are fixed during prediction and every one of them is used in the sweep and in
        // each of the K_testhigh frames of every chunk: pack them for the products once per call.
        var packed = PackWeightsForPrediction ? buffers.Packed ??= new PackedWeights(_layers.Length) : null;
        packed?.Refresh(_layers);
        try
        {
            for (int start = 0; start < n; start += chunk)
            {
                int count = Math.Min(chunk, n - start), rows = count * classes;
                foreach (var level in states) Array.Clear(level);
                for (int i = 0; i < count; i++)
                    for (int c = 0; c < classes; c++)
                    {
                        int r = i * classes + c;
                        images.Data.AsSpan((start + i) * ImageFeatures, ImageFeatures).CopyTo(states[0].AsSpan(r * ImageFeatures));
                        states[^1][r * classes + c] = 1f;
                        for (int l = 0; l < _layers.Length; l++) init[c][l].CopyTo(states[l + 1].AsSpan(r * _layers[l].Width));
                    }
                // Row i·classes + c holds image i: layer 1's image product is computed once per chunk
                // (count rows) and serves the sweep and every frame, the weights being fixed.
                var image = ShareImageProduct ? (buffers.Image ??= new ImageProduct(this)).Reset(count, divisor: classes, modulo: count) : null;
                Sweep(states, rows, buffers.Sweep, packed, image);
                var acc = new double[rows];
                for (int frame = 0; frame < Config.TestFrameHigh; frame++)
                {
                    Normalise(states, rows, normed);
                    for (int i = 1; i <= _layers.Length; i++)
                    {
                        int w = _layers[i - 1].Width;
                        var nw = next[i].AsSpan(0, rows * w);
                        Update(i - 1, normed[i - 1], normed[i + 1], states[i], rows, work.Pre.AsSpan(0, rows * w), nw, packed, image);
                        if (frame > Config.TestFrameLow)
                        {
                            Kernels.MeanSquares(nw, rows, w, work.MeanSquares);
                            for (int r = 0; r < rows; r++) acc[r] += Kernels.Softplus(work.MeanSquares[r] - Config.Threshold);
                        }
                    }
                    for (int i = 1; i <= _layers.Length; i++) (states[i], next[i]) = (next[i], states[i]);
                }
                for (int r = 0; r < rows; r++) scores.Data[start * classes + r] = (float)(acc[r] / (scored * _layers.Length));
            }
        }
        finally { _predict = buffers; }
        return scores;
    }

    private Buffers? _predict;

    /// <summary>
    /// Whether layer 1's image product (x̂_image·W_fᵀ) is computed once for the rows that share an
    /// image (the positive and negative halves in training, the ten labels at prediction) and reused
    /// while the forward weights stay the same (across frames and the sweep). Bit-identical to the
    /// plain products: a row's product does not depend on the other rows. Switch off to compare.
    /// </summary>
    public bool ShareImageProduct { get; set; } = true;

    /// <summary>
    /// Layer 1's product of the normalised images with its forward weights, for the rows that share
    /// them: row r of a state matrix holds image (r / divisor) mod modulo.
    /// </summary>
    private sealed class ImageProduct(FFRecurrentNetwork net)
    {
        private float[] _data = [];
        private float[] _images = [];
        private int _count, _divisor = 1, _modulo = 1;

        public ImageProduct Reset(int count, int divisor, int modulo)
        {
            (_count, _divisor, _modulo) = (count, divisor, modulo);
            int w = net._layers[0].Width, inF = net._layers[0].ForwardWeight.Cols;
            if (_data.Length < count * w) _data = new float[count * w];
            if (_images.Length < count * inF) _images = new float[count * inF];
            return this;
        }

        /// <summary>Recomputes the product with the current weights from the normalised level-0 states.</summary>
        public void Compute(ReadOnlySpan<float> normedStates, PackedWeights? packed)
        {
            var layer = net._layers[0];
            int w = layer.Width, inF = layer.ForwardWeight.Cols;
            // One row per image: row (i·divisor) of the states holds image i.
            for (int i = 0; i < _count; i++) normedStates.Slice(i * _divisor * inF, inF).CopyTo(_images.AsSpan(i * inF, inF));
            if (packed is not null) Gemm.Multiply(false, _count, _images, inF, packed.Forward[0], _data, w, accumulate: false);
            else Gemm.Multiply(false, true, _count, w, inF, _images, inF, layer.ForwardWeight.Data, inF, _data, w, accumulate: false);
        }

        public ReadOnlySpan<float> Row(int r)
        {
            int w = net._layers[0].Width;
            return _data.AsSpan((r / _divisor % _modulo) * w, w);
        }
    }

    /// <summary>Whether <see cref="LabelScores"/> packs the weights once per call (same bits either way; tests compare).</summary>
    internal bool PackWeightsForPrediction { get; set; } = true;

    /// <summary>Every layer's forward and backward weights packed for the state-update products.</summary>
    private sealed class PackedWeights(int layers)
    {
        public PackedMatrix[] Forward { get; } = new PackedMatrix[layers];
        public PackedMatrix[] Backward { get; } = new PackedMatrix[layers];

        public void Refresh(FFRecurrentLayer[] layers)
        {
            for (int l = 0; l < layers.Length; l++)
            {
                var f = layers[l].ForwardWeight; var b = layers[l].BackwardWeight;
                Forward[l] = Gemm.Pack(true, f.Cols, f.Rows, f.Data, f.Cols, Forward[l]);
                Backward[l] = Gemm.Pack(true, b.Cols, b.Rows, b.Data, b.Cols, Backward[l]);
            }
        }
    }

    /// <summary>
    /// Hidden states after the sweep and K_testhigh frames with the top state onehot(label) (all
    /// zeros when null), starting from the prediction seed's initial rows for that label.
    /// </summary>
    public Matrix[] LayerActivations(Matrix images, int? label)
    {
        CheckImages(images);
        if (label is int c0 && (uint)c0 >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(label), c0, $"label must be in [0, {Classes}).");
        int rows = images.Rows;
        var initRandom = new FFRandom(Config.PredictionSeed);
        var init = new float[Classes + 1][][];
        for (int c = 0; c <= Classes; c++)
            init[c] = _layers.Select(l => Enumerable.Range(0, l.Width).Select(_ => initRandom.NextSingle()).ToArray()).ToArray();
        var chosen = init[label ?? Classes];
        var buffers = new Buffers(rows, this);
        var (states, next, normed, work) = (buffers.States, buffers.Next, buffers.Normed, buffers.Work);
        images.Data.AsSpan(0, rows * ImageFeatures).CopyTo(states[0]);
        for (int r = 0; r < rows; r++)
        {
            if (label is int c) states[^1][r * Classes + c] = 1f;
            for (int l = 0; l < _layers.Length; l++) chosen[l].CopyTo(states[l + 1].AsSpan(r * _layers[l].Width));
        }
        Sweep(states, rows, buffers.Sweep);
        for (int frame = 0; frame < Config.TestFrameHigh; frame++)
        {
            Normalise(states, rows, normed);
            for (int i = 1; i <= _layers.Length; i++)
                Update(i - 1, normed[i - 1], normed[i + 1], states[i], rows, work.Pre.AsSpan(0, rows * _layers[i - 1].Width), next[i].AsSpan(0, rows * _layers[i - 1].Width));
            for (int i = 1; i <= _layers.Length; i++) (states[i], next[i]) = (next[i], states[i]);
        }
        return Enumerable.Range(1, _layers.Length).Select(i => new Matrix(rows, _layers[i - 1].Width, states[i])).ToArray();
    }

    /// <inheritdoc />
    public int[] Predict(Matrix images)
    {
        var s = LabelScores(images);
        var result = new int[images.Rows];
        for (int i = 0; i < result.Length; i++)
            result[i] = Config.Loss == LossDirection.Minimize ? TensorPrimitives.IndexOfMin(s.Row(i)) : TensorPrimitives.IndexOfMax(s.Row(i));
        return result;
    }

    /// <summary>Zeroed state buffers for every level (image, hidden…, label), rows × width each.</summary>
    private float[][] NewStates(int rows) => Config.Dimensions.Select(d => new float[rows * d]).ToArray();

    /// <summary>Every hidden level's rows [offset, offset + count) set to one uniform [0, 1) row.</summary>
    private void FillInitialStates(float[][] states, int count, int offset, FFRandom random)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            int w = _layers[l].Width;
            var row = new float[w];
            for (int j = 0; j < w; j++) row[j] = random.NextSingle();
            if (InitialStateOverride is { } provide) row = provide(l, offset > 0);
            for (int r = 0; r < count; r++) row.CopyTo(states[l + 1].AsSpan((offset + r) * w));
        }
    }

    /// <summary>The sequential first pass: layer 1, 2, … each from the just-updated layer below.</summary>
    private void Sweep(float[][] states, int rows, float[][] scratch, PackedWeights? packed = null, ImageProduct? image = null)
    {
        var d = Config.Dimensions;
        var (pre, below, above, fresh) = (scratch[0], scratch[1], scratch[2], scratch[3]);
        for (int i = 1; i <= _layers.Length; i++)
        {
            NormaliseInto(states[i - 1], rows, d[i - 1], below);
            NormaliseInto(states[i + 1], rows, d[i + 1], above);
            int w = d[i];
            if (i == 1) image?.Compute(below, packed);
            Update(i - 1, below, above, states[i], rows, pre.AsSpan(0, rows * w), fresh.AsSpan(0, rows * w), packed, image);
            fresh.AsSpan(0, rows * w).CopyTo(states[i]);
        }
    }

    /// <summary>pre = x̂_below·Wfᵀ + x̂_above·Wbᵀ + b; result = β·ReLU(pre) + (1 − β)·old.</summary>
    private void Update(int li, ReadOnlySpan<float> belowNormed, ReadOnlySpan<float> aboveNormed, ReadOnlySpan<float> old, int rows, Span<float> pre, Span<float> result,
        PackedWeights? packed = null, ImageProduct? image = null)
    {
        var layer = _layers[li];
        int w = layer.Width, inF = layer.ForwardWeight.Cols, inB = layer.BackwardWeight.Cols;
        if (li == 0 && image is not null)
        {
            // Layer 1's input from below is the image, shared by many rows: copy its product.
            for (int r = 0; r < rows; r++) image.Row(r).CopyTo(pre.Slice(r * w, w));
        }
        else if (packed is not null)
            Gemm.Multiply(false, rows, belowNormed, inF, packed.Forward[li], pre, w, accumulate: false);
        else
            Gemm.Multiply(false, true, rows, w, inF, belowNormed, inF, layer.ForwardWeight.Data, inF, pre, w, accumulate: false);
        if (packed is not null)
            Gemm.Multiply(false, rows, aboveNormed, inB, packed.Backward[li], pre, w, accumulate: true);
        else
            Gemm.Multiply(false, true, rows, w, inB, aboveNormed, inB, layer.BackwardWeight.Data, inB, pre, w, accumulate: true);
        float beta = Config.Beta;
        for (int r = 0; r < rows; r++)
        {
            var p = pre.Slice(r * w, w);
            TensorPrimitives.Add(p, layer.Bias, p);
            var res = result.Slice(r * w, w);
            TensorPrimitives.Max(p, 0f, res);
            TensorPrimitives.Multiply(res, beta, res);
            TensorPrimitives.MultiplyAdd(old.Slice(r * w, w), 1f - beta, res, res);
        }
    }

    private void Normalise(float[][] states, int rows, float[][] result)
    {
        var d = Config.Dimensions;
        for (int i = 0; i < states.Length; i++) NormaliseInto(states[i], rows, d[i], result[i]);
    }

    /// <summary>Row-normalised copy: x / (‖x‖ + 1e-4).</summary>
    private static void NormaliseInto(ReadOnlySpan<float> x, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
        {
            var src = x.Slice(r * cols, cols);
            float inv = 1f / (TensorPrimitives.Norm(src) + Kernels.NormEpsilon);
            TensorPrimitives.Multiply(src, inv, dst.Slice(r * cols, cols));
        }
    }

    private void CheckImages(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != ImageFeatures)
            throw new ArgumentException($"images has {images.Cols} columns but the network expects {ImageFeatures} pixels per image.", nameof(images));
    }

    private Buffers? _train;

    /// <summary>Everything a pass over up to <see cref="Rows"/> state rows needs (training, prediction, analysis).</summary>
    private sealed class Buffers(int rows, FFRecurrentNetwork net)
    {
        public int Rows { get; } = rows;
        public float[][] States { get; } = net.NewStates(rows);
        public float[][] Next { get; } = net.NewStates(rows);
        public float[][] Normed { get; } = net.NewStates(rows);
        public Work Work { get; } = new(rows, net.Config);
        /// <summary>The sweep's pre-activations, normalised neighbours and fresh states.</summary>
        public float[][] Sweep { get; } = Enumerable.Range(0, 4).Select(_ => new float[rows * net.Config.Dimensions.Max()]).ToArray();
        public ImageProduct? Image { get; set; }
        /// <summary>Training only: the dead-neuron shortcut's scratch.</summary>
        public ActiveNeurons? Active { get; set; }
        /// <summary>Prediction only: the weights packed for the products.</summary>
        public PackedWeights? Packed { get; set; }
    }

    private sealed class Work(int rows, FFRecurrentConfig config)
    {
        public float[] Pre { get; } = new float[rows * config.HiddenSizes.Max()];
        public float[] MeanSquares { get; } = new float[rows];
        public float[] Coefficient { get; } = new float[rows];
    }
}
