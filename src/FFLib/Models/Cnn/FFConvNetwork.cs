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
public sealed class FFConvNetwork : ConvNetwork, ITrainableModel, ILabelScorer, INeuronPrunable
{
    private readonly AdamOptimizer[] _optimizers;
    private readonly float[] _patterns;

    /// <summary>A model of <paramref name="config"/>'s shape: initialised from <paramref name="random"/> (layer by layer, W then b), or all zeros without one (to be filled by a checkpoint or a pruning cut).</summary>
    public FFConvNetwork(FFConvNetworkConfig config, FFRandom? random)
        : base(Validated(config).Stack, config.Classes, config.Labels == LabelEncoding.Channels ? config.Classes : 0, random)
    {
        // With label channels every layer reads K more input channels: the label planes after its own.
        Config = config;
        _optimizers = ConvLayers.Select(l => new AdamOptimizer(new AdamSettings(config.LearningRate), l.Parameters())).ToArray();
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
    public LossDirection ScoreDirection => Config.Loss;

    /// <inheritdoc />
    public IReadOnlyList<AdamOptimizer> AllOptimizers => _optimizers;

    /// <inheritdoc />
    public LayerActivationObserver? ActivationObserver { get; set; }

    /// <summary>"layers.{i}", labelled "layer {i+1}".</summary>
    protected internal override IEnumerable<ChildModule> Children() => ConvLayers.Select((l, i) => new ChildModule($"layers.{i}", $"layer {i + 1}", l));

    /// <inheritdoc />
    public JsonObject ConfigToJson() => FFConvArchitecture.WriteConfig(Config);

    /// <inheritdoc />
    public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs) => Enumerable.Repeat(TrainingPhase.ForwardForward, requestedEpochs).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<string> LossNames(TrainingPhase phase) => ConvLayers.Select((_, i) => $"layer {i + 1}").ToArray();

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
        if (phase != TrainingPhase.ForwardForward) throw new ArgumentException($"An FF CNN trains only in the ForwardForward phase, not {phase}.", nameof(phase));
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
            be.ScaleRows(h, gRows, gWidth, coef);
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
        if (computeNorms) be.InverseRowNorms(x, rows, g.InputSize, invNorm);
        if (reuseColumns) layer.ConvolveColumns(be, cols, rows, Device(layer.WeightParameter), h);
        else layer.Convolve(be, x, rows, Device(layer.WeightParameter), cols, h);
        be.ScaleRows(h, rows, layer.OutputSize, invNorm);
        be.BiasActivation(h, rows * g.Positions, layer.OutChannels, Device(layer.BiasParameter), relu: true);
    }

    private bool LabelPlanes => Config.Labels == LabelEncoding.Channels;

    /// <summary>Label channels through <see cref="LabelPlaneShortcut"/> (default) rather than materialised planes (the reference path the tests compare it with).</summary>
    internal bool UseLabelPlaneShortcut { get; set; } = true;

    private bool Shortcut => LabelPlanes && UseLabelPlaneShortcut;

    /// <summary>Layer l's forward: with label channels through the shortcut (x then holds only the layer's own channels), else <see cref="Forward"/>.</summary>
    private void LayerForward(int l, DeviceSpan x, int rows, float[] control, DeviceSpan controlOnDevice, DeviceSpan h, DeviceSpan invNorm, DeviceSpan cols, bool computeNorms, bool reuseColumns)
    {
        if (!Shortcut) { Forward(l, x, rows, h, invNorm, cols, computeNorms, reuseColumns); return; }
        var be = Backend;
        var s = Work;
        var layer = ConvLayers[l];
        var g = layer.Geometry;
        int k = Classes, outC = layer.OutChannels, positions = g.Positions;
        var own = g with { Channels = g.Channels - k };
        if (computeNorms)
        {
            // ‖x ⊕ planes‖² = ‖x‖² + (input positions)·‖v‖².
            var ms = s.Get("sc-ms", rows);
            be.MeanSquares(x, rows, own.InputSize, ms);
            var m = be.Read(ms).ToArray();
            var inv = new float[rows];
            for (int r = 0; r < rows; r++)
            {
                double v2 = 0;
                for (int c = 0; c < k; c++) v2 += (double)control[r * k + c] * control[r * k + c];
                inv[r] = (float)(1 / (Math.Sqrt((double)m[r] * own.InputSize + (double)g.Height * g.Width * v2) + Kernels.NormEpsilon));
            }
            be.Write(inv, invNorm.Slice(0, rows));
        }
        var weight = be.Read(Device(layer.WeightParameter)).ToArray();
        var (ownWeight, tapSums) = (new float[outC * own.PatchSize], new float[k * positions * outC]);
        LabelPlaneShortcut.Split(weight, own, outC, k, ownWeight, tapSums);
        if (!reuseColumns) be.Im2Col(x, rows, own, cols);
        be.Gemm(false, true, rows * positions, outC, own.PatchSize, cols, own.PatchSize, s.Upload("sc-wown", ownWeight), own.PatchSize, h, outC, accumulate: false);
        be.Gemm(false, false, rows, positions * outC, k, controlOnDevice, k, s.Upload("sc-taps", tapSums), positions * outC, h, positions * outC, accumulate: true);
        be.ScaleRows(h, rows, layer.OutputSize, invNorm);
        be.BiasActivation(h, rows * positions, outC, Device(layer.BiasParameter), relu: true);
    }

    /// <summary>dW through the shortcut: the own channels' part from the patches, the label part from D = controlᵀ·δ summed over each tap's in-image positions.</summary>
    private void ShortcutWeightGradient(int l, DeviceSpan delta, DeviceSpan cols, DeviceSpan controlOnDevice, int rows, DeviceSpan gradWeight)
    {
        var be = Backend;
        var s = Work;
        var layer = ConvLayers[l];
        var g = layer.Geometry;
        int k = Classes, outC = layer.OutChannels, positions = g.Positions;
        var own = g with { Channels = g.Channels - k };
        var ownGrad = s.Get("sc-gown", outC * own.PatchSize);
        be.Gemm(true, false, outC, own.PatchSize, rows * positions, delta, outC, cols, own.PatchSize, ownGrad, own.PatchSize, accumulate: false);
        var labelDeltas = s.Get("sc-d", k * positions * outC);
        be.Gemm(true, false, k, positions * outC, rows, controlOnDevice, k, delta, positions * outC, labelDeltas, positions * outC, accumulate: false);
        var full = new float[layer.Weight.Length];
        LabelPlaneShortcut.MergeGradient(be.Read(ownGrad).ToArray(), be.Read(labelDeltas).ToArray(), own, outC, k, full);
        be.Write(full, gradWeight);
    }

    /// <summary>Values per image of layer l's pooled output (the next layer's input without label planes).</summary>
    private int PooledSize(int l) { var (c, h, w) = Config.Stack.PooledShape(l); return c * h * w; }

    /// <summary>
    /// With label channels: x (rows × positions × C) with each row's control vector appended to every
    /// position as K more channels, in the buffer <paramref name="name"/>; otherwise x itself.
    /// </summary>
    private DeviceSpan WithLabelPlanes(int l, DeviceSpan x, int rows, float[] control, string name)
    {
        if (!LabelPlanes) return x;
        var g = ConvLayers[l].Geometry;
        int k = Classes, own = g.Channels - k, positions = g.Height * g.Width;
        var planes = new float[rows * positions * k];
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < positions; q++) control.AsSpan(r * k, k).CopyTo(planes.AsSpan((r * positions + q) * k, k));
        var s = Work;
        var wide = s.Get(name, rows * g.InputSize);
        Backend.CopyColumns(x, rows * positions, own, wide, g.Channels, 0);
        Backend.CopyColumns(s.Upload(name + "-planes", planes), rows * positions, k, wide, g.Channels, own);
        return wide;
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
            if (label is int c && !LabelPlanes) be.BroadcastRow(_patterns.AsSpan(c * features, features), x, n);
            else be.Clear(x);
            be.AddScaled(1f, s.Upload("pimages", nhwc.AsSpan(start * features, n * features)), 1f, x);
            var control = new float[n * Classes];
            if (label is int cc) for (int r = 0; r < n; r++) control[r * Classes + cc] = 1f;
            var controlOnDevice = s.Upload("pcontrol", control);
            for (int l = 0; l < ConvLayers.Length; l++)
            {
                var layer = ConvLayers[l];
                var g = layer.Geometry;
                var (h, invNorm, cols) = (s.Get("ph", n * layer.OutputSize), s.Get("pinvnorm", n), s.Get("pcols", n * g.Positions * g.PatchSize));
                if (!Shortcut) x = WithLabelPlanes(l, x, n, control, "pxlabels");
                LayerForward(l, x, n, control, controlOnDevice, h, invNorm, cols, computeNorms: true, reuseColumns: false);
                visit(l, start, n, be.Read(h));
                if (l + 1 < ConvLayers.Length) x = Next(l, h, n, s.Get($"px{(l + 1) % 2 + 1}", n * PooledSize(l)));
            }
        }
    }

    /// <summary>Row i, column c: ΣConvLayers softplus(goodness − θ) of image i with class c's pattern.</summary>
    public Matrix LabelScores(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
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
    public int[] Predict(Matrix images) => LabelProbe.Predict(LabelScores(images), Config.Loss);

    /// <summary>Each layer's output map (rows × OH·OW·channels, NHWC, before pooling) with <paramref name="label"/>'s pattern added (null: none).</summary>
    public override Matrix[] LayerActivations(Matrix images, int? label)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (label is int c && (uint)c >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(label), c, $"label must be one of the {Classes} classes.");
        var result = ConvLayers.Select(l => new Matrix(images.Rows, l.OutputSize)).ToArray();
        Run(images, label, (l, start, n, h) => h.Slice(0, n * ConvLayers[l].OutputSize).CopyTo(result[l].Data.AsSpan(start * ConvLayers[l].OutputSize)));
        return result;
    }

    /// <summary>A channel owns its kernel (axis 0) and bias entry, and the next layer's input channel (axis 3 of its kernel).</summary>
    public IReadOnlyList<NeuronSlice> NeuronSlices(int layer) => layer + 1 < ConvLayers.Length
        ? [new($"layers.{layer}.weight", 0), new($"layers.{layer}.bias", 0), new($"layers.{layer + 1}.weight", 3)]
        : [new($"layers.{layer}.weight", 0), new($"layers.{layer}.bias", 0)];

    /// <inheritdoc />
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) =>
        FFConvArchitecture.WriteConfig(Config with { Stack = Config.Stack with { Channels = widths.ToArray() } });
}
