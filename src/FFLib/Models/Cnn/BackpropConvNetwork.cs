using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Export;
using FFLib.Layers;
using FFLib.Modules;
using FFLib.Optim;

namespace FFLib.Models;

/// <summary>
/// The backprop CNN (<c>bpcnn</c>), the FF CNN's baseline as the BPNN is the FFNN's: the same
/// convolutional stack (conv → ReLU → optional 2×2 max-pooling; no length normalisation, which only
/// FF needs to hide the goodness of the layer below), then a linear classifier over the last map,
/// softmax cross-entropy, one Adam over all parameters, ordinary backpropagation. Prediction = argmax.
/// The classifier's weight is [classes, H, W, C] (the last map's shape), so a channel owns axis 3 of it.
/// </summary>
public sealed class BackpropConvNetwork : ConvNetwork, ITrainableModel, INeuronPrunable, IClassScorer, IInferenceExportable
{
    private readonly ConvClassifierHead _head;
    private readonly AdamOptimizer _optimizer;

    /// <summary>A model of <paramref name="config"/>'s shape, initialised from <paramref name="random"/> (W then b per layer, then the classifier), or all zeros without one.</summary>
    public BackpropConvNetwork(BackpropConvNetworkConfig config, FFRandom? random)
        : base(Validated(config).Stack, config.Classes, 0, random)
    {
        Config = config;
        var stack = config.Stack;
        var (c, h, w) = stack.PooledShape(stack.Count - 1);
        _head = new ConvClassifierHead(config.Classes, h, w, c, random);
        _optimizer = new AdamOptimizer(new AdamSettings(config.LearningRate), Parameters().Where(p => p.Trainable));
    }

    private static BackpropConvNetworkConfig Validated(BackpropConvNetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return config;
    }

    /// <summary>The configuration.</summary>
    public BackpropConvNetworkConfig Config { get; }

    /// <inheritdoc />
    public Architecture Architecture => ArchitectureRegistry.Get(BackpropConvArchitecture.ArchitectureId);

    /// <inheritdoc />
    public IReadOnlyList<AdamOptimizer> AllOptimizers => [_optimizer];

    /// <inheritdoc />
    public LayerActivationObserver? ActivationObserver { get; set; }

    /// <inheritdoc />
    public bool ActivationsDependOnLabel => false;

    /// <summary>"layers.{i}" ("layer {i+1}"), then "classifier".</summary>
    protected internal override IEnumerable<ChildModule> Children() =>
        ConvLayers.Select((l, i) => new ChildModule($"layers.{i}", $"layer {i + 1}", (Module)l)).Append(new ChildModule("classifier", "classifier", _head));

    /// <inheritdoc />
    public JsonObject ConfigToJson() => BackpropConvArchitecture.WriteConfig(Config);

