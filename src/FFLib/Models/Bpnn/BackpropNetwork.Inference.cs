using FFLib.Export;

namespace FFLib.Models;

public sealed partial class BackpropNetwork : IInferenceExportable
{
    /// <summary>ReLU layers, then the logits as scores; argmax.</summary>
    public InferenceGraph BuildInferenceGraph()
    {
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        int h = g.Input;
        for (int l = 0; l < _layers.Length; l++)
        {
            h = g.AddBias(g.MatMul(h, $"layers.{l}.weight"), $"layers.{l}.bias");
            if (l + 1 < _layers.Length) h = g.Relu(h);
        }
        g.SetOutput(h, predictLowest: false);
        return g;
    }
}
