using FFLib.Compute;
using FFLib.Layers;

namespace FFLib.Models;

/// <summary>
/// The buffers of an FFNN pass over up to <see cref="Rows"/> rows (a training batch's positives and
/// negatives, or a prediction chunk's image × label rows), kept between calls so that the loops do
/// not allocate. <see cref="ImageRows"/> bounds the distinct images (the layer-1 shortcut's product).
/// </summary>
internal sealed class FFNetworkWorkspace : DeviceWorkspace
{
    public FFNetworkWorkspace(ComputeBackend backend, int rows, int imageRows, FFNetworkConfig config, IReadOnlyList<FFDenseLayer> layers, bool training = false)
        : base(backend)
    {
        Rows = rows;
        ImageRows = imageRows;
        int maxWidth = Math.Max(config.InputFeatures, layers.Max(l => l.OutFeatures));
        int k = config.Classes, first = layers[0].OutFeatures;
        X = Allocate(rows * maxWidth);
        H = Allocate(rows * maxWidth);
        InvNorm = Allocate(rows).All;
        MeanSquares = Allocate(rows).All;
        Coefficient = Allocate(rows).All;
        Losses = Allocate(layers.Count).All;
        Control = Allocate(rows * k).All;
        HostControl = new float[rows * k];
        P = Allocate(Math.Max(1, imageRows) * first).All;
        ControlWeights = Allocate(k * first).All;
        Prepared = new object?[layers.Count];
        if (training) Active = backend.CreateActiveNeurons(rows, maxWidth);
        if (training && config.Regularization.HasActivityTerms)
        {
            RegularizerGradient = Allocate(rows * maxWidth).All;
            RegularizerScratch = Allocate(3 * maxWidth + 1).All;
        }
    }

    public int Rows { get; }
    public int ImageRows { get; }

    /// <summary>Layer inputs and outputs, in turn: layer l reads one and writes the other.</summary>
    public DeviceArray X { get; }
    public DeviceArray H { get; }

    /// <summary>(input, output) of layer l over <paramref name="rows"/> rows: X → H for even l, H → X for odd l.</summary>
    public (DeviceSpan X, DeviceSpan H) Buffers(int l, int rows, int inF, int outF) => l % 2 == 0
        ? (X.Slice(0, rows * inF), H.Slice(0, rows * outF))
        : (H.Slice(0, rows * inF), X.Slice(0, rows * outF));

    public DeviceSpan InvNorm { get; }
    public DeviceSpan MeanSquares { get; }
    public DeviceSpan Coefficient { get; }

    /// <summary>Each layer's loss of the batch.</summary>
    public DeviceSpan Losses { get; }

    /// <summary>The control vector of every row (rows × classes), and its host staging copy.</summary>
    public DeviceSpan Control { get; }
    public float[] HostControl { get; }

    /// <summary>The layer-1 shortcut's image product (images × width) and W_ctrlᵀ (classes × width).</summary>
    public DeviceSpan P { get; }
    public DeviceSpan ControlWeights { get; }

    /// <summary>Prediction: each layer's weight as prepared by the backend (kept to be refilled by the next call).</summary>
    public object?[] Prepared { get; }

    /// <summary>Training on a backend that has it: the dead-neuron shortcut's scratch.</summary>
    public ActiveNeurons? Active { get; }

    /// <summary>The activity regularisers' gradient (rows × width) and their scratch space; empty without them.</summary>
    public DeviceSpan RegularizerGradient { get; }

    /// <inheritdoc cref="RegularizerGradient"/>
    public DeviceSpan RegularizerScratch { get; }
}
