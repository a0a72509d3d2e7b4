using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Layers;
using FFLib.Modules;
using FFLib.Optim;

namespace FFLib.Models;

/// <summary>
/// The FF CNN (<c>ffcnn</c>): convolutional FF layers, each h = ReLU(conv(x̂, W) + b) with
/// x̂ = x / (‖x‖ + 1e-4) over the whole input map (the FFNN's length normalisation, folded into the
/// product as there), goodness = mean over the layer's whole output map (positions × channels) of
/// h², the FFNN's loss and threshold, greedy layer-local Adam steps, optional 2×2 max-pooling
/// between layers. The label is an image added to the input (<see cref="LabelPatterns"/>):
/// positives carry their own class's pattern, negatives the control vector's. Prediction: the label
/// whose input gives the best ΣConvLayers softplus(goodness − θ), as the FFNN's probe.
/// </summary>
public sealed partial class FFConvNetwork : ConvNetwork, ITrainableModel, ILabelScorer, INeuronPrunable, IClassScorer
{
    private readonly AdamOptimizer[] _optimizers;
    private readonly ActivityRegularizer[]? _regularizers;
    private readonly float[] _patterns;
    private readonly ConvClassifierHead? _classifier;
    private readonly AdamOptimizer? _classifierOptimizer;
    private readonly ChannelBatchNorm[]? _norms;

    /// <summary>A model of <paramref name="config"/>'s shape: initialised from <paramref name="random"/> (layer by layer, W then b), or all zeros without one (to be filled by a checkpoint or a pruning cut).</summary>
    public FFConvNetwork(FFConvNetworkConfig config, FFRandom? random)
        : base(Validated(config).Stack, config.Classes, config.Labels == LabelEncoding.Channels && config.Objective == ConvObjective.Contrast ? config.Classes : 0, random)
    {
        // With label channels every layer reads K more input channels: the label planes after its own.
        Config = config;
        _norms = config.BatchNorm ? ConvLayers.Select(l => new ChannelBatchNorm(l.OutChannels)).ToArray() : null;
        // A layer's optimiser also steps its normalisation's scale and shift (the running statistics are not trained).
        _optimizers = ConvLayers.Select((l, i) => new AdamOptimizer(new AdamSettings(config.LearningRate, WeightDecay: config.Regularization.WeightDecay),
            _norms is null ? [l.WeightParameter, l.BiasParameter] : [l.WeightParameter, l.BiasParameter, _norms[i].Gamma, _norms[i].Beta])).ToArray();
        // A channel is a unit of the activity regularisers: the (image, position) pairs are their rows.
        _regularizers = ActivityRegularizer.ForLayers(ConvLayers.Select(l => l.OutChannels), config.Regularization);
        if (config.Head == ConvHead.Linear)
        {
            var (c, h, w) = config.Stack.PooledShape(config.Stack.Count - 1);
            _classifier = new ConvClassifierHead(config.Classes, h, w, c, random);
            _classifierOptimizer = new AdamOptimizer(new AdamSettings(config.ClassifierLearningRate), _classifier.Parameters());
        }
        _patterns = LabelPatterns.Build(config.Labels, config.Stack.Image, config.Classes).Data;
    }

    private static FFConvNetworkConfig Validated(FFConvNetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return config;
    }

    /// <summary>The configuration.</summary>
    public FFConvNetworkConfig Config { get; }

    /// <inheritdoc />
    public Architecture Architecture => ArchitectureRegistry.Get(FFConvArchitecture.ArchitectureId);

    /// <inheritdoc />
    public LossDirection ScoreDirection => Competitive ? LossDirection.Maximize : Config.Loss;

    /// <inheritdoc />
    public IReadOnlyList<AdamOptimizer> AllOptimizers => _classifierOptimizer is { } co ? [.. _optimizers, co] : _optimizers;

    /// <inheritdoc />
    public LayerActivationObserver? ActivationObserver { get; set; }

