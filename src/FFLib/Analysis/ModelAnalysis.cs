using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.IO;
using FFLib.Models;

namespace FFLib.Analysis;

/// <summary>Sparsity and statistics of one parameter tensor of one layer.</summary>
/// <param name="Layer">Layer name: "layer 1", …, "output" (BPNN), "classifier" (FFNN+C).</param>
/// <param name="Parameter">"weight", "bias"; FFRNN: "forward", "backward", "bias", "forward+bias".</param>
/// <param name="Count">Number of values.</param>
/// <param name="Sparsity">The four sparsity measures.</param>
/// <param name="Stats">Min, max, mean, std.</param>
public sealed record ParameterReport(string Layer, string Parameter, int Count, SparsityValues Sparsity, TensorStats Stats);

/// <summary>Weight sparsity (Table 3) and weight/bias statistics (Table 4) of a model, layer by layer.</summary>
public sealed record ModelReport(Architecture Architecture, IReadOnlyList<ParameterReport> Parameters)
{
    /// <summary>The report as JSON (what <c>fflib analyze</c> writes to analysis.json).</summary>
    public JsonObject ToJson() => new()
    {
        ["architecture"] = Architecture.Id,
        ["parameters"] = new JsonArray(Parameters.Select(p => (JsonNode)new JsonObject
        {
            ["layer"] = p.Layer,
            ["parameter"] = p.Parameter,
            ["count"] = p.Count,
            ["sparsity"] = new JsonObject
            {
                ["l1_entropy"] = Finite(p.Sparsity.L1NegativeEntropy),
                ["l2_entropy"] = Finite(p.Sparsity.L2NegativeEntropy),
                ["hoyer"] = Finite(p.Sparsity.Hoyer),
                ["gini"] = Finite(p.Sparsity.Gini),
            },
            ["stats"] = new JsonObject
            {
                ["min"] = Finite(p.Stats.Min), ["max"] = Finite(p.Stats.Max), ["mean"] = Finite(p.Stats.Mean), ["std"] = Finite(p.Stats.Std),
            },
        }).ToArray()),
    };

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    /// <summary>JSON text, indented.</summary>
    public string ToJsonString() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>Builds <see cref="ModelReport"/>s and enumerates the weight tensors of any model.</summary>
public static class ModelAnalysis
{
    /// <summary>A weight or bias tensor of a model, by layer.</summary>
    public sealed record NamedParameter(string Layer, string Parameter, float[] Values);

    /// <summary>
    /// The parameters whose sparsity the paper reports, in the model's parameter order, labelled by
    /// layer ("layer 1", "output", "classifier", …) and kind ("weight", "bias", "forward",
    /// "backward"). A layer with several weight matrices and a bias (FFRNN) also gets the
    /// concatenation of its first matrix and its bias ("forward+bias"), the paper's incoming-weight view.
    /// </summary>
    public static IReadOnlyList<NamedParameter> Parameters(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var list = new List<NamedParameter>();
        var all = model.Parameters();
        for (int start = 0; start < all.Count;)
        {
            int end = start;
            while (end < all.Count && all[end].Layer == all[start].Layer) end++;
            var group = all.Skip(start).Take(end - start).ToArray();
            foreach (var p in group) list.Add(new(p.Layer, p.Kind, p.Data));
            var matrices = group.Where(p => p.IsMatrix).ToArray();
            var bias = group.FirstOrDefault(p => !p.IsMatrix);
            if (matrices.Length > 1 && bias is not null)
                list.Add(new(group[0].Layer, matrices[0].Kind + "+bias", [.. matrices[0].Data, .. bias.Data]));
            start = end;
        }
        return list;
    }

    /// <summary>Sparsity and statistics of every parameter of <paramref name="model"/>.</summary>
    public static ModelReport Analyze(IClassifierModel model) =>
        new(model.Architecture, Parameters(model).Select(p => new ParameterReport(p.Layer, p.Parameter, p.Values.Length, Sparsity.All(p.Values), TensorStats.Of(p.Values))).ToArray());

    /// <summary>The weight matrices whose sparsity is tracked during training (Figures 9–12): "weight" and, for FFRNN, "forward"/"backward".</summary>
    public static IReadOnlyList<NamedParameter> TrackedWeights(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Parameters().Where(p => p.IsMatrix).Select(p => new NamedParameter(p.Layer, p.Kind, p.Data)).ToArray();
    }
}
