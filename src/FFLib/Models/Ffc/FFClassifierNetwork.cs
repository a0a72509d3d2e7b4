using System.Numerics.Tensors;
using FFLib.Compute;
using System.Text.Json.Nodes;
using FFLib.Layers;
using FFLib.Modules;
using FFLib.Optim;

namespace FFLib.Models;

/// <summary>
/// FFNN+C (docs/architectures.md): an FF stack trained as an FFNN, then frozen while a linear classifier on the
/// concatenation of all FF layers' outputs is trained with cross-entropy and its own Adam. Both
/// for classifier training and for prediction the control vector is all zeros; prediction is
/// argmax of ReLU(classifier output) — one pass, no trying of labels.
/// </summary>
public sealed partial class FFClassifierNetwork : ComputeModule, ITrainableModel, IActivationSource, INeuronPrunable, ILabelScorerSource, IDeviceTrainable, IClassScorer
{
    private readonly AdamOptimizer _classifierOptimizer;
    private ClassifierBuffers? _train, _predict;

    /// <summary>A fresh FFNN+C: the FF stack is drawn first, then the classifier.</summary>
    public FFClassifierNetwork(FFNetworkConfig stack, float classifierLearningRate, FFRandom random)
        : this(new FFNetwork(stack, random), null, classifierLearningRate, random)
    {
    }

    /// <summary>Assembles an FFNN+C from an FF stack and (optionally) an existing classifier.</summary>
    public FFClassifierNetwork(FFNetwork stack, DenseLayer? classifier, float classifierLearningRate, FFRandom? random = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        int features = stack.Config.HiddenSizes.Sum();
        if (classifier is null)
        {
            ArgumentNullException.ThrowIfNull(random);
            classifier = new DenseLayer(features, stack.Config.Classes, random);
        }
        if (classifier.InFeatures != features || classifier.OutFeatures != stack.Config.Classes)
            throw new ArgumentException($"The classifier is {classifier.InFeatures}→{classifier.OutFeatures} but the stack needs {features}→{stack.Config.Classes}.", nameof(classifier));
        Stack = stack;
        Classifier = classifier;
        ClassifierLearningRate = classifierLearningRate;
        _classifierOptimizer = new AdamOptimizer(new AdamSettings(classifierLearningRate), classifier.Parameters());
    }

    /// <summary>The FF stack.</summary>
    public FFNetwork Stack { get; }

    /// <inheritdoc />
    protected internal override IEnumerable<Modules.LocalParameter> LocalBuffers() => Stack.LocalBuffers();

    /// <summary>The linear classifier on the concatenated FF outputs.</summary>
    public DenseLayer Classifier { get; }

    /// <summary>The classifier's Adam learning rate (1e-4 in the paper).</summary>
    public float ClassifierLearningRate { get; }

    /// <summary>The classifier's optimiser.</summary>
    public AdamOptimizer ClassifierOptimizer => _classifierOptimizer;

    /// <inheritdoc />
    public Architecture Architecture => Architecture.Ffc;

    /// <summary>The stack's "layers.{i}", then "classifier" (the file names predate the module tree: no "stack." prefix).</summary>
    protected internal override IEnumerable<ChildModule> Children() =>
        [.. Stack.Children(), new ChildModule("classifier", "classifier", Classifier)];

    /// <inheritdoc />
    public JsonObject ConfigToJson() => FFClassifierArchitecture.WriteConfig(Stack.Config, ClassifierLearningRate);

    /// <inheritdoc />
    public IReadOnlyList<int> HiddenWidths => Stack.HiddenWidths;

    /// <inheritdoc />
    public IReadOnlyList<NeuronSlice> NeuronSlices(int layer)
    {
        // The classifier reads the concatenated layer outputs: layer l's neurons start after the widths below it.
        int offset = Stack.Layers.Take(layer).Sum(l => l.OutFeatures);
        return [.. Stack.NeuronSlices(layer), new NeuronSlice("classifier.weight", 1, offset)];
    }

    /// <inheritdoc />
    public JsonObject ConfigWithHiddenWidths(IReadOnlyList<int> widths) =>
        FFClassifierArchitecture.WriteConfig(Stack.Config with { HiddenSizes = widths.ToArray() }, ClassifierLearningRate);

    /// <summary>The FF stack scores labels (hard negatives during the FF phase).</summary>
    ILabelScorer ILabelScorerSource.LabelScorer => Stack;

    /// <inheritdoc />
    public int ImageFeatures => Stack.ImageFeatures;

