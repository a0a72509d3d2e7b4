using FFLib.Compute;
using FFLib.Export;

namespace FFLib.Models;

// The FF CNN's prediction as an inference graph (ONNX and C export). Its own file: the layer
// maths it restates lives in FFConvNetwork.cs (contrastive) and FFConvNetwork.Competitive.cs.
public sealed partial class FFConvNetwork : IInferenceExportable
{
    /// <summary>
    /// The prediction as an inference graph. Each layer: h = ReLU(conv(x, W)/(‖x‖ + 1e-4)·s + b) over the
    /// whole input map (s = the competitive objective's input scale, else 1), then optional 2×2 max-pooling.
    /// Linear head: one pass without a label, the head's logits. Competitive: one pass, the last layer's
    /// class goodnesses (highest wins). Contrastive: per label, the image plus the label's pattern,
    /// Σ over layers softplus(mean h² − θ). Label channels and per-position goodness
    /// are not exported yet (<see cref="NotSupportedException"/> says so).
    /// </summary>
    public InferenceGraph BuildInferenceGraph()
    {
        if (LabelPlanes) throw new NotSupportedException("FF CNNs with label channels (label_encoding channels) cannot be exported yet; fourier or corner labels, or the competitive objective, can.");
        if (PerPosition && !Competitive && _classifier is null) throw new NotSupportedException("FF CNNs scored by per-position goodness (goodness position) cannot be exported yet; goodness map, a linear head, or the competitive objective can.");
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        int image = GraphImage(g);
        if (_classifier is not null)
        {
            int top = GraphNext(g, ConvLayers.Length - 1, GraphForward(g, image, visit: null));
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
            int x = g.Add(image, g.Constant(_patterns.AsSpan(c * ImageFeatures, ImageFeatures)));
            int total = -1;
            GraphForward(g, x, h =>
            {
                int term = g.Softplus(g.AddScalar(g.MeanSquares(h), -Config.Threshold));
                total = total < 0 ? term : g.Add(total, term);
            });
            totals[c] = total;
        }
        g.SetOutput(g.Concat(totals), predictLowest: Config.Loss == FFLib.Layers.LossDirection.Minimize);
        return g;
    }

    /// <summary>Every layer on graph value <paramref name="x"/>, handing each output (before pooling) to <paramref name="visit"/>; returns the last layer's output before pooling.</summary>
    private int GraphForward(InferenceGraph g, int x, Action<int>? visit)
    {
        int h = x;
        for (int l = 0; l < ConvLayers.Length; l++)
        {
            if (l > 0) x = GraphNext(g, l - 1, h);
            int norm = g.AddScalar(g.Sqrt(g.SumSquares(x)), Kernels.NormEpsilon);
            int z = g.DivideRows(GraphConv(g, l, x), norm);
            if (Competitive) z = g.MulScalar(z, InputScale(l));
            h = g.Relu(g.AddChannelBias(z, $"layers.{l}.bias"));
            visit?.Invoke(h);
        }
        return h;
    }
}
