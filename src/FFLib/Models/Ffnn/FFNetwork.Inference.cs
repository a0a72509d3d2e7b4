using FFLib.Export;
using FFLib.Layers;

namespace FFLib.Models;

public sealed partial class FFNetwork : IInferenceExportable
{
    /// <summary>
    /// The label probe as a graph: for each label c, image ⊕ onehot(c) through every layer, scores
    /// Σ_layers softplus(meanh² − θ); predicted class the lowest score under L−, the highest under L+.
    /// The image's layer-1 product and norm are shared by the ten labels (onehot(c)·W = column c).
    /// </summary>
    public InferenceGraph BuildInferenceGraph()
    {
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        var totals = new int[Config.Classes];
        var shared = FirstLayerShared(g, g.Input);
        for (int c = 0; c < Config.Classes; c++)
        {
            var outputs = StackInference(g, shared, c);
            int total = -1;
            foreach (var h in outputs)
            {
                int term = g.Softplus(g.AddScalar(g.MeanSquares(h), -Config.Threshold));
                total = total < 0 ? term : g.Add(total, term);
            }
            totals[c] = total;
        }
        g.SetOutput(g.Concat(totals), predictLowest: Config.Loss == LossDirection.Minimize);
        return g;
    }

    /// <summary>Layer 1's label-independent part: the image product and ‖image‖².</summary>
    internal (int Product, int SquaredNorm) FirstLayerShared(InferenceGraph g, int image) =>
        (g.MatMul(image, "layers.0.weight", 0), g.SumSquares(image));

    /// <summary>
    /// Every layer's output for one control vector: onehot(<paramref name="label"/>), or all zeros
    /// when it is null (FFNN+C). Each layer: ReLU((x / (‖x‖ + 1e-4))·Wᵀ + b).
    /// </summary>
    internal int[] StackInference(InferenceGraph g, (int Product, int SquaredNorm) first, int? label)
    {
        const float eps = 1e-4f;
        var outputs = new int[_layers.Length];
        // ‖image ⊕ onehot‖² = ‖image‖² + 1; the zero control adds nothing.
        int norm = g.AddScalar(g.Sqrt(label is null ? first.SquaredNorm : g.AddScalar(first.SquaredNorm, 1f)), eps);
        int pre = label is int c ? g.AddWeightColumn(first.Product, "layers.0.weight", Config.ImageFeatures + c) : first.Product;
        int h = g.Relu(g.AddBias(g.DivideRows(pre, norm), "layers.0.bias"));
        outputs[0] = h;
        for (int l = 1; l < _layers.Length; l++)
        {
            int s = g.AddScalar(g.Sqrt(g.SumSquares(h)), eps);
            h = g.Relu(g.AddBias(g.DivideRows(g.MatMul(h, $"layers.{l}.weight"), s), $"layers.{l}.bias"));
            outputs[l] = h;
        }
        return outputs;
    }
}
