using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// Everything an FFRNN pass over up to <see cref="Rows"/> state rows needs (training, prediction,
/// activations), on the network's backend; kept between calls.
/// </summary>
internal sealed class FFRecurrentBuffers : DeviceWorkspace
{
    public FFRecurrentBuffers(ComputeBackend be, int rows, FFRecurrentConfig config, bool training = false) : base(be)
    {
        Rows = rows;
        var d = config.Dimensions;
        States = d.Select(w => Allocate(rows * w).All).ToArray();
        Next = d.Select(w => Allocate(rows * w).All).ToArray();
        Normed = d.Select(w => Allocate(rows * w).All).ToArray();
        int maxHidden = config.HiddenSizes.Max(), max = d.Max();
        Pre = Allocate(rows * maxHidden).All;
        MeanSquares = Allocate(rows).All;
        Coefficient = Allocate(rows).All;
        Losses = Allocate(config.TrainFrames * config.HiddenSizes.Count).All;
        SweepPre = Allocate(rows * max).All;
        SweepBelow = Allocate(rows * max).All;
        SweepAbove = Allocate(rows * max).All;
        SweepFresh = Allocate(rows * max).All;
        Active = be.CreateActiveNeurons(rows, maxHidden);
        if (training && config.Regularization.HasActivityTerms)
        {
            RegularizerGradient = Allocate(rows * maxHidden).All;
            RegularizerScratch = Allocate(3 * maxHidden + 1).All;
        }
    }

    public int Rows { get; }

    /// <summary>Per level (image, hidden…, label): the states, the next frame's, and their row-normalised copies.</summary>
    public DeviceSpan[] States { get; }
    public DeviceSpan[] Next { get; }
    public DeviceSpan[] Normed { get; }

    public DeviceSpan Pre { get; }
    public DeviceSpan MeanSquares { get; }
    public DeviceSpan Coefficient { get; }

    /// <summary>Training: each layer's loss in each frame of the batch (frame-major).</summary>
    public DeviceSpan Losses { get; }

    /// <summary>The sweep's pre-activations, normalised neighbours and fresh states.</summary>
    public DeviceSpan SweepPre { get; }
    public DeviceSpan SweepBelow { get; }
    public DeviceSpan SweepAbove { get; }
    public DeviceSpan SweepFresh { get; }

    /// <summary>Training with peer normalisation or activity L1: their gradient and scratch (else empty).</summary>
    public DeviceSpan RegularizerGradient { get; }

    /// <inheritdoc cref="RegularizerGradient"/>
    public DeviceSpan RegularizerScratch { get; }

    /// <summary>The dead-neuron shortcut's scratch (training, on a backend that has it).</summary>
    public ActiveNeurons? Active { get; }

    /// <summary>Layer 1's shared image product (made by the network at first use).</summary>
    public FFRecurrentImageProduct? ImageProduct;

    /// <summary>Prediction: label c's initial rows laid out for <see cref="InitialRowsCount"/> rows (row r has label r mod classes).</summary>
    public DeviceArray[]? InitialRows;
    public int InitialRowsCount;

    private object?[]? _prepared;

    /// <summary>Every layer's Wf then Wb prepared for the products of one prediction call (refilled each call).</summary>
    public object?[] Prepare(ComputeBackend be, FFRecurrentNetwork net)
    {
        var layers = net.Layers;
        _prepared ??= new object?[2 * layers.Count];
        for (int l = 0; l < layers.Count; l++)
        {
            var f = layers[l].ForwardWeight;
            var b = layers[l].BackwardWeight;
            _prepared[l] = be.Prepare(true, f.Cols, f.Rows, net.Device(layers[l].ForwardParameter), f.Cols, _prepared[l]);
            _prepared[layers.Count + l] = be.Prepare(true, b.Cols, b.Rows, net.Device(layers[l].BackwardParameter), b.Cols, _prepared[layers.Count + l]);
        }
        return _prepared;
    }
}
