using FFLib.Models;

namespace FFLib.Export;

/// <summary>What every exporter starts from: the model's inference graph, its parameters up to date on the host.</summary>
internal static class ExportGraph
{
    public static InferenceGraph Of(Models.IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is not IInferenceExportable exportable)
            throw new NotSupportedException($"{model.Architecture.DisplayName} models cannot describe their prediction as an inference graph, so they cannot be exported.");
        // A model on a device: parameters back into the host arrays first.
        (model as Modules.ComputeModule)?.SynchronizeToHost();
        return exportable.BuildInferenceGraph();
    }
}
