using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace FFLib.Models;

/// <summary>
/// <see cref="ModelSettings"/> as JSON (training checkpoints): {"layers": [...], "lr": x, then each
/// given setting under its key, sorted}. Reads that and the form earlier versions wrote (property
/// names: "HiddenSizes", "LearningRate", "Threshold", "TrainFrames", …, through
/// <see cref="ModelSetting.FormerNames"/>). Keys no registered architecture declares are ignored, as
/// they always were.
/// </summary>
internal sealed class ModelSettingsJsonConverter : JsonConverter<ModelSettings>
{
    public override ModelSettings Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (JsonNode.Parse(ref reader) is not JsonObject o) throw new JsonException("The model settings are not a JSON object.");
        var settings = new ModelSettings();
        foreach (var (name, node) in o)
        {
            try
            {
                switch (name)
                {
                    case "layers" or "HiddenSizes":
                        settings = settings with { HiddenSizes = node is JsonArray a ? a.Select(n => n!.GetValue<int>()).ToArray() : throw new JsonException($"'{name}' is not an array of widths.") };
                        break;
                    case "lr" or "LearningRate":
                        settings = settings with { LearningRate = node is null ? null : (float)node.GetValue<double>() };
                        break;
                    default:
                        if (node is not null && ArchitectureRegistry.FindSetting(name) is { } setting) settings = settings.With(setting, setting.FromJson(node));
                        break;
                }
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new JsonException($"The model setting '{name}' holds {node?.ToJsonString() ?? "null"}: {e.Message}.", e);
            }
        }
        return settings;
    }

    public override void Write(Utf8JsonWriter writer, ModelSettings value, JsonSerializerOptions options)
    {
        var o = new JsonObject
        {
            ["layers"] = new JsonArray(value.HiddenSizes.Select(h => (JsonNode)h).ToArray()),
            ["lr"] = value.LearningRate is float lr ? JsonValue.Create(lr) : null,
        };
        foreach (var (setting, v) in value.GivenValues.OrderBy(p => p.Key.Key, StringComparer.Ordinal)) o[setting.Key] = setting.ToJson(v);
        o.WriteTo(writer, options);
    }
}