    /// <summary>"layers.{i}", labelled "layer {i+1}".</summary>
    protected internal override IEnumerable<ChildModule> Children()
    {
        var layers = ConvLayers.Select((l, i) => new ChildModule($"layers.{i}", $"layer {i + 1}", l));
        if (_norms is not null) layers = layers.Concat(_norms.Select((n, i) => new ChildModule($"norms.{i}", $"layer {i + 1} normalisation", n)));
        return _classifier is null ? layers : layers.Append(new ChildModule("classifier", "classifier", _classifier));
    }

    /// <summary>The layers' activity regularisers (null when the config has none): their running means are training state.</summary>
    public IReadOnlyList<ActivityRegularizer>? Regularizers => _regularizers;

    /// <inheritdoc />
    protected internal override IEnumerable<LocalParameter> LocalBuffers() => _regularizers?.Select(r => r.RunningMean) ?? [];

    /// <inheritdoc />
    public JsonObject ConfigToJson() => FFConvArchitecture.WriteConfig(Config);

    /// <inheritdoc />
    public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs)
    {
        if (_classifier is null || requestedEpochs <= 0) return Enumerable.Repeat(TrainingPhase.ForwardForward, Math.Max(0, requestedEpochs)).ToArray();
        // As the FFNN+C: the FF layers for the first half (rounded up), then the classifier (at least one epoch).
        int ff = (requestedEpochs + 1) / 2, cls = Math.Max(1, requestedEpochs - ff);
        return [.. Enumerable.Repeat(TrainingPhase.ForwardForward, ff), .. Enumerable.Repeat(TrainingPhase.Classifier, cls)];
    }

    /// <inheritdoc />
    public IReadOnlyList<string> LossNames(TrainingPhase phase) =>
        phase == TrainingPhase.Classifier ? ["classifier"] : ConvLayers.Select((_, i) => $"layer {i + 1}").ToArray();

    private bool PerPosition => Config.Goodness == ConvGoodness.Position;

    /// <summary>
    /// One greedy FF step per layer: rows [0, b) are image + pattern(label), rows [b, 2b) image +
    /// control·patterns; each layer takes one Adam step on its loss, then its outputs are recomputed
    /// with the new weights and (pooled) handed to the next layer. Returns each layer's loss before its step.
    /// </summary>
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(negativeControl);
        if (phase == TrainingPhase.Classifier && _classifier is not null) return TrainClassifier(images, labels);
        if (phase != TrainingPhase.ForwardForward) throw new ArgumentException($"An FF CNN trains in the ForwardForward phase{(_classifier is null ? "" : " and its classifier in the Classifier phase")}, not {phase}.", nameof(phase));
        if (Competitive) return TrainCompetitive(images, labels);
        CheckImages(images);
        int b = images.Rows, rows = 2 * b, k = Classes, features = ImageFeatures;
        if (labels.Length != b) throw new ArgumentException($"labels has {labels.Length} entries but images has {b} rows.", nameof(labels));
        if (negativeControl.Rows != b || negativeControl.Cols != k) throw new ArgumentException($"negativeControl is {negativeControl.Rows}×{negativeControl.Cols} but must be {b}×{k}.", nameof(negativeControl));
        var control = new float[rows * k];
        for (int r = 0; r < b; r++)
        {
            if ((uint)labels[r] >= (uint)k) throw new ArgumentOutOfRangeException(nameof(labels), labels[r], $"Label {labels[r]} of row {r} is not one of the {k} classes.");
            control[r * k + labels[r]] = 1f;
        }
        negativeControl.Data.AsSpan(0, b * k).CopyTo(control.AsSpan(b * k));

        var be = Backend;
        var s = Work;
        var nhwc = ToNhwc(images);
        var x = s.Get("x0", rows * features);
        be.Write(nhwc, x.Slice(0, b * features));
        be.Write(nhwc, x.Slice(b * features, b * features));
        var controlOnDevice = s.Upload("control", control);
        if (!LabelPlanes) be.Gemm(false, false, rows, features, k, controlOnDevice, k, Device(_patterns), features, x, features, accumulate: true);

        var lossOut = s.Get("loss", ConvLayers.Length);
        for (int l = 0; l < ConvLayers.Length; l++)
        {
            var layer = ConvLayers[l];
            var g = layer.Geometry;
            int outSize = layer.OutputSize;
            var (h, invNorm, cols) = (s.Get("h", rows * outSize), s.Get("invnorm", rows), s.Get("cols", rows * g.Positions * g.PatchSize));
            if (!Shortcut) x = WithLabelPlanes(l, x, rows, control, "xlabels");
            LayerForward(l, x, rows, control, controlOnDevice, h, invNorm, cols, computeNorms: true, reuseColumns: false);
            // Goodness rows: one per image (the whole map) or one per image and position (its channels).
            var (gRows, gWidth) = PerPosition ? (rows * g.Positions, layer.OutChannels) : (rows, outSize);
            var (ms, coef) = (s.Get("ms", gRows), s.Get("coef", gRows));
            be.FFGoodnessAndLoss(h, gRows, gWidth, ms, PerPosition ? b * g.Positions : b, Config.Threshold, Config.Loss == LossDirection.Minimize, coef, lossOut.Slice(l, 1));
            if (ActivationObserver is { } observe)
            {
                var imageMs = s.Get("msimage", rows);
                be.MeanSquares(h, rows, outSize, imageMs);
                observe(new LayerActivation(l, 0, rows, b, outSize, be.Read(h), be.Read(imageMs)));
            }

            // δ = coef·h (zero where ReLU is off); db = Σ over images and positions; dW = (δ/s_n)ᵀ·patches.
            var (gradW, gradB) = (DeviceGradient(layer.WeightParameter), DeviceGradient(layer.BiasParameter));
            if (_regularizers is { } regularizers)
            {
                // Peer normalisation / activity L1 over the (image, position) rows, positives first, added to δ.
                int units = rows * g.Positions * layer.OutChannels;
                var extra = s.Get("reg", units);
                regularizers[l].GradientUnchecked(be, h, rows * g.Positions, b * g.Positions, Device(regularizers[l].RunningMean), s.Get("regscratch", regularizers[l].ScratchLength), extra);
                be.ScaleRows(h, gRows, gWidth, coef);
                be.AddScaled(1f, extra.Slice(0, units), 1f, h.Slice(0, units));
            }
            else be.ScaleRows(h, gRows, gWidth, coef);
            be.ColumnSums(h, rows * g.Positions, layer.OutChannels, gradB);
            be.ScaleRows(h, rows, outSize, invNorm);
            if (Shortcut) ShortcutWeightGradient(l, h, cols, controlOnDevice, rows, gradW);
            else layer.WeightGradient(be, h, cols, rows, gradW);
            if (StepObserver is { } observeStep)
                observeStep(new TrainingStep(l, 0, be.Read(lossOut.Slice(l, 1))[0], be.Read(ms).ToArray(), [be.Read(gradW).ToArray(), be.Read(gradB).ToArray()]));
            _optimizers[l].Step(be, [Device(layer.WeightParameter), Device(layer.BiasParameter)], [gradW, gradB]);

            if (l + 1 == ConvLayers.Length) break;
            // The next layer learns from this layer's output under its new weights.
            LayerForward(l, x, rows, control, controlOnDevice, h, invNorm, cols, computeNorms: false, reuseColumns: true);
            x = Next(l, h, rows, s.Get($"x{(l + 1) % 2 + 1}", rows * PooledSize(l)));
        }
        return be.Read(lossOut).ToArray();
    }

    /// <summary>Layer l on rows of input x: h = ReLU((patches·Wᵀ)/s_n + b), with invNorm_n = 1/(‖x_n‖ + 1e-4) and the patches in cols.</summary>
    private void Forward(int l, DeviceSpan x, int rows, DeviceSpan h, DeviceSpan invNorm, DeviceSpan cols, bool computeNorms, bool reuseColumns)
    {
        var be = Backend;
        var layer = ConvLayers[l];
        var g = layer.Geometry;
        if (computeNorms)
        {
            be.InverseRowNorms(x, rows, g.InputSize, invNorm);
            // Competitive: x/RMS(x) rather than x/‖x‖ (with no label to hide, the layer may see the input's scale
            // of ~1 per value; the competitive softmax then starts from goodnesses that differ).
            if (Competitive) be.AddScaled(0f, invNorm, InputScale(l), invNorm);
        }
        if (reuseColumns) layer.ConvolveColumns(be, cols, rows, Device(layer.WeightParameter), h);
        else layer.Convolve(be, x, rows, Device(layer.WeightParameter), cols, h);
        be.ScaleBiasReluMaps(h, rows, g.Positions, layer.OutChannels, invNorm, Device(layer.BiasParameter));
    }

    /// <summary>Layer l's output as the next layer's input: pooled when the stack says so, else copied.</summary>
    private DeviceSpan Next(int l, DeviceSpan h, int rows, DeviceSpan next)
    {
        var g = ConvLayers[l].Geometry;
        if (Config.Stack.Layers[l].Pool)
            Backend.MaxPool(h, rows, g.OutHeight, g.OutWidth, ConvLayers[l].OutChannels, next, Work.Get("argmax", next.Length));
        else Backend.Copy(h.Slice(0, next.Length), next);
        return next;
    }

    /// <summary>Runs every layer on chunks of images with one label pattern (or none), handing each layer's output (rows × OH·OW·C, NHWC) to <paramref name="visit"/>.</summary>
    private void Run(Matrix images, int? label, Action<int, int, int, ReadOnlySpan<float>> visit)
    {
        CheckImages(images);
        var be = Backend;
        var s = Work;
        int features = ImageFeatures;
        var nhwc = ToNhwc(images);
        for (int start = 0; start < images.Rows; start += ChunkImages)
        {
            int n = Math.Min(ChunkImages, images.Rows - start);
            var x = s.Get("px0", n * features);
            if (label is int c && !LabelPlanes && !Competitive) be.BroadcastRow(_patterns.AsSpan(c * features, features), x, n);
            else be.Clear(x);
            be.AddScaled(1f, s.Upload("pimages", nhwc.AsSpan(start * features, n * features)), 1f, x);
            var control = new float[n * Classes];
            if (label is int cc) for (int r = 0; r < n; r++) control[r * Classes + cc] = 1f;
            ForwardAll(x, n, control, "p", (l, h) => visit(l, start, n, be.Read(h)));
        }
    }

    /// <summary>Row i, column c: ΣConvLayers softplus(goodness − θ) of image i with class c's pattern (competitive: class c's goodness in the last layer, one pass).</summary>
    public Matrix LabelScores(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        return WithFixedWeights(() => Competitive ? CompetitiveScores(images) : ScoreEveryLabel(images));
    }

    private Matrix ScoreEveryLabel(Matrix images)
    {
        var scores = new Matrix(images.Rows, Classes);
        for (int c = 0; c < Classes; c++)
            Run(images, c, (l, start, n, h) =>
            {
                int size = ConvLayers[l].OutputSize, positions = ConvLayers[l].Geometry.Positions;
                if (PerPosition)
                {
                    // The mean over positions of each position's softplus(goodness − θ).
                    var ms = new float[n * positions];
                    Kernels.MeanSquares(h, n * positions, ConvLayers[l].OutChannels, ms);
                    for (int r = 0; r < n; r++)
                    {
                        double sum = 0;
                        for (int q = 0; q < positions; q++) sum += FFLoss.Softplus(ms[r * positions + q] - Config.Threshold);
                        scores[start + r, c] += (float)(sum / positions);
                    }
                }
                else
                {
                    var ms = new float[n];
                    Kernels.MeanSquares(h, n, size, ms);
                    for (int r = 0; r < n; r++) scores[start + r, c] += FFLoss.Softplus(ms[r] - Config.Threshold);
                }
            });
        return scores;
    }

    /// <inheritdoc />
    public int[] Predict(Matrix images) =>
        _classifier is null ? LabelProbe.Predict(LabelScores(images), ScoreDirection) : ArgMaxRows(Logits(images));

    /// <summary>What the model predicts from, highest wins: the linear head's logits, or the label scores (negated under L−).</summary>
    public Matrix ClassScores(Matrix images)
    {
        if (_classifier is not null) return Logits(images);
        var scores = LabelScores(images);
        if (ScoreDirection == LossDirection.Minimize) System.Numerics.Tensors.TensorPrimitives.Negate(scores.Data, scores.Data);
        return scores;
    }

    /// <summary>The linear classifier's class scores (no label in the input), one row per image; only with the linear head.</summary>
    public Matrix Logits(Matrix images)
    {
        var head = _classifier ?? throw new InvalidOperationException("This FF CNN predicts by goodness; it has no linear classifier (head = linear).");
        CheckImages(images);
        var be = Backend;
        var s = Work;
        var nhwc = ToNhwc(images);
        var result = new Matrix(images.Rows, Classes);
        return WithFixedWeights(() =>
        {
            for (int start = 0; start < images.Rows; start += ChunkImages)
            {
                int n = Math.Min(ChunkImages, images.Rows - start);
                var top = Features(s.Upload("cx0", nhwc.AsSpan(start * ImageFeatures, n * ImageFeatures)), n);
                var logits = s.Get("clogits", n * Classes);
                head.Logits(be, top, n, Device(head.WeightParameter), Device(head.BiasParameter), logits);
                be.Read(logits).CopyTo(result.Data.AsSpan(start * Classes));
            }
            return result;
        });
    }

    /// <summary>The last layer's pooled map for n images with no label (zero control): the classifier's input.</summary>
    private DeviceSpan Features(DeviceSpan x, int n)
    {
        return ForwardAll(x, n, new float[n * Classes], "c", visit: null);
    }

    /// <summary>
    /// Every layer on n rows of input x (the label patterns already added) with one control vector per
    /// row (label planes), handing each layer's output before pooling to <paramref name="visit"/>;
    /// returns the last layer's pooled output. <paramref name="prefix"/> keeps the caller's buffers apart.
    /// </summary>
    private DeviceSpan ForwardAll(DeviceSpan x, int n, float[] control, string prefix, Action<int, DeviceSpan>? visit)
    {
        var s = Work;
        var controlOnDevice = s.Upload(prefix + "control", control);
        for (int l = 0; l < ConvLayers.Length; l++)
        {
            var layer = ConvLayers[l];
            var g = layer.Geometry;
            var (h, invNorm, cols) = (s.Get(prefix + "h", n * layer.OutputSize), s.Get(prefix + "invnorm", n), s.Get(prefix + "cols", n * g.Positions * g.PatchSize));
            if (!Shortcut) x = WithLabelPlanes(l, x, n, control, prefix + "xlabels");
            LayerForward(l, x, n, control, controlOnDevice, h, invNorm, cols, computeNorms: true, reuseColumns: false);
            if (_norms is not null) NormalizeWithRunningStatistics(l, h, n);
            visit?.Invoke(l, h);
            x = Next(l, h, n, s.Get($"{prefix}x{l % 2 + 1}", n * PooledSize(l)));
        }
        return x;
    }

    /// <summary>The images checked and each row's class as a float (what the device's cross-entropy reads); one clear line for a bad label.</summary>
    private float[] CheckedLabels(Matrix images, ReadOnlySpan<int> labels)
    {
        CheckImages(images);
        int b = images.Rows, k = Classes;
        if (labels.Length != b) throw new ArgumentException($"labels has {labels.Length} entries but images has {b} rows.", nameof(labels));
        var floats = new float[b];
        for (int i = 0; i < b; i++)
        {
            if ((uint)labels[i] >= (uint)k) throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Label {labels[i]} of row {i} is not one of the {k} classes.");
            floats[i] = labels[i];
        }
        return floats;
    }

    /// <summary>One Adam step of the classifier on the frozen FF layers' features (cross-entropy); returns its loss before the step.</summary>
    private float[] TrainClassifier(Matrix images, ReadOnlySpan<int> labels)
    {
        var head = _classifier!;
        var labelFloats = CheckedLabels(images, labels);
        int b = images.Rows, k = Classes;
        var be = Backend;
        var s = Work;
        var top = Features(s.Upload("cx0", ToNhwc(images)), b);
        var (logits, grad, loss) = (s.Get("clogits", b * k), s.Get("cgrad", b * k), s.Get("closs", 1));
        head.Logits(be, top, b, Device(head.WeightParameter), Device(head.BiasParameter), logits);
        be.CrossEntropyLossAndGradient(logits, b, k, s.Upload("clabels", labelFloats), grad, loss);
        var (gw, gb) = (DeviceGradient(head.WeightParameter), DeviceGradient(head.BiasParameter));
        head.Gradients(be, grad, top, b, gw, gb);
        if (StepObserver is { } observeStep)
            observeStep(new TrainingStep(ConvLayers.Length, 0, be.Read(loss)[0], [], [be.Read(gw).ToArray(), be.Read(gb).ToArray()]));
        _classifierOptimizer!.Step(be, [Device(head.WeightParameter), Device(head.BiasParameter)], [gw, gb]);
        return [be.Read(loss)[0]];
    }

    /// <summary>Each layer's output map (rows × OH·OW·channels, NHWC, before pooling) with <paramref name="label"/>'s pattern added (null: none).</summary>
    public override Matrix[] LayerActivations(Matrix images, int? label)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (label is int c && (uint)c >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(label), c, $"label must be one of the {Classes} classes.");
        var result = ConvLayers.Select(l => new Matrix(images.Rows, l.OutputSize)).ToArray();
        return WithFixedWeights(() =>
        {
            Run(images, label, (l, start, n, h) => h.Slice(0, n * ConvLayers[l].OutputSize).CopyTo(result[l].Data.AsSpan(start * ConvLayers[l].OutputSize)));
            return result;
        });
    }

    /// <summary>A channel owns its kernel (axis 0), bias and normalisation entries, and the next layer's input channel (axis 3 of its kernel).</summary>
    public IReadOnlyList<NeuronSlice> NeuronSlices(int layer)
    {
        NeuronSlice[] own = _norms is null
            ? [new($"layers.{layer}.weight", 0), new($"layers.{layer}.bias", 0)]
            : [new($"layers.{layer}.weight", 0), new($"layers.{layer}.bias", 0), new($"norms.{layer}.weight", 0), new($"norms.{layer}.bias", 0),
               new($"norms.{layer}.running_mean", 0), new($"norms.{layer}.running_var", 0)];
        return layer + 1 < ConvLayers.Length ? [.. own, new($"layers.{layer + 1}.weight", 3)]
            : _classifier is null ? own : [.. own, new("classifier.weight", 3)];
    }

    /// <inheritdoc />
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) =>
        Competitive && !widths.SequenceEqual(Config.Stack.Channels)
            ? throw new NotSupportedException("A competitive FF CNN's classes own particular channels: its cut config comes from the kept channels (ConfigWithKeptNeurons), not from widths alone.")
            : FFConvArchitecture.WriteConfig(Config with { Stack = Config.Stack with { Channels = widths.ToArray() } });

    /// <inheritdoc />
    public JsonObject ConfigWithKeptNeurons(IReadOnlyList<int[]> kept)
    {
        ArgumentNullException.ThrowIfNull(kept);
        return Competitive ? FFConvArchitecture.WriteConfig(CompetitiveCut(kept)) : ConfigWithHiddenWidths(kept.Select(k => k.Length).ToArray());
    }
}
