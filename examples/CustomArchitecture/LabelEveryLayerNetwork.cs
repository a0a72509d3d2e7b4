// A new FF architecture defined entirely outside the library, in this one file: an FFNN whose
// every layer sees the label, not only the first (layer l's input is h_(l-1) ⊕ onehot(label)).
// Registering it is all it takes for Trainer, checkpoints, analysis, pruning and TrainingRun;
// describing its prediction as an inference graph (BuildInferenceGraph) adds ONNX and C export.
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Export;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Modules;
using FFLib.Optim;
using FFLib.Training;

namespace FFLib.Examples;

/// <summary>Shape and training rule.</summary>
public sealed record LabelEveryLayerConfig(int ImageFeatures, int Classes, int[] HiddenSizes, float Threshold, LossDirection Loss, float LearningRate, int ScoreFromLayer = 1)
{
    /// <summary>Input width of layer l: the layer below (or the image) plus the label.</summary>
    public int InputWidth(int layer) => (layer == 0 ? ImageFeatures : HiddenSizes[layer - 1]) + Classes;
}

/// <summary>
/// The model: FF dense layers, each fed the layer below ⊕ the control vector. A ComputeModule: it
/// computes through its Backend (the CPU by default; `Backend = GpuBackend...` or TrainingRun's
/// backend moves it), with the layers' public backend methods and the backend's primitives.
/// </summary>
public sealed class LabelEveryLayerNetwork : ComputeModule, ITrainableModel, ILabelScorer, IActivationSource, INeuronPrunable, IInferenceExportable
{
    private readonly FFDenseLayer[] _layers;
    private readonly AdamOptimizer[] _optimizers;

    public LabelEveryLayerNetwork(LabelEveryLayerConfig config, FFRandom? random)
    {
        Config = config;
        // No random source: all-zero parameters, to be filled by a checkpoint, a clone or a pruning cut.
        _layers = config.HiddenSizes.Select((w, l) => random is null
            ? new FFDenseLayer(new Matrix(w, config.InputWidth(l)), new float[w])
            : new FFDenseLayer(config.InputWidth(l), w, random)).ToArray();
        // One Adam per layer over its parameters: the moments live in the parameters, beside their
        // gradients and device copies, so saving, synchronising and freeing the model covers them.
        _optimizers = _layers.Select(l => new AdamOptimizer(new AdamSettings(config.LearningRate), l.Parameters())).ToArray();
    }

    public LabelEveryLayerConfig Config { get; }
    public Architecture Architecture => LabelEveryLayerArchitecture.Instance;
    public int ImageFeatures => Config.ImageFeatures;
    public int Classes => Config.Classes;
    public LossDirection ScoreDirection => Config.Loss;
    public IReadOnlyList<AdamOptimizer> AllOptimizers => _optimizers;
    public LayerActivationObserver? ActivationObserver { get; set; }

    protected override IEnumerable<ChildModule> Children() => _layers.Select((l, i) => new ChildModule($"layers.{i}", $"layer {i + 1}", l));
    public JsonObject ConfigToJson() => LabelEveryLayerArchitecture.Write(Config);

    public IReadOnlyList<TrainingPhase> PlanEpochs(int epochs) => Enumerable.Repeat(TrainingPhase.ForwardForward, epochs).ToArray();
    public IReadOnlyList<string> LossNames(TrainingPhase phase) => _layers.Select((_, i) => $"layer {i + 1}").ToArray();

