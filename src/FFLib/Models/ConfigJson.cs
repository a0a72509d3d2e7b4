using System.Text.Json.Nodes;
using FFLib.Layers;

namespace FFLib.Models;

/// <summary>
/// Reading and writing the values of a model configuration's JSON object, with errors that name
/// the key (for <see cref="Architecture.FromConfig"/> implementations).
/// </summary>
public static class ConfigJson
{
    /// <summary>The value of <paramref name="key"/> as T; <see cref="FormatException"/> naming the key if missing or of another type.</summary>
    public static T Get<T>(JsonObject config, string key)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config[key] is not JsonValue v) throw new FormatException($"config key '{key}' is missing or not a value");
        try { return v.GetValue<T>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException) { throw new FormatException($"config key '{key}' is not a {typeof(T).Name}: {v.ToJsonString()}"); }
    }

    /// <summary>An array of integers (e.g. "hidden_sizes").</summary>
    public static int[] IntArray(JsonObject config, string key)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config[key] is not JsonArray a) throw new FormatException($"config key '{key}' is missing or not an array");
        return a.Select((n, i) => n is JsonValue v && v.TryGetValue<int>(out int x) ? x : throw new FormatException($"config key '{key}'[{i}] is not an integer")).ToArray();
    }

    /// <summary>An array of integers as JSON.</summary>
    public static JsonArray IntArray(IEnumerable<int> values) => new(values.Select(h => (JsonNode)h).ToArray());

    /// <summary>The loss direction, written "min" (L−) or "max" (L+).</summary>
    public static LossDirection Loss(JsonObject config, string key = "loss") => Get<string>(config, key) switch
    {
        "min" => LossDirection.Minimize,
        "max" => LossDirection.Maximize,
        var s => throw new FormatException($"config key '{key}' is '{s}', neither 'min' nor 'max'"),
    };

    /// <summary>"min" or "max".</summary>
    public static string LossText(LossDirection direction) => direction == LossDirection.Minimize ? "min" : "max";
}
