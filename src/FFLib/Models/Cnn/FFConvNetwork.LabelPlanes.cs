using FFLib.Compute;

namespace FFLib.Models;

// The label-channel encoding's forward and weight gradient (its own file: the model's training,
// prediction and classifier stay in FFConvNetwork.cs).
public sealed partial class FFConvNetwork
{
    private bool LabelPlanes => Config.Labels == LabelEncoding.Channels;

    /// <summary>Label channels through <see cref="LabelPlaneShortcut"/> (default) rather than materialised planes (the reference path the tests compare it with).</summary>
    internal bool UseLabelPlaneShortcut { get; set; } = true;

    private bool Shortcut => LabelPlanes && UseLabelPlaneShortcut;

    // Inside WithFixedWeights: which layers' W split is on the backend already (null outside: split every forward).
    private bool[]? _splitReady;

    /// <summary>Runs <paramref name="read"/>, a read-only pass (prediction, activations), reusing each layer's W split across its chunks and labels.</summary>
    private T WithFixedWeights<T>(Func<T> read)
    {
        if (!Shortcut || _splitReady is not null) return read();
        _splitReady = new bool[ConvLayers.Length];
        try { return read(); }
        finally { _splitReady = null; }
    }

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
        // W split into W_own and the tap sums: once per forward in training (the weights move between
        // forwards), once per layer for a whole prediction call (they do not; see WithFixedWeights).
        var (wOwn, taps) = (s.Get($"sc-wown{l}", outC * own.PatchSize), s.Get($"sc-taps{l}", k * positions * outC));
        if (_splitReady is not { } ready || !ready[l])
        {
            var weight = be.Read(Device(layer.WeightParameter)).ToArray();
            var (ownWeight, tapSums) = (new float[outC * own.PatchSize], new float[k * positions * outC]);
            LabelPlaneShortcut.Split(weight, own, outC, k, ownWeight, tapSums);
            be.Write(ownWeight, wOwn);
            be.Write(tapSums, taps);
            if (_splitReady is { } r) r[l] = true;
        }
        if (!reuseColumns) be.Im2Col(x, rows, own, cols);
        be.Gemm(false, true, rows * positions, outC, own.PatchSize, cols, own.PatchSize, wOwn, own.PatchSize, h, outC, accumulate: false);
        be.Gemm(false, false, rows, positions * outC, k, controlOnDevice, k, taps, positions * outC, h, positions * outC, accumulate: true);
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
}