    /// <inheritdoc />
    public int Classes => Stack.Classes;

    /// <summary>
    /// The first ⌈E/2⌉ epochs train the FF stack, the rest the classifier; with E = 1 there is one
    /// of each (so a one-epoch run still yields a usable model).
    /// </summary>
    public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs)
    {
        if (requestedEpochs <= 0) return [];
        int ff = (requestedEpochs + 1) / 2, cls = Math.Max(1, requestedEpochs - ff);
        return [.. Enumerable.Repeat(TrainingPhase.ForwardForward, ff), .. Enumerable.Repeat(TrainingPhase.Classifier, cls)];
    }

    /// <inheritdoc />
    public IReadOnlyList<string> LossNames(TrainingPhase phase) =>
        phase == TrainingPhase.Classifier ? ["classifier cross-entropy"] : Stack.LossNames(phase);

    /// <inheritdoc />
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase) => phase switch
    {
        TrainingPhase.ForwardForward => Stack.TrainBatch(images, labels, negativeControl),
        TrainingPhase.Classifier => [TrainClassifierBatch(images, labels)],
        _ => throw new ArgumentException($"FFNN+C has no {phase} phase.", nameof(phase)),
    };

    void IDeviceTrainable.TrainBatch(DeviceSpan images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase, DeviceSpan losses)
    {
        switch (phase)
        {
            case TrainingPhase.ForwardForward: ((IDeviceTrainable)Stack).TrainBatch(images, labels, negativeControl, phase, losses); break;
            case TrainingPhase.Classifier: ClassifierStep(images, labels, losses.Slice(0, 1)); break;
            default: throw new ArgumentException($"FFNN+C has no {phase} phase.", nameof(phase));
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<AdamOptimizer> AllOptimizers => [.. Stack.Optimizers, _classifierOptimizer];

    /// <inheritdoc />
    public LayerActivationObserver? ActivationObserver { get => Stack.ActivationObserver; set => Stack.ActivationObserver = value; }

    /// <inheritdoc />
    public Matrix[] LayerActivations(Matrix images, int? label) => Stack.LayerActivations(images, label);

    /// <summary>Concatenated FF outputs (zero control vector), rows × Σ widths.</summary>
    public Matrix Features(Matrix images)
    {
        var acts = Stack.LayerActivations(images, label: null);
        int rows = images.Rows, total = acts.Sum(a => a.Cols);
        var f = new Matrix(rows, total);
        for (int r = 0; r < rows; r++)
        {
            int off = 0;
            foreach (var a in acts)
            {
                a.Row(r).CopyTo(f.Data.AsSpan(r * total + off, a.Cols));
                off += a.Cols;
            }
        }
        return f;
    }

    /// <inheritdoc />
    protected override void OnBackendChanged() => Stack.Backend = Backend;

    /// <inheritdoc />
    protected override void ReleaseWorkspaces()
    {
        DeviceWorkspace.Free(ref _train);
        DeviceWorkspace.Free(ref _predict);
    }

    private protected override void FreeDeviceMemory(bool keepState)
    {
        base.FreeDeviceMemory(keepState);
        if (keepState) Stack.ReleaseDeviceMemory();
        else Stack.DiscardDeviceMemory();
    }

    /// <summary>Features, logits and their gradient for up to <see cref="Rows"/> images.</summary>
    private sealed class ClassifierBuffers : DeviceWorkspace
    {
        public ClassifierBuffers(ComputeBackend be, int rows, int features, int classes) : base(be)
        {
            Rows = rows;
            Features = Allocate(rows * features);
            Logits = Allocate(rows * classes);
            Delta = Allocate(rows * classes);
            Loss = Allocate(1);
        }

        public int Rows { get; }
        public DeviceArray Features { get; }
        public DeviceArray Logits { get; }
        public DeviceArray Delta { get; }
        public DeviceArray Loss { get; }
    }

    /// <summary>The classifier's output for the images' features (into the buffers' logits): z = xWᵀ + b, then ReLU when <paramref name="relu"/>.</summary>
    private DeviceSpan ClassifierForward(Matrix images, ClassifierBuffers b, bool relu)
    {
        var features = b.Features.Slice(0, images.Rows * Classifier.InFeatures);
        Stack.ConcatenatedActivations(images, features);
        return ClassifierLogits(images.Rows, b, relu);
    }

    /// <summary>The logits from the features already in the buffers.</summary>
    private DeviceSpan ClassifierLogits(int rows, ClassifierBuffers b, bool relu)
    {
        var be = Backend;
        int total = Classifier.InFeatures;
        var features = b.Features.Slice(0, rows * total);
        var logits = b.Logits.Slice(0, rows * Classes);
        Classifier.Forward(be, features, rows, Device(Classifier.WeightParameter), prepared: null, Device(Classifier.BiasParameter), relu, logits);
        return logits;
    }

    /// <summary>One Adam step of the classifier on the frozen stack's features; returns the loss before the step.</summary>
    public float TrainClassifierBatch(Matrix images, ReadOnlySpan<int> labels)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != ImageFeatures) throw new ArgumentException($"images has {images.Cols} columns but the network expects {ImageFeatures} pixels per image.", nameof(images));
        if (labels.Length != images.Rows) throw new ArgumentException($"labels has {labels.Length} entries but images has {images.Rows} rows.", nameof(labels));
        var b = ClassifierTrainingBuffers(images.Rows);
        var loss = b.Loss.Slice(0, 1);
        ClassifierStep(b.StageImages(images.Data, images.Rows * ImageFeatures), labels, loss);
        return Backend.Read(loss)[0];
    }

    // Reused buffers: the classifier phase runs many batches and fresh arrays would pile up.
    private ClassifierBuffers ClassifierTrainingBuffers(int rows)
    {
        if (_train is { } t && t.Rows >= rows) return t;
        DeviceWorkspace.Free(ref _train);
        return _train = new ClassifierBuffers(Backend, rows, Classifier.InFeatures, Classes);
    }

    /// <summary>The classifier's step on a batch on the backend; the loss before the step into <paramref name="lossOut"/>.</summary>
    private void ClassifierStep(DeviceSpan images, ReadOnlySpan<int> labels, DeviceSpan lossOut)
    {
        var be = Backend;
        int rows = labels.Length, total = Classifier.InFeatures;
        if (images.Length != rows * ImageFeatures) throw new ArgumentException($"The batch holds {images.Length / ImageFeatures} images but labels has {rows} entries.", nameof(labels));
        for (int i = 0; i < rows; i++)
            if ((uint)labels[i] >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is not a class in [0, {Classes}).");
        var b = ClassifierTrainingBuffers(rows);
        Stack.ConcatenatedActivations(images, rows, b.Features.Slice(0, rows * total));
        var logits = ClassifierLogits(rows, b, relu: false);
        var delta = b.Delta.Slice(0, rows * Classes);
        be.CrossEntropyLossAndGradient(logits, rows, Classes, b.StageLabels(labels), delta, lossOut);
        var (gw, gb) = (DeviceGradient(Classifier.WeightParameter), DeviceGradient(Classifier.BiasParameter));
        var (hostGradW, hostGradB) = (Classifier.WeightParameter.Gradient, Classifier.BiasParameter.Gradient);
        Classifier.ParameterGradients(be, delta, b.Features.Slice(0, rows * total), rows, gw, gb);
        if (StepObserver is { } observe)
        {
            be.SyncToHost(gw.Array, hostGradW);
            be.SyncToHost(gb.Array, hostGradB);
            observe(new TrainingStep(Stack.Layers.Count, 0, be.Read(lossOut)[0], [], [hostGradW, hostGradB]));
        }
        _classifierOptimizer.Step(be, [Device(Classifier.WeightParameter), Device(Classifier.BiasParameter)], [gw, gb]);
    }

    /// <summary>ReLU(classifier(features)) per image. Safe to call from several threads at once.</summary>
    public Matrix ClassScores(Matrix images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Cols != ImageFeatures) throw new ArgumentException($"images has {images.Cols} columns but the network expects {ImageFeatures} pixels per image.", nameof(images));
        int rows = images.Rows;
        // The buffers are kept between calls (evaluation calls this once per chunk); a call takes
        // them and puts them back, so a concurrent call allocates its own.
        var b = DeviceWorkspace.Take(ref _predict, kept => kept.Rows >= rows) ?? new ClassifierBuffers(Backend, Math.Max(1, rows), Classifier.InFeatures, Classes);
        var z = new Matrix(rows, Classes);
        Backend.Read(ClassifierForward(images, b, relu: true)).CopyTo(z.Data);
        DeviceWorkspace.Keep(ref _predict, b);
        return z;
    }

    /// <inheritdoc />
    public int[] Predict(Matrix images) => LabelProbe.Predict(ClassScores(images), LossDirection.Maximize); // argmax
}