    /// <summary>Greedy FF step per layer on positives (true label) and negatives (the given control), as the FFNN, on the model's backend.</summary>
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase)
    {
        int b = images.Rows, rows = 2 * b;
        var be = Backend;
        var losses = new float[_layers.Length];
        using var s = new Scratch(be);
        var control = s.Upload(Matrix.ConcatRows(NegativeControl.OneHot(labels, Classes), negativeControl).Data);
        var below = s.Upload(Matrix.ConcatRows(images, images).Data);
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            int outF = layer.OutFeatures;
            var (x, h, invNorm) = LayerForward(s, l, below, control, rows);
            var (meanSquares, coefficient, loss) = (s.Take(rows), s.Take(rows), s.Take(1));
            be.FFGoodnessAndLoss(h, rows, outF, meanSquares, b, Config.Threshold, Config.Loss == LossDirection.Minimize, coefficient, loss);
            ActivationObserver?.Invoke(new LayerActivation(l, 0, rows, b, outF, be.Read(h), be.Read(meanSquares)));
            losses[l] = be.Read(loss)[0];
            var (gradW, gradB) = (DeviceGradient(layer.WeightParameter), DeviceGradient(layer.BiasParameter));
            layer.Deltas(be, h, rows, coefficient, invNorm, gradB); // h now holds δ
            layer.WeightGradient(be, h, x, rows, gradW);
            _optimizers[l].Step(be, [Device(layer.WeightParameter), Device(layer.BiasParameter)], [gradW, gradB]);
            below = LayerForward(s, l, below, control, rows).H; // the next layer learns from the updated layer's output
        }
        return losses;
    }

    /// <summary>Layer l on the backend for rows of below ⊕ control: its input x, output h and inverse row norms.</summary>
    private (DeviceSpan X, DeviceSpan H, DeviceSpan InvNorm) LayerForward(Scratch s, int l, DeviceSpan below, DeviceSpan control, int rows)
    {
        var layer = _layers[l];
        int inF = layer.InFeatures, k = Classes, width = inF - k;
        var (x, h, invNorm) = (s.Take(rows * inF), s.Take(rows * layer.OutFeatures), s.Take(rows));
        Backend.CopyColumns(below, rows, width, x, inF, 0);
        Backend.CopyColumns(control, rows, k, x, inF, width);
        layer.Forward(Backend, x, rows, Device(layer.WeightParameter), Device(layer.BiasParameter), invNorm, h);
        return (x, h, invNorm);
    }

    /// <summary>Every layer's activations for images with one control vector (computed on the backend).</summary>
    private Matrix[] Run(Matrix images, Matrix control)
    {
        using var s = new Scratch(Backend);
        int rows = images.Rows;
        var (below, ctrl) = (s.Upload(images.Data), s.Upload(control.Data));
        var result = new Matrix[_layers.Length];
        for (int l = 0; l < _layers.Length; l++)
        {
            below = LayerForward(s, l, below, ctrl, rows).H;
            result[l] = new Matrix(rows, _layers[l].OutFeatures, Backend.Read(below).ToArray());
        }
        return result;
    }

    /// <summary>Arrays on the backend for one call, freed at its end (a GPU's memory is not the collector's to free).</summary>
    private sealed class Scratch(ComputeBackend backend) : IDisposable
    {
        private readonly List<DeviceArray> _arrays = [];
        public DeviceSpan Take(int length) { var a = backend.Allocate(Math.Max(1, length)); _arrays.Add(a); return a.Slice(0, length); }
        public DeviceSpan Upload(float[] host) { var span = Take(host.Length); backend.Write(host, span); return span; }
        public void Dispose() { foreach (var a in _arrays) a.Release(); }
    }

    public Matrix[] LayerActivations(Matrix images, int? label)
    {
        var control = new Matrix(images.Rows, Classes);
        if (label is int c) for (int r = 0; r < images.Rows; r++) control[r, c] = 1f;
        return Run(images, control);
    }

    /// <summary>Σ softplus(meanh² − θ) over the layers from score_from_layer on, for each (image, label).</summary>
    public Matrix LabelScores(Matrix images)
    {
        var scores = new Matrix(images.Rows, Classes);
        for (int c = 0; c < Classes; c++)
            foreach (var h in LayerActivations(images, c).Skip(Config.ScoreFromLayer - 1))
            {
                var g = FFDenseLayer.MeanSquares(h);
                for (int r = 0; r < images.Rows; r++) scores[r, c] += FFLoss.Softplus(g[r] - Config.Threshold);
            }
        return scores;
    }

    public int[] Predict(Matrix images) => LabelProbe.Predict(LabelScores(images), Config.Loss);

    /// <summary>
    /// The prediction as an inference graph (for ONNX and C export): per label c, every layer is
    /// ReLU(((below ⊕ onehot(c)) / (‖below ⊕ onehot(c)‖ + 1e-4))·Wᵀ + b), with ‖·‖² = ‖below‖² + 1
    /// and onehot(c)·Wᵀ = column (width of below + c) of W.
    /// </summary>
    public InferenceGraph BuildInferenceGraph()
    {
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        var totals = new int[Classes];
        for (int c = 0; c < Classes; c++)
        {
            int below = g.Input, total = -1;
            for (int l = 0; l < _layers.Length; l++)
            {
                int norm = g.AddScalar(g.Sqrt(g.AddScalar(g.SumSquares(below), 1f)), 1e-4f);
                int pre = g.AddWeightColumn(g.MatMul(below, $"layers.{l}.weight"), $"layers.{l}.weight", g.Width(below) + c);
                below = g.Relu(g.AddBias(g.DivideRows(pre, norm), $"layers.{l}.bias"));
                if (l + 1 < Config.ScoreFromLayer) continue;
                int term = g.Softplus(g.AddScalar(g.MeanSquares(below), -Config.Threshold));
                total = total < 0 ? term : g.Add(total, term);
            }
            totals[c] = total;
        }
        g.SetOutput(g.Concat(totals), predictLowest: Config.Loss == LossDirection.Minimize);
        return g;
    }

    // Pruning: a neuron owns its row and bias entry, and the next layer's input column (the label columns come after).
    public IReadOnlyList<int> HiddenWidths => Config.HiddenSizes;
    public IReadOnlyList<NeuronSlice> NeuronSlices(int l) => l + 1 < _layers.Length
        ? [new($"layers.{l}.weight", 0), new($"layers.{l}.bias", 0), new($"layers.{l + 1}.weight", 1)]
        : [new($"layers.{l}.weight", 0), new($"layers.{l}.bias", 0)];
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) => LabelEveryLayerArchitecture.Write(Config with { HiddenSizes = widths.ToArray() });
}

