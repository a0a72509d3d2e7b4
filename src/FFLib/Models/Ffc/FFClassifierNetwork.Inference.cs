using FFLib.Export;

namespace FFLib.Models;

public sealed partial class FFClassifierNetwork : IInferenceExportable
{
    /// <summary>One pass with the all-zero control vector; scores ReLU(classifier(every FF layer's output side by side)); argmax.</summary>
    public InferenceGraph BuildInferenceGraph()
    {
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        var outputs = Stack.StackInference(g, Stack.FirstLayerShared(g, g.Input), label: null);
        int scores = g.Relu(g.AddBias(g.MatMul(g.Concat(outputs), "classifier.weight"), "classifier.bias"));
        g.SetOutput(scores, predictLowest: false);
        return g;
    }
}
