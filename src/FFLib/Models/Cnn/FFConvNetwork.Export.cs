using FFLib.Compute;
using FFLib.Export;
using FFLib.Layers;

namespace FFLib.Models;

// The FF CNN's prediction as an inference graph (ONNX and C export). Its own file: the layer
// maths it restates lives in FFConvNetwork.cs (contrastive) and FFConvNetwork.Competitive.cs.
public sealed partial class FFConvNetwork : IInferenceExportable
{
    /// <summary>
    /// The prediction as an inference graph. Each layer: h = ReLU(conv(x, W)/(‖x‖ + 1e-4)·s + b) over the
    /// whole input map (s = the competitive objective's input scale, else 1), with batch normalisation a per-channel
    /// affine map of h (the running statistics folded in), then optional 2×2 max-pooling.
    /// Linear head: one pass without a label, the head's logits. Competitive: one pass, the last layer's
    /// class goodnesses (highest wins). Contrastive: per label, the image plus the label's pattern (or, with
    /// label channels, every layer's input widened by the label's one-hot planes), Σ over layers
    /// softplus(mean h² − θ) (per-position goodness: the mean over positions of softplus(mean over channels of h² − θ)).
    /// </summary>
    public InferenceGraph BuildInferenceGraph()
    {
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        int image = GraphImage(g);
        if (_classifier is not null)
        {
            // With label channels the head reads the map of the image with no label (all-zero planes).
            int top = GraphNext(g, ConvLayers.Length - 1, GraphForward(g, image, visit: null, label: -1));
            g.SetOutput(g.AddBias(g.MatMul(top, "classifier.weight"), "classifier.bias"), predictLowest: false);
            return g;
        }
        if (Competitive)
        {
            int h = GraphForward(g, image, visit: null);
            g.SetOutput(g.ChannelGroupMeanSquares(h, ChannelOwners(ConvLayers.Length - 1), Classes), predictLowest: false);
            return g;
        }
        var totals = new int[Classes];
        for (int c = 0; c < Classes; c++)
        {
            int x = LabelPlanes ? image : g.Add(image, g.Constant(_patterns.AsSpan(c * ImageFeatures, ImageFeatures)));
            int total = -1, layer = 0;
            GraphForward(g, x, label: c, visit: h =>
            {
                int term = PerPosition
                    ? g.Mean(g.Softplus(g.AddScalar(g.GroupMeanSquares(h, ConvLayers[layer++].OutChannels), -Config.Threshold)))
                    : g.Softplus(g.AddScalar(g.MeanSquares(h), -Config.Threshold));
                total = total < 0 ? term : g.Add(total, term);
            });
            totals[c] = total;
        }
        g.SetOutput(g.Concat(totals), predictLowest: Config.Loss == FFLib.Layers.LossDirection.Minimize);
        return g;
    }

    /// <summary>
    /// Every layer on graph value <paramref name="x"/>, handing each output (before pooling) to <paramref name="visit"/>;
    /// returns the last layer's output before pooling. With label channels each layer's input is widened by
    /// <paramref name="label"/>'s one-hot planes (−1: all-zero planes).
    /// </summary>
    private int GraphForward(InferenceGraph g, int x, Action<int>? visit, int label = -1)
    {
        int h = x;
        for (int l = 0; l < ConvLayers.Length; l++)
        {
            if (l > 0) x = GraphNext(g, l - 1, h);
            if (LabelPlanes) x = GraphWithLabelPlanes(g, l, x, label);
            int norm = g.AddScalar(g.Sqrt(g.SumSquares(x)), Kernels.NormEpsilon);
            int z = g.DivideRows(GraphConv(g, l, x), norm);
            if (Competitive) z = g.MulScalar(z, InputScale(l));
            h = g.Relu(g.AddChannelBias(z, $"layers.{l}.bias"));
            if (_norms is { } norms)
            {
                // Batch normalisation with the running statistics: y = h·a + s, a = γ/√(var + ε), s = β − mean·a.
                var (gamma, beta, mean) = (norms[l].Gamma.Data, norms[l].Beta.Data, norms[l].RunningMean.Data);
                var invStd = ChannelBatchNorm.InverseStd(norms[l].RunningVar.Data);
                var scale = new float[gamma.Length];
                var shift = new float[gamma.Length];
                for (int c = 0; c < scale.Length; c++) { scale[c] = gamma[c] * invStd[c]; shift[c] = beta[c] - mean[c] * scale[c]; }
                h = g.ChannelAffine(h, scale, shift);
            }
            visit?.Invoke(h);
        }
        return h;
    }

    /// <summary>
    /// Layer l's input x (positions × own channels, NHWC) with the label's one-hot appended to every position as
    /// K more channels: the K values concatenated once behind x, then one gather that interleaves them.
    /// </summary>
    private int GraphWithLabelPlanes(InferenceGraph g, int l, int x, int label)
    {
        var geo = ConvLayers[l].Geometry;
        int k = Classes, own = geo.Channels - k, positions = geo.Height * geo.Width;
        var oneHot = new float[k];
        if (label >= 0) oneHot[label] = 1f;
        var index = new int[positions * geo.Channels];
        for (int q = 0; q < positions; q++)
            for (int c = 0; c < geo.Channels; c++)
                index[q * geo.Channels + c] = c < own ? q * own + c : positions * own + (c - own);
        return g.Gather(g.Concat(x, g.Constant(oneHot)), index);
    }
}