/// <summary>The registry entry: id, config JSON, construction.</summary>
public sealed class LabelEveryLayerArchitecture : Architecture
{
    public static readonly LabelEveryLayerArchitecture Instance = new();
    public override string Id => "ffnn-label-every-layer";
    public override string DisplayName => "FFNN (label at every layer)";
    public override string Description => "an FFNN whose every layer sees the one-hot label";

    // A hyperparameter of this architecture, declared once: sweep grids, run ids, run.json and
    // checkpoints are derived from it (and fflib's options would be, were it built in: --score-from-layer).
    public static readonly ModelSetting<int> ScoreFromLayer = ModelSetting.Integer("score_from_layer", 1,
        "Prediction sums goodness over the layers from this one (1-based) on.", v => v >= 1 ? null : "score_from_layer must be at least 1");
    public override IReadOnlyList<ModelSetting> Settings => [FFSettings.Threshold, FFSettings.Loss, ScoreFromLayer];

    public override void ValidateSettings(ModelSettings settings)
    {
        base.ValidateSettings(settings);
        if (settings.Get(ScoreFromLayer) > settings.HiddenSizes.Count)
            throw new ArgumentOutOfRangeException(ScoreFromLayer.Key, settings.Get(ScoreFromLayer), $"score_from_layer is {settings.Get(ScoreFromLayer)} but the network has {settings.HiddenSizes.Count} layer(s).");
    }

    public static JsonObject Write(LabelEveryLayerConfig c) => new()
    {
        ["image_features"] = c.ImageFeatures, ["classes"] = c.Classes, ["hidden_sizes"] = ConfigJson.IntArray(c.HiddenSizes),
        ["threshold"] = c.Threshold, ["loss"] = ConfigJson.LossText(c.Loss), ["learning_rate"] = c.LearningRate,
        ["score_from_layer"] = c.ScoreFromLayer,
    };

    public override IClassifierModel FromConfig(JsonObject c) => new LabelEveryLayerNetwork(new(
        ConfigJson.Get<int>(c, "image_features"), ConfigJson.Get<int>(c, "classes"), ConfigJson.IntArray(c, "hidden_sizes"),
        ConfigJson.Get<float>(c, "threshold"), ConfigJson.Loss(c), ConfigJson.Get<float>(c, "learning_rate"),
        c.ContainsKey("score_from_layer") ? ConfigJson.Get<int>(c, "score_from_layer") : 1), random: null);

    public override ITrainableModel Create(ModelSettings s, int imageFeatures, int classes, FFRandom random) => new LabelEveryLayerNetwork(new(
        imageFeatures, classes, s.HiddenSizes.ToArray(), s.Get(FFSettings.Threshold), s.Get(FFSettings.Loss), s.LearningRateFor(this), s.Get(ScoreFromLayer)), random);
}
