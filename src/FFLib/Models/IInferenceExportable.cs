using FFLib.Compute;
using FFLib.Export;

namespace FFLib.Models;

/// <summary>A model whose prediction can be written as an <see cref="InferenceGraph"/> (and so exported to ONNX and C).</summary>
public interface IInferenceExportable : IClassifierModel
{
    /// <summary>The model's prediction: per-label scores and which end of them is the predicted class.</summary>
    InferenceGraph BuildInferenceGraph();

    /// <summary>The scores of the model's own graph with its own parameters, run by <see cref="InferenceInterpreter"/> (the reference the exports are checked against).</summary>
    Matrix GraphScores(Matrix images) => InferenceInterpreter.Scores(BuildInferenceGraph(), Parameters(), images);
}
