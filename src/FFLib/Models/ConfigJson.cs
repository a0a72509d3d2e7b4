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

    /// <summary>
    /// Adds the regularisers' keys ("peer_norm", "activity_l1", "weight_decay") to an FF model's
    /// configuration, each only when on: a model trained without them has the file it had before they existed.
    /// </summary>
    public static void WriteRegularization(JsonObject config, FFRegularization regularization)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(regularization);
        if (regularization.PeerNormalization != 0) config["peer_norm"] = regularization.PeerNormalization;
        if (regularization.ActivityL1 != 0) config["activity_l1"] = regularization.ActivityL1;
        if (regularization.WeightDecay != 0) config["weight_decay"] = regularization.WeightDecay;
    }

    /// <summary>The regularisers <see cref="WriteRegularization"/> wrote (a missing key is 0: off).</summary>
    public static FFRegularization Regularization(JsonObject config)
    {
        ArgumentNullException.ThrowIfNull(config);
        float Optional(string key) => config.ContainsKey(key) ? Get<float>(config, key) : 0f;
        return new FFRegularization { PeerNormalization = Optional("peer_norm"), ActivityL1 = Optional("activity_l1"), WeightDecay = Optional("weight_decay") };
    }
}