    /// <inheritdoc />
    public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs) => Enumerable.Repeat(TrainingPhase.Backprop, requestedEpochs).ToArray();

    /// <inheritdoc />
    public IReadOnlyList<string> LossNames(TrainingPhase phase) => ["cross-entropy"];

    /// <summary>One Adam step on the batch's mean cross-entropy; returns the loss before the step.</summary>
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (phase != TrainingPhase.Backprop) throw new ArgumentException($"A backprop CNN trains only in the Backprop phase, not {phase}.", nameof(phase));
        CheckImages(images);
        int b = images.Rows, k = Classes;
        if (labels.Length != b) throw new ArgumentException($"labels has {labels.Length} entries but images has {b} rows.", nameof(labels));
        foreach (int c in labels) if ((uint)c >= (uint)k) throw new ArgumentOutOfRangeException(nameof(labels), c, $"Label {c} is not one of the {k} classes.");
        var be = Backend;
        var s = Work;
        var inputs = Forward(s, s.Upload("x0", ToNhwc(images)), b, keepColumns: true, observe: true);
        int f = Config.Stack.FeatureSize;
        var top = inputs[^1];
        var logits = s.Get("logits", b * k);
        _head.Logits(be, top, b, Device(_head.WeightParameter), Device(_head.BiasParameter), logits);
        var labelFloats = new float[b];
        for (int i = 0; i < b; i++) labelFloats[i] = labels[i];
        var (grad, loss) = (s.Get("dlogits", b * k), s.Get("loss", 1));
        be.CrossEntropyLossAndGradient(logits, b, k, s.Upload("labels", labelFloats), grad, loss);

        var (gw, gb) = (DeviceGradient(_head.WeightParameter), DeviceGradient(_head.BiasParameter));
        _head.Gradients(be, grad, top, b, gw, gb);
        var dx = s.Get("dx" + ConvLayers.Length, b * f);
        be.Gemm(false, false, b, f, k, grad, k, Device(_head.WeightParameter), f, dx, f, accumulate: false);
        for (int l = ConvLayers.Length - 1; l >= 0; l--)
        {
            var layer = ConvLayers[l];
            var g = layer.Geometry;
            DeviceSpan da;
            if (Config.Stack.Layers[l].Pool)
            {
                da = s.Get($"da{l}", b * layer.OutputSize);
                be.MaxPoolBackward(dx, s.Get($"argmax{l}", b * (g.OutHeight / 2) * (g.OutWidth / 2) * layer.OutChannels), b, g.OutHeight, g.OutWidth, layer.OutChannels, da);
            }
            else da = dx;
            be.ReluBackward(da, s.Get($"a{l}", b * layer.OutputSize));
            be.ColumnSums(da, b * g.Positions, layer.OutChannels, DeviceGradient(layer.BiasParameter));
            layer.WeightGradient(be, da, s.Get($"cols{l}", b * g.Positions * g.PatchSize), b, DeviceGradient(layer.WeightParameter));
            if (l == 0) break;
            dx = s.Get($"dx{l}", b * g.InputSize);
            layer.InputGradient(be, da, Device(layer.WeightParameter), b, s.Get("dcols", b * g.Positions * g.PatchSize), dx);
        }
        var ps = ConvLayers.SelectMany(l => new[] { l.WeightParameter, l.BiasParameter }).Append(_head.WeightParameter).Append(_head.BiasParameter).ToArray();
        if (StepObserver is { } observeStep)
            observeStep(new TrainingStep(0, 0, be.Read(loss)[0], [], ps.Select(p => be.Read(DeviceGradient(p)).ToArray()).ToArray()));
        _optimizer.Step(be, ps.Select(Device).ToArray(), ps.Select(DeviceGradient).ToArray());
        return [be.Read(loss)[0]];
    }

    /// <summary>
    /// The stack on n images: returns each layer's input (the last entry: the classifier's input).
    /// Layer l's post-ReLU output stays in "a{l}", its patches in "cols{l}" when <paramref name="keepColumns"/>.
    /// </summary>
    private DeviceSpan[] Forward(ConvBuffers s, DeviceSpan x0, int n, bool keepColumns, bool observe)
    {
        var be = Backend;
        var inputs = new DeviceSpan[ConvLayers.Length + 1];
        inputs[0] = x0;
        for (int l = 0; l < ConvLayers.Length; l++)
        {
            var layer = ConvLayers[l];
            var g = layer.Geometry;
            var a = s.Get($"a{l}", n * layer.OutputSize);
            layer.Convolve(be, inputs[l], n, Device(layer.WeightParameter), s.Get(keepColumns ? $"cols{l}" : "cols", n * g.Positions * g.PatchSize), a);
            be.BiasActivation(a, n * g.Positions, layer.OutChannels, Device(layer.BiasParameter), relu: true);
            if (observe) ActivationObserver?.Invoke(new LayerActivation(l, 0, n, n, layer.OutputSize, be.Read(a), []));
            if (Config.Stack.Layers[l].Pool)
            {
                int pooled = n * (g.OutHeight / 2) * (g.OutWidth / 2) * layer.OutChannels;
                inputs[l + 1] = s.Get($"x{l + 1}", pooled);
                be.MaxPool(a, n, g.OutHeight, g.OutWidth, layer.OutChannels, inputs[l + 1], s.Get($"argmax{l}", pooled));
            }
            else inputs[l + 1] = a;
        }
        return inputs;
    }

    /// <summary>The prediction as an inference graph (ONNX, C): each layer conv + bias, ReLU, optional 2×2 max-pooling; then the linear head's logits, highest wins.</summary>
    public InferenceGraph BuildInferenceGraph()
    {
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        int x = GraphImage(g);
        for (int l = 0; l < ConvLayers.Length; l++)
            x = GraphNext(g, l, g.Relu(g.AddChannelBias(GraphConv(g, l, x), $"layers.{l}.bias")));
        g.SetOutput(g.AddBias(g.MatMul(x, "classifier.weight"), "classifier.bias"), predictLowest: false);
        return g;
    }

    /// <summary>The logits (<see cref="Logits"/>).</summary>
    public Matrix ClassScores(Matrix images) => Logits(images);

    /// <summary>Class scores (logits), one row per image.</summary>
    public Matrix Logits(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckImages(images);
        var result = new Matrix(images.Rows, Classes);
        Chunks(images, (start, n, s, inputs) =>
        {
            var logits = s.Get("plogits", n * Classes);
            _head.Logits(Backend, inputs[^1], n, Device(_head.WeightParameter), Device(_head.BiasParameter), logits);
            Backend.Read(logits).CopyTo(result.Data.AsSpan(start * Classes));
        });
        return result;
    }

    private void Chunks(Matrix images, Action<int, int, ConvBuffers, DeviceSpan[]> visit)
    {
        var s = Work;
        var nhwc = ToNhwc(images);
        for (int start = 0; start < images.Rows; start += ChunkImages)
        {
            int n = Math.Min(ChunkImages, images.Rows - start);
            var inputs = Forward(s, s.Upload("px0", nhwc.AsSpan(start * ImageFeatures, n * ImageFeatures)), n, keepColumns: false, observe: false);
            visit(start, n, s, inputs);
        }
    }

    /// <inheritdoc />
    public int[] Predict(Matrix images) => ArgMaxRows(Logits(images));

    /// <summary>Each layer's post-ReLU map (rows × OH·OW·channels, NHWC, before pooling); the label is ignored.</summary>
    public override Matrix[] LayerActivations(Matrix images, int? label)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckImages(images);
        var result = ConvLayers.Select(l => new Matrix(images.Rows, l.OutputSize)).ToArray();
        Chunks(images, (start, n, s, _) =>
        {
            for (int l = 0; l < ConvLayers.Length; l++)
                Backend.Read(s.Get($"a{l}", n * ConvLayers[l].OutputSize)).CopyTo(result[l].Data.AsSpan(start * ConvLayers[l].OutputSize));
        });
        return result;
    }

    /// <summary>A channel owns its kernel and bias entry, and axis 3 (input channel) of the next kernel or of the classifier's [classes, H, W, C] weight.</summary>
    public IReadOnlyList<NeuronSlice> NeuronSlices(int layer) =>
        [new($"layers.{layer}.weight", 0), new($"layers.{layer}.bias", 0), new(layer + 1 < ConvLayers.Length ? $"layers.{layer + 1}.weight" : "classifier.weight", 3)];

    /// <inheritdoc />
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) =>
        BackpropConvArchitecture.WriteConfig(Config with { Stack = Config.Stack with { Channels = widths.ToArray() } });
}
