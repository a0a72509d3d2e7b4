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
        ["architecture"] = ModelCheckpoint.ArchitectureId(Architecture),
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
    /// The parameters whose sparsity the paper reports, in layer order: every layer's weight and
    /// bias (BPNN's last layer is "output", FFNN+C's classifier "classifier"); FFRNN layers give
    /// "forward", "backward", "bias" and the concatenation "forward+bias".
    /// </summary>
    public static IReadOnlyList<NamedParameter> Parameters(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var list = new List<NamedParameter>();
        switch (model)
        {
            case FFNetwork ffnn:
                for (int i = 0; i < ffnn.Layers.Count; i++)
                {
                    list.Add(new($"layer {i + 1}", "weight", ffnn.Layers[i].Weight.Data));
                    list.Add(new($"layer {i + 1}", "bias", ffnn.Layers[i].Bias));
                }
                break;
            case FFClassifierNetwork ffc:
                list.AddRange(Parameters(ffc.Stack));
                list.Add(new("classifier", "weight", ffc.Classifier.Weight.Data));
                list.Add(new("classifier", "bias", ffc.Classifier.Bias));
                break;
            case FFRecurrentNetwork rnn:
                for (int i = 0; i < rnn.Layers.Count; i++)
                {
                    var l = rnn.Layers[i];
                    list.Add(new($"layer {i + 1}", "forward", l.ForwardWeight.Data));
                    list.Add(new($"layer {i + 1}", "backward", l.BackwardWeight.Data));
                    list.Add(new($"layer {i + 1}", "bias", l.Bias));
                    list.Add(new($"layer {i + 1}", "forward+bias", [.. l.ForwardWeight.Data, .. l.Bias]));
                }
                break;
            case BackpropNetwork bp:
                for (int i = 0; i < bp.Layers.Count; i++)
                {
                    string name = i == bp.Layers.Count - 1 ? "output" : $"layer {i + 1}";
                    list.Add(new(name, "weight", bp.Layers[i].Weight.Data));
                    list.Add(new(name, "bias", bp.Layers[i].Bias));
                }
                break;
            default:
                throw new ArgumentException($"{model.GetType().Name} is not a model this analysis knows.", nameof(model));
        }
        return list;
    }

    /// <summary>Sparsity and statistics of every parameter of <paramref name="model"/>.</summary>
    public static ModelReport Analyze(IClassifierModel model) =>
        new(model.Architecture, Parameters(model).Select(p => new ParameterReport(p.Layer, p.Parameter, p.Values.Length, Sparsity.All(p.Values), TensorStats.Of(p.Values))).ToArray());

    /// <summary>The weight matrices whose sparsity is tracked during training (Figures 9–12): "weight" and, for FFRNN, "forward"/"backward".</summary>
    public static IReadOnlyList<NamedParameter> TrackedWeights(IClassifierModel model) =>
        Parameters(model).Where(p => p.Parameter is "weight" or "forward" or "backward").ToArray();
}
