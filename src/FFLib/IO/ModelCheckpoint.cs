using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Layers;
using FFLib.Models;

namespace FFLib.IO;

/// <summary>
/// Model files: safetensors holding "layers.{i}.weight" [out, in] and "layers.{i}.bias" [out],
/// with string metadata "format" = "fflib-model", "format_version" = "1", "architecture",
/// "config" (JSON), "training" (JSON, free-form: dataset, seed, …) and "library_version".
/// See docs/checkpoint-format.md.
/// </summary>
public static class ModelCheckpoint
{
    /// <summary>Value of the "format" metadata key.</summary>
    public const string FormatName = "fflib-model";

    /// <summary>Current format version.</summary>
    public const int FormatVersion = 1;

    /// <summary>The library's version string, written into every file.</summary>
    public static string LibraryVersion { get; } =
        typeof(ModelCheckpoint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Saves an FFNN atomically. <paramref name="training"/> is stored as-is (e.g. dataset, seed, epochs).</summary>
    public static void Save(string path, FFNetwork network, JsonObject? training = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var cfg = network.Config;
        var config = new JsonObject
        {
            ["image_features"] = cfg.ImageFeatures,
            ["classes"] = cfg.Classes,
            ["hidden_sizes"] = new JsonArray(cfg.HiddenSizes.Select(h => (JsonNode)h).ToArray()),
            ["threshold"] = cfg.Threshold,
            ["loss"] = cfg.Loss == LossDirection.Minimize ? "min" : "max",
            ["learning_rate"] = cfg.LearningRate,
        };
        var tensors = new List<NamedTensor>();
        for (int i = 0; i < network.Layers.Count; i++)
        {
            var l = network.Layers[i];
            tensors.Add(new NamedTensor($"layers.{i}.weight", [l.OutFeatures, l.InFeatures], l.Weight.Data));
            tensors.Add(new NamedTensor($"layers.{i}.bias", [l.OutFeatures], l.Bias));
        }
        var meta = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["architecture"] = "ffnn",
            ["config"] = config.ToJsonString(),
            ["training"] = (training ?? []).ToJsonString(),
            ["library_version"] = LibraryVersion,
        };
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>A loaded model and its metadata.</summary>
    public sealed record Loaded(FFNetwork Network, string Architecture, JsonObject Training, IReadOnlyDictionary<string, string> Metadata);

    /// <summary>Loads an FFNN saved by <see cref="Save"/>; every inconsistency is reported with the file name.</summary>
    public static Loaded Load(string path)
    {
        var file = SafeTensors.Read(path);
        var m = file.Metadata;
        string Need(string key) => m.TryGetValue(key, out var v) ? v : throw Bad(path, $"metadata key '{key}' is missing");
        if (Need("format") != FormatName) throw Bad(path, $"format is '{m["format"]}', expected '{FormatName}'");
        if (!int.TryParse(Need("format_version"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int version) || version < 1 || version > FormatVersion)
            throw Bad(path, $"format_version '{m["format_version"]}' is not supported (this library reads 1..{FormatVersion})");
        string arch = Need("architecture");
        if (arch != "ffnn") throw Bad(path, $"architecture '{arch}' is not supported by this version (supported: ffnn)");
        JsonObject cfgJson, training;
        try
        {
            cfgJson = JsonNode.Parse(Need("config")) as JsonObject ?? throw Bad(path, "config is not a JSON object");
            training = JsonNode.Parse(m.TryGetValue("training", out var t) ? t : "{}") as JsonObject ?? [];
        }
        catch (JsonException e) { throw Bad(path, "config or training metadata is not valid JSON: " + e.Message); }

        FFNetworkConfig cfg;
        try
        {
            cfg = new FFNetworkConfig
            {
                ImageFeatures = cfgJson["image_features"]!.GetValue<int>(),
                Classes = cfgJson["classes"]!.GetValue<int>(),
                HiddenSizes = cfgJson["hidden_sizes"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray(),
                Threshold = cfgJson["threshold"]!.GetValue<float>(),
                Loss = cfgJson["loss"]!.GetValue<string>() switch
                {
                    "min" => LossDirection.Minimize,
                    "max" => LossDirection.Maximize,
                    var s => throw Bad(path, $"loss '{s}' is neither 'min' nor 'max'"),
                },
                LearningRate = cfgJson["learning_rate"]!.GetValue<float>(),
            };
            cfg.Validate();
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw Bad(path, "config is incomplete or invalid: " + e.Message);
        }

        var layers = new List<FFDenseLayer>();
        int inF = cfg.InputFeatures;
        for (int i = 0; i < cfg.HiddenSizes.Count; i++)
        {
            int outF = cfg.HiddenSizes[i];
            var w = file.Tensors.FirstOrDefault(x => x.Name == $"layers.{i}.weight") ?? throw Bad(path, $"tensor layers.{i}.weight is missing");
            var b = file.Tensors.FirstOrDefault(x => x.Name == $"layers.{i}.bias") ?? throw Bad(path, $"tensor layers.{i}.bias is missing");
            if (w.Shape.Length != 2 || w.Shape[0] != outF || w.Shape[1] != inF)
                throw Bad(path, $"layers.{i}.weight has shape [{string.Join(", ", w.Shape)}] but the config needs [{outF}, {inF}]");
            if (b.Shape.Length != 1 || b.Shape[0] != outF)
                throw Bad(path, $"layers.{i}.bias has shape [{string.Join(", ", b.Shape)}] but the config needs [{outF}]");
            layers.Add(new FFDenseLayer(new Matrix(outF, inF, w.Data), b.Data));
            inF = outF;
        }
        return new Loaded(new FFNetwork(cfg, layers), arch, training, m);
    }

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: not a valid FFLib model: {problem}.");
}
