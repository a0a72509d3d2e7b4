using System.Numerics.Tensors;
using FFLib.Compute;
using System.Text.Json.Nodes;
using FFLib.Layers;
using FFLib.Modules;
using FFLib.Optim;

namespace FFLib.Models;

/// <summary>Sees one layer's loss, per-row mean squared activations (positives first) and gradients before its Adam step.</summary>
internal delegate void LayerStepObserver(int layer, float loss, ReadOnlySpan<float> meanSquares, ReadOnlySpan<float> gradWeight, ReadOnlySpan<float> gradBias);

/// <summary>
/// The paper's FFNN: a stack of FF dense layers fed with image ⊕ one-hot label, each layer
/// trained greedily with its own loss and its own Adam, and a "try every label" prediction.
/// </summary>
public sealed class FFNetwork : Module, ITrainableModel, ILabelScorer, IActivationSource, INeuronPrunable
{
    private readonly FFDenseLayer[] _layers;
    private readonly AdamOptimizer[] _optimizers;
    private readonly float[][] _gradW;
    private readonly float[][] _gradB;
    private TrainWorkspace? _work;

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
        (_optimizers, _gradW, _gradB) = CreateOptimizers(config, _layers);
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
        (_optimizers, _gradW, _gradB) = CreateOptimizers(config, _layers);
    }

    /// <summary>Architecture and training rule.</summary>
    public FFNetworkConfig Config { get; }

    /// <summary>The FF layers, input side first.</summary>
    public IReadOnlyList<FFDenseLayer> Layers => _layers;

    /// <summary>Observer called inside <see cref="TrainBatch(Matrix, ReadOnlySpan{int}, Matrix)"/> for every layer, before its Adam step (tests, diagnostics).</summary>
    internal LayerStepObserver? StepObserver { get; set; }

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

    /// <summary>
    /// Writes the concatenation of every layer's activations (zero control vector) of each image
    /// into <paramref name="concat"/> (rows × Σ widths), reusing the given scratch buffers: the
    /// FFNN+C classifier's features without per-batch allocation.
    /// </summary>
    internal void ConcatenatedActivations(Matrix images, float[] concat, ref float[] x, ref float[] h, ref float[] invNorm)
    {
        int rows = images.Rows, px = Config.ImageFeatures, inF = Config.InputFeatures;
        int maxWidth = Math.Max(inF, _layers.Max(l => l.OutFeatures)), total = _layers.Sum(l => l.OutFeatures);
        if (x.Length < rows * maxWidth) x = new float[rows * maxWidth];
        if (h.Length < rows * maxWidth) h = new float[rows * maxWidth];
        if (invNorm.Length < rows) invNorm = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            images.Data.AsSpan(r * px, px).CopyTo(x.AsSpan(r * inF));
            x.AsSpan(r * inF + px, Config.Classes).Clear();
        }
        int offset = 0;
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            layer.ForwardInto(x.AsSpan(0, rows * layer.InFeatures), rows, h.AsSpan(0, rows * layer.OutFeatures), invNorm);
            for (int r = 0; r < rows; r++) h.AsSpan(r * layer.OutFeatures, layer.OutFeatures).CopyTo(concat.AsSpan(r * total + offset));
            offset += layer.OutFeatures;
            (x, h) = (h, x);
        }
    }

    /// <summary>
    /// Every layer's activations for images ⊕ control vector: onehot(<paramref name="label"/>), or
    /// all zeros when <paramref name="label"/> is null (the FFNN+C convention).
    /// </summary>
    public Matrix[] LayerActivations(Matrix images, int? label = null)
    {
        CheckImages(images);
        if (label is int c && (uint)c >= (uint)Config.Classes) throw new ArgumentOutOfRangeException(nameof(label), c, $"label must be in [0, {Config.Classes}).");
        int rows = images.Rows, px = Config.ImageFeatures, inF = Config.InputFeatures;
        var x = new Matrix(rows, inF);
        for (int r = 0; r < rows; r++)
        {
            images.Data.AsSpan(r * px, px).CopyTo(x.Data.AsSpan(r * inF));
            if (label is int l) x.Data[r * inF + px + l] = 1f;
        }
        var result = new Matrix[_layers.Length];
        for (int l = 0; l < _layers.Length; l++) result[l] = x = _layers[l].Forward(x);
        return result;
    }

    private static (AdamOptimizer[], float[][], float[][]) CreateOptimizers(FFNetworkConfig config, FFDenseLayer[] layers)
    {
        var opts = new AdamOptimizer[layers.Length];
        var gw = new float[layers.Length][];
        var gb = new float[layers.Length][];
        for (int i = 0; i < layers.Length; i++)
        {
            opts[i] = new AdamOptimizer(new AdamSettings(config.LearningRate), layers[i].Weight.Data, layers[i].Bias);
            gw[i] = new float[layers[i].Weight.Length];
            gb[i] = new float[layers[i].OutFeatures];
        }
        return (opts, gw, gb);
    }

    /// <summary>
    /// Trains on one batch: positive rows are image ⊕ onehot(label), negative rows the same
    /// images ⊕ onehot(negativeLabel). For each layer in order: one Adam step on its loss, then its
    /// outputs are recomputed with the new weights and handed to the next layer.
    /// Returns each layer's loss before its step.
    /// </summary>
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, ReadOnlySpan<int> negativeLabels)
    {
        if (negativeLabels.Length != labels.Length) throw new ArgumentException($"negativeLabels has {negativeLabels.Length} entries but labels has {labels.Length}.", nameof(negativeLabels));
        CheckLabels(negativeLabels, nameof(negativeLabels));
        return TrainBatch(images, labels, Training.NegativeControl.OneHot(negativeLabels, Config.Classes));
    }

    /// <summary>
    /// As <see cref="TrainBatch(Matrix, ReadOnlySpan{int}, ReadOnlySpan{int})"/> with any negative
    /// control vectors (images × classes), e.g. the "inverse" vectors with every wrong label set.
    /// </summary>
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl)
    {
        CheckImages(images);
        ArgumentNullException.ThrowIfNull(negativeControl);
        int b = images.Rows;
        if (labels.Length != b) throw new ArgumentException($"labels has {labels.Length} entries but images has {b} rows.", nameof(labels));
        if (negativeControl.Rows != b || negativeControl.Cols != Config.Classes)
            throw new ArgumentException($"negativeControl is {negativeControl.Rows}×{negativeControl.Cols} but must be {b}×{Config.Classes}.", nameof(negativeControl));
        CheckLabels(labels, nameof(labels));

        int rows = 2 * b, k = Config.Classes;
        var w = _work is { } existing && existing.Rows >= rows ? existing : (_work = new TrainWorkspace(rows, Config, _layers));
        bool identity = UseInputIdentity;
        if (identity)
        {
            // Control vectors only: the layer-1 product works on the B images once (PERFORMANCE.md identity 2).
            var control = w.Control.AsSpan(0, rows * k);
            control.Clear();
            for (int r = 0; r < b; r++) control[r * k + labels[r]] = 1f;
            negativeControl.Data.AsSpan(0, b * k).CopyTo(control.Slice(b * k));
        }
        else
        {
            EmbedLabels(images.Data, b, labels, w.X.AsSpan(0, b * Config.InputFeatures));
            EmbedControl(images.Data, b, negativeControl.Data, w.X.AsSpan(b * Config.InputFeatures, b * Config.InputFeatures));
        }

        var losses = new float[_layers.Length];
        float[] cur = w.X, nxt = w.H;
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            int inF = layer.InFeatures, outF = layer.OutFeatures;
            var x = cur.AsSpan(0, rows * inF);
            var h = nxt.AsSpan(0, rows * outF);
            var invNorm = w.InvNorm.AsSpan(0, rows);
            bool fast = identity && l == 0;
            if (fast) FirstLayerForward(images.Data, b, w.Control, rows, h, invNorm, w.P, w.ControlWeights, computeNorms: true);
            else layer.ForwardInto(x, rows, h, invNorm);
            Kernels.MeanSquares(h, rows, outF, w.MeanSquares);
            ActivationObserver?.Invoke(new LayerActivation(l, 0, rows, b, outF, h, w.MeanSquares.AsSpan(0, rows)));
            var coef = w.Coefficient.AsSpan(0, rows);
            losses[l] = FFLoss.LossAndRowCoefficients(w.MeanSquares.AsSpan(0, rows), b, Config.Threshold, Config.Loss, outF, coef);

            // δ_r = coef_r · h_r; db = Σ_r δ_r; dW = Σ_r (δ_r / s_r) ⊗ x_r, the 1/s folding the normalisation.
            Kernels.ScaleRows(h, rows, outF, coef);
            Kernels.ColumnSums(h, rows, outF, _gradB[l]);
            Kernels.ScaleRows(h, rows, outF, invNorm);
            // Neurons silent on every row of the batch have δ = 0, so their rows of dW are exactly 0:
            // the product runs over the active neurons only (dead neurons are ~40% of a trained
            // layer 2 on MNIST) and Adam skips rows whose moments are still zero.
            if (!fast && UseSparseGradient && w.Active.TryCompact(h, rows, outF))
            {
                var columns = w.Active.Columns;
                w.Active.WeightGradient(x, inF, _gradW[l]);
                SparseGradientSteps++;
                if (StepObserver is null)
                {
                    _optimizers[l].StepRowSparse(outF, columns, [_gradW[l], _gradB[l]], [0]);
                }
                else
                {
                    Kernels.SpreadRows(_gradW[l], columns, inF, outF);
                    StepObserver(l, losses[l], w.MeanSquares.AsSpan(0, rows), _gradW[l], _gradB[l]);
                    _optimizers[l].Step([_gradW[l], _gradB[l]]);
                }
            }
            else
            {
                if (fast) FirstLayerWeightGradient(images.Data, b, w.Control, rows, h, _gradW[l], w.P, w.ControlWeights);
                else Gemm.Multiply(true, false, outF, inF, rows, h, outF, x, inF, _gradW[l], inF, accumulate: false);
                StepObserver?.Invoke(l, losses[l], w.MeanSquares.AsSpan(0, rows), _gradW[l], _gradB[l]);
                _optimizers[l].Step([_gradW[l], _gradB[l]]);
            }

            if (l + 1 < _layers.Length)
            {
                if (fast) FirstLayerForward(images.Data, b, w.Control, rows, h, invNorm, w.P, w.ControlWeights, computeNorms: false);
                else layer.ForwardWithNorms(x, rows, h, invNorm);
                (cur, nxt) = (nxt, cur);
            }
        }
        return losses;
    }

    /// <summary>
    /// Whether layer 1 uses the exact identity x·Wᵀ = image·W_imgᵀ + control·W_ctrlᵀ with
    /// ‖x‖² = ‖image‖² + ‖control‖² (PERFORMANCE.md identities 2–3): one image product serves the
    /// positive and negative rows in training and all labels in prediction. Same maths as the plain
    /// path up to float rounding; switch off to compare.
    /// </summary>
    public bool UseInputIdentity { get; set; } = true;

    /// <summary>
    /// Whether the weight gradient of a layer fed by another FF layer is computed for the neurons
    /// active in the batch only, with the dead neurons' zero rows implied (bit-identical to the full
    /// product; switch off to compare).
    /// </summary>
    public bool UseSparseGradient { get; set; } = true;

    /// <summary>How many layer steps took the active-neurons-only gradient (for tests and diagnostics).</summary>
    internal int SparseGradientSteps { get; private set; }

    /// <summary>
    /// Layer-1 activations of rows r = 0..rows−1, row r being image (r mod images) ⊕ control_r:
    /// h = ReLU((P_(r mod n) + control_r·W_ctrlᵀ)·invNorm_r + b) with P = images·W_imgᵀ.
    /// </summary>
    private void FirstLayerForward(ReadOnlySpan<float> images, int n, ReadOnlySpan<float> control, int rows, Span<float> h,
        Span<float> invNorm, float[] p, float[] controlWeights, bool computeNorms, PackedMatrix? packedImageWeight = null)
    {
        var layer = _layers[0];
        int px = Config.ImageFeatures, k = Config.Classes, inF = layer.InFeatures, outF = layer.OutFeatures;
        if (packedImageWeight is not null) Gemm.Multiply(false, n, images, px, packedImageWeight, p, outF, accumulate: false);
        else Gemm.Multiply(false, true, n, outF, px, images, px, layer.Weight.Data, inF, p, outF, accumulate: false);
        // W_ctrlᵀ: row c = column px + c of W, contiguous for the gather below.
        var wc = controlWeights.AsSpan(0, k * outF);
        var wData = layer.Weight.Data;
        for (int j = 0; j < outF; j++)
            for (int c = 0; c < k; c++) wc[c * outF + j] = wData[j * inF + px + c];
        // Row by row, while the row is in L1: h_r = ReLU((P_(r mod n) + control_r·W_ctrlᵀ)·invNorm_r + b).
        // Rows are independent, so they are split over the threads (same bits for any split).
        unsafe
        {
            fixed (float* pi = images) fixed (float* pc = control) fixed (float* ph = h) fixed (float* pn = invNorm)
            fixed (float* pp = p) fixed (float* pw = controlWeights) fixed (float* pb = layer.Bias)
            {
                var rowsJob = new FirstLayerRowsJob(pi, pc, ph, pn, pp, pw, pb, n, outF, px, k, computeNorms);
                int blocks = (rows + 15) / 16;
                if (ComputeSettings.Threads > 1 && blocks > 1)
                    Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = ComputeSettings.Threads }, i => rowsJob.Run(i * 16, Math.Min(rows, i * 16 + 16)));
                else rowsJob.Run(0, rows);
            }
        }
    }

    /// <summary>
    /// Layer-1 weight gradient from row gradients δ̃ (already divided by the row norms):
    /// dW_img = (Σ over the rows sharing an image of δ̃)ᵀ·images, dW_ctrl[:, c] = Σ_r control_r[c]·δ̃_r.
    /// </summary>
    private void FirstLayerWeightGradient(ReadOnlySpan<float> images, int n, ReadOnlySpan<float> control, int rows, ReadOnlySpan<float> delta,
        float[] gradW, float[] s, float[] g)
    {
        var layer = _layers[0];
        int px = Config.ImageFeatures, k = Config.Classes, inF = layer.InFeatures, outF = layer.OutFeatures;
        var sum = s.AsSpan(0, n * outF);
        delta.Slice(0, n * outF).CopyTo(sum);
        for (int start = n; start < rows; start += n)
            TensorPrimitives.Add(sum, delta.Slice(start * outF, n * outF), sum);
        Gemm.Multiply(true, false, outF, px, n, sum, outF, images, px, gradW, inF, accumulate: false);
        var gc = g.AsSpan(0, k * outF);
        gc.Clear();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < k; c++)
            {
                float v = control[r * k + c];
                if (v != 0f) TensorPrimitives.MultiplyAdd(delta.Slice(r * outF, outF), v, gc.Slice(c * outF, outF), gc.Slice(c * outF, outF));
            }
        for (int j = 0; j < outF; j++)
            for (int c = 0; c < k; c++) gradW[j * inF + px + c] = gc[c * outF + j];
    }

    /// <summary>
    /// Summed goodness per (image, label): row i, column c holds Σ_layers softplus(meanh² − θ) for
    /// image i with control vector onehot(c).
    /// </summary>
    public Matrix LabelScores(Matrix images)
    {
        CheckImages(images);
        int n = images.Rows, classes = Config.Classes, px = Config.ImageFeatures;
        var scores = new Matrix(n, classes);
        const int chunk = 64; // 640 rows per product: big enough for the kernels, small in memory.
        int maxWidth = Math.Max(Config.InputFeatures, _layers.Max(l => l.OutFeatures));
        int maxRows = chunk * classes;
        // Buffers are kept between calls (evaluation calls this once per chunk of the test set):
        // fresh large arrays each time only pile up on the large-object heap.
        // Taken for the call and put back after, so concurrent calls on one network stay safe (one of them allocates).
        var pw = Interlocked.Exchange(ref _predict, null) ?? new PredictWorkspace(maxRows * maxWidth, maxRows, classes, chunk, _layers[0].OutFeatures, _layers.Length);
        var (a, hbuf, invNorm, ms, labels, control, p, wc) = (pw.A, pw.H, pw.InvNorm, pw.MeanSquares, pw.Labels, pw.Control, pw.P, pw.ControlWeights);
        // Over several chunks, each weight matrix is packed for the product once, not once per chunk.
        if (n > chunk)
            for (int l = 0; l < _layers.Length; l++)
                pw.Packed[l] = l == 0 && UseInputIdentity
                    ? Gemm.Pack(true, px, _layers[0].OutFeatures, _layers[0].Weight.Data, _layers[0].InFeatures, pw.Packed[l])
                    : _layers[l].PackWeight(pw.Packed[l]);
        var packed = n > chunk ? pw.Packed : new PackedMatrix?[_layers.Length];
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start), rows = count * classes;
            var imgs = images.Data.AsSpan(start * px, count * px);
            // Label-major rows: row c·count + i = image i ⊕ onehot(c).
            for (int r = 0; r < rows; r++) labels[r] = r / count;
            float[] cur = a, nxt = hbuf;
            for (int l = 0; l < _layers.Length; l++)
            {
                var layer = _layers[l];
                var h = nxt.AsSpan(0, rows * layer.OutFeatures);
                if (l == 0 && UseInputIdentity)
                {
                    // One image product for all labels (PERFORMANCE.md identity 3).
                    Array.Clear(control, 0, rows * classes);
                    for (int r = 0; r < rows; r++) control[r * classes + labels[r]] = 1f;
                    FirstLayerForward(imgs, count, control, rows, h, invNorm, p, wc, computeNorms: true, packed[0]);
                }
                else
                {
                    if (l == 0)
                        for (int r = 0; r < rows; r++)
                        {
                            var row = cur.AsSpan(r * Config.InputFeatures, Config.InputFeatures);
                            imgs.Slice(r % count * px, px).CopyTo(row);
                            row.Slice(px).Clear();
                            row[px + labels[r]] = 1f;
                        }
                    layer.ForwardInto(cur.AsSpan(0, rows * layer.InFeatures), rows, h, invNorm, packed[l]);
                }
                Kernels.MeanSquares(h, rows, layer.OutFeatures, ms);
                for (int r = 0; r < rows; r++) scores.Data[(start + r % count) * classes + r / count] += Kernels.Softplus(ms[r] - Config.Threshold);
                (cur, nxt) = (nxt, cur);
            }
        }
        _predict = pw;
        return scores;
    }

    /// <summary>Predicted class per image: argmin of <see cref="LabelScores"/> under L−, argmax under L+.</summary>
    public int[] Predict(Matrix images)
    {
        var scores = LabelScores(images);
        var result = new int[images.Rows];
        for (int i = 0; i < result.Length; i++)
        {
            var row = scores.Row(i);
            result[i] = Config.Loss == LossDirection.Minimize ? TensorPrimitives.IndexOfMin(row) : TensorPrimitives.IndexOfMax(row);
        }
        return result;
    }

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

    /// <summary>Row r of dst = image_r ⊕ onehot(labels[r]).</summary>
    private void EmbedLabels(ReadOnlySpan<float> images, int rows, ReadOnlySpan<int> labels, Span<float> dst)
    {
        int px = Config.ImageFeatures, inF = Config.InputFeatures;
        for (int r = 0; r < rows; r++)
        {
            var row = dst.Slice(r * inF, inF);
            images.Slice(r * px, px).CopyTo(row);
            row.Slice(px).Clear();
            row[px + labels[r]] = 1f;
        }
    }

    /// <summary>Row r of dst = image_r ⊕ control_r.</summary>
    private void EmbedControl(ReadOnlySpan<float> images, int rows, ReadOnlySpan<float> control, Span<float> dst)
    {
        int px = Config.ImageFeatures, inF = Config.InputFeatures, k = Config.Classes;
        for (int r = 0; r < rows; r++)
        {
            images.Slice(r * px, px).CopyTo(dst.Slice(r * inF, px));
            control.Slice(r * k, k).CopyTo(dst.Slice(r * inF + px, k));
        }
    }

    private PredictWorkspace? _predict;

    /// <summary>The per-row part of <see cref="FirstLayerForward"/> over a range of rows (pointers pinned by the caller).</summary>
    private sealed unsafe class FirstLayerRowsJob(float* images, float* control, float* h, float* invNorm, float* p,
        float* controlWeights, float* bias, int n, int outF, int px, int k, bool computeNorms)
    {
        public void Run(int from, int to)
        {
            var b = new ReadOnlySpan<float>(bias, outF);
            for (int r = from; r < to; r++)
            {
                int img = r % n;
                var hr = new Span<float>(h + (long)r * outF, outF);
                new ReadOnlySpan<float>(p + (long)img * outF, outF).CopyTo(hr);
                float ctrlSq = 0;
                for (int c = 0; c < k; c++)
                {
                    float v = control[(long)r * k + c];
                    if (v == 0f) continue;
                    ctrlSq += v * v;
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(controlWeights + (long)c * outF, outF), v, hr, hr);
                }
                if (computeNorms)
                    invNorm[r] = 1f / (MathF.Sqrt(TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(images + (long)img * px, px)) + ctrlSq) + Kernels.NormEpsilon);
                TensorPrimitives.MultiplyAdd(hr, invNorm[r], b, hr);
                TensorPrimitives.Max(hr, 0f, hr);
            }
        }
    }

    /// <summary>Prediction buffers, kept between <see cref="LabelScores"/> calls (a call takes them; a concurrent call allocates its own).</summary>
    private sealed class PredictWorkspace(int size, int rows, int classes, int chunk, int firstWidth, int layers)
    {
        public PackedMatrix?[] Packed { get; } = new PackedMatrix?[layers];
        public float[] A { get; } = new float[size];
        public float[] H { get; } = new float[size];
        public float[] InvNorm { get; } = new float[rows];
        public float[] MeanSquares { get; } = new float[rows];
        public int[] Labels { get; } = new int[rows];
        public float[] Control { get; } = new float[rows * classes];
        public float[] P { get; } = new float[chunk * firstWidth];
        public float[] ControlWeights { get; } = new float[classes * firstWidth];
    }

    /// <summary>Buffers reused across batches so the training loop does not allocate.</summary>
    private sealed class TrainWorkspace
    {
        public TrainWorkspace(int rows, FFNetworkConfig config, FFDenseLayer[] layers)
        {
            Rows = rows;
            int maxWidth = Math.Max(config.InputFeatures, layers.Max(l => l.OutFeatures));
            X = new float[rows * maxWidth];
            H = new float[rows * maxWidth];
            InvNorm = new float[rows];
            MeanSquares = new float[rows];
            Coefficient = new float[rows];
            Control = new float[rows * config.Classes];
            P = new float[rows * layers[0].OutFeatures];
            ControlWeights = new float[config.Classes * layers[0].OutFeatures];
            Active = new ActiveNeurons(rows, maxWidth);
        }

        public ActiveNeurons Active { get; }

        public float[] Control { get; }
        public float[] P { get; }
        public float[] ControlWeights { get; }

        public int Rows { get; }
        public float[] X { get; }
        public float[] H { get; }
        public float[] InvNorm { get; }
        public float[] MeanSquares { get; }
        public float[] Coefficient { get; }
    }
}
