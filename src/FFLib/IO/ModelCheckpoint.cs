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

    /// <summary>Metadata value of "quantization" for int8 files.</summary>
    public const string Int8PerRow = "int8-per-row";

    /// <summary>Saves any model atomically. <paramref name="training"/> is stored as-is (e.g. dataset, seed, epochs).</summary>
    public static void Save(string path, IClassifierModel model, JsonObject? training = null) => Write(path, model, training, quantize: false);

    /// <summary>
    /// Saves with every weight matrix quantised to int8 with one float scale per row
    /// (scale = max|row|/127, q = round(w/scale)); biases stay float32. Loading dequantises.
    /// </summary>
    public static void SaveInt8(string path, IClassifierModel model, JsonObject? training = null) => Write(path, model, training, quantize: true);

    /// <summary>The model as it will be after an int8 round trip (for measuring the accuracy of the int8 file without writing it).</summary>
    public static void Quantize(float[] weights, int rows, int cols, float[] q, float[] scales)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = weights.AsSpan(r * cols, cols);
            float max = row.IsEmpty ? 0 : MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(row));
            float scale = max > 0 ? max / 127f : 1f;
            scales[r] = scale;
            for (int j = 0; j < cols; j++) q[r * cols + j] = Math.Clamp(MathF.Round(row[j] / scale), -127f, 127f);
        }
    }

    /// <summary>Writes a model file, optionally with extra tensors and metadata (training checkpoints add the optimiser state).</summary>
    internal static void Write(string path, IClassifierModel model, JsonObject? training, bool quantize,
        IReadOnlyList<NamedTensor>? extraTensors = null, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var tensors = new List<NamedTensor>();
        JsonObject config;
        switch (model)
        {
            case FFNetwork ffnn:
                config = FFConfigJson(ffnn.Config);
                AddFFLayers(tensors, ffnn.Layers);
                break;
            case FFClassifierNetwork ffc:
                config = FFConfigJson(ffc.Stack.Config);
                config["classifier_learning_rate"] = ffc.ClassifierLearningRate;
                AddFFLayers(tensors, ffc.Stack.Layers);
                tensors.Add(new NamedTensor("classifier.weight", [ffc.Classifier.OutFeatures, ffc.Classifier.InFeatures], ffc.Classifier.Weight.Data));
                tensors.Add(new NamedTensor("classifier.bias", [ffc.Classifier.OutFeatures], ffc.Classifier.Bias));
                break;
            case FFRecurrentNetwork rnn:
                config = new JsonObject
                {
                    ["image_features"] = rnn.Config.ImageFeatures,
                    ["classes"] = rnn.Config.Classes,
                    ["hidden_sizes"] = new JsonArray(rnn.Config.HiddenSizes.Select(h => (JsonNode)h).ToArray()),
                    ["threshold"] = rnn.Config.Threshold,
                    ["loss"] = rnn.Config.Loss == LossDirection.Minimize ? "min" : "max",
                    ["learning_rate"] = rnn.Config.LearningRate,
                    ["beta"] = rnn.Config.Beta,
                    ["k_train"] = rnn.Config.TrainFrames,
                    ["k_test_low"] = rnn.Config.TestFrameLow,
                    ["k_test_high"] = rnn.Config.TestFrameHigh,
                    ["prediction_seed"] = rnn.Config.PredictionSeed,
                };
                for (int i = 0; i < rnn.Layers.Count; i++)
                {
                    var l = rnn.Layers[i];
                    tensors.Add(new NamedTensor($"layers.{i}.forward_weight", [l.Width, l.ForwardWeight.Cols], l.ForwardWeight.Data));
                    tensors.Add(new NamedTensor($"layers.{i}.backward_weight", [l.Width, l.BackwardWeight.Cols], l.BackwardWeight.Data));
                    tensors.Add(new NamedTensor($"layers.{i}.bias", [l.Width], l.Bias));
                }
                break;
            case BackpropNetwork bp:
                config = new JsonObject
                {
                    ["image_features"] = bp.Config.ImageFeatures,
                    ["classes"] = bp.Config.Classes,
                    ["hidden_sizes"] = new JsonArray(bp.Config.HiddenSizes.Select(h => (JsonNode)h).ToArray()),
                    ["learning_rate"] = bp.Config.LearningRate,
                };
                for (int i = 0; i < bp.Layers.Count; i++)
                {
                    var l = bp.Layers[i];
                    tensors.Add(new NamedTensor($"layers.{i}.weight", [l.OutFeatures, l.InFeatures], l.Weight.Data));
                    tensors.Add(new NamedTensor($"layers.{i}.bias", [l.OutFeatures], l.Bias));
                }
                break;
            default:
                throw new ArgumentException($"Saving {model.GetType().Name} ({model.Architecture}) is not supported.", nameof(model));
        }
        var meta = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["architecture"] = ArchitectureId(model.Architecture),
            ["config"] = config.ToJsonString(),
            ["training"] = (training ?? []).ToJsonString(),
            ["library_version"] = LibraryVersion,
        };
        if (quantize)
        {
            meta["quantization"] = Int8PerRow;
            var qt = new List<NamedTensor>();
            foreach (var t in tensors)
            {
                if (t.Shape.Length != 2) { qt.Add(t); continue; }
                var q = new float[t.Data.Length];
                var scales = new float[t.Shape[0]];
                Quantize(t.Data, t.Shape[0], t.Shape[1], q, scales);
                qt.Add(new NamedTensor(t.Name, t.Shape, q, StoreAsInt8: true));
                qt.Add(new NamedTensor(t.Name + "_scale", [t.Shape[0]], scales));
            }
            tensors = qt;
        }
        if (extraTensors is not null) tensors.AddRange(extraTensors);
        if (extraMetadata is not null)
            foreach (var (k, v) in extraMetadata) meta[k] = v;
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>Replaces every I8 tensor by its dequantised float values (q × row scale).</summary>
    private static SafeTensorsFile Dequantize(string path, SafeTensorsFile file)
    {
        if (!file.Metadata.TryGetValue("quantization", out var q)) return file;
        if (q != Int8PerRow) throw Bad(path, $"quantization '{q}' is not supported (this library reads '{Int8PerRow}')");
        var byName = file.Tensors.ToDictionary(t => t.Name);
        var result = new List<NamedTensor>();
        foreach (var t in file.Tensors)
        {
            if (t.Name.EndsWith("_scale", StringComparison.Ordinal) && byName.TryGetValue(t.Name[..^6], out var owner) && owner.StoreAsInt8) continue;
            if (!t.StoreAsInt8) { result.Add(t); continue; }
            if (t.Shape.Length != 2 || !byName.TryGetValue(t.Name + "_scale", out var sc) || sc.Shape is not [var n] || n != t.Shape[0])
                throw Bad(path, $"int8 tensor {t.Name} has no matching {t.Name}_scale of shape [{(t.Shape.Length > 0 ? t.Shape[0] : 0)}]");
            int cols = t.Shape[1];
            var values = new float[t.Data.Length];
            for (int i = 0; i < values.Length; i++) values[i] = t.Data[i] * sc.Data[i / cols];
            result.Add(new NamedTensor(t.Name, t.Shape, values));
        }
        return new SafeTensorsFile(result, file.Metadata);
    }

    /// <summary>The identifier used in files and on the command line: ffnn, ffc, ffrnn, bpnn.</summary>
    public static string ArchitectureId(Architecture a) => a switch
    {
        Architecture.Ffnn => "ffnn",
        Architecture.Ffc => "ffc",
        Architecture.Ffrnn => "ffrnn",
        Architecture.Bpnn => "bpnn",
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    /// <summary>Parses an architecture identifier (ffnn, ffc, ffrnn, bpnn).</summary>
    public static Architecture ParseArchitecture(string id) => id.Trim().ToLowerInvariant() switch
    {
        "ffnn" => Architecture.Ffnn,
        "ffc" or "ffnn+c" => Architecture.Ffc,
        "ffrnn" => Architecture.Ffrnn,
        "bpnn" => Architecture.Bpnn,
        _ => throw new ArgumentException($"Unknown model '{id}'. Known: ffnn, ffc, ffrnn, bpnn."),
    };

    private static JsonObject FFConfigJson(FFNetworkConfig cfg) => new()
    {
        ["image_features"] = cfg.ImageFeatures,
        ["classes"] = cfg.Classes,
        ["hidden_sizes"] = new JsonArray(cfg.HiddenSizes.Select(h => (JsonNode)h).ToArray()),
        ["threshold"] = cfg.Threshold,
        ["loss"] = cfg.Loss == LossDirection.Minimize ? "min" : "max",
        ["learning_rate"] = cfg.LearningRate,
    };

    private static void AddFFLayers(List<NamedTensor> tensors, IReadOnlyList<FFDenseLayer> layers)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            var l = layers[i];
            tensors.Add(new NamedTensor($"layers.{i}.weight", [l.OutFeatures, l.InFeatures], l.Weight.Data));
            tensors.Add(new NamedTensor($"layers.{i}.bias", [l.OutFeatures], l.Bias));
        }
    }

    /// <summary>A loaded model and its metadata.</summary>
    public sealed record Loaded(IClassifierModel Model, Architecture Architecture, JsonObject Training, IReadOnlyDictionary<string, string> Metadata);

    /// <summary>Loads a model saved by <see cref="Save"/>; every inconsistency is reported with the file name.</summary>
    public static Loaded Load(string path) => Load(path, SafeTensors.Read(path));

    /// <summary>Builds the model from an already-read file (training checkpoints carry extra tensors the loaders ignore).</summary>
    internal static Loaded Load(string path, SafeTensorsFile raw)
    {
        var file = Dequantize(path, raw);
        var m = file.Metadata;
        string Need(string key) => m.TryGetValue(key, out var v) ? v : throw Bad(path, $"metadata key '{key}' is missing");
        if (Need("format") != FormatName) throw Bad(path, $"format is '{m["format"]}', expected '{FormatName}'");
        if (!int.TryParse(Need("format_version"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int version) || version < 1 || version > FormatVersion)
            throw Bad(path, $"format_version '{m["format_version"]}' is not supported (this library reads 1..{FormatVersion})");
        Architecture arch;
        try { arch = ParseArchitecture(Need("architecture")); }
        catch (ArgumentException) { throw Bad(path, $"architecture '{m["architecture"]}' is not known (supported: ffnn, ffc, ffrnn, bpnn)"); }
        JsonObject cfgJson, training;
        try
        {
            cfgJson = JsonNode.Parse(Need("config")) as JsonObject ?? throw Bad(path, "config is not a JSON object");
            training = JsonNode.Parse(m.TryGetValue("training", out var t) ? t : "{}") as JsonObject ?? [];
        }
        catch (JsonException e) { throw Bad(path, "config or training metadata is not valid JSON: " + e.Message); }

        try
        {
            IClassifierModel model = arch switch
            {
                Architecture.Ffnn => new FFNetwork(ReadFFConfig(cfgJson), ReadFFLayers(path, file, ReadFFConfig(cfgJson))),
                Architecture.Ffc => LoadFfc(path, file, cfgJson),
                Architecture.Bpnn => LoadBpnn(path, file, cfgJson),
                Architecture.Ffrnn => LoadFfrnn(path, file, cfgJson),
                _ => throw Bad(path, $"architecture '{ArchitectureId(arch)}' cannot be loaded by this version"),
            };
            return new Loaded(model, arch, training, m);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
        {
            throw Bad(path, "config is incomplete or inconsistent with the tensors: " + e.Message);
        }
    }

    private static FFNetworkConfig ReadFFConfig(JsonObject c)
    {
        var cfg = new FFNetworkConfig
        {
            ImageFeatures = c["image_features"]!.GetValue<int>(),
            Classes = c["classes"]!.GetValue<int>(),
            HiddenSizes = c["hidden_sizes"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray(),
            Threshold = c["threshold"]!.GetValue<float>(),
            Loss = c["loss"]!.GetValue<string>() switch
            {
                "min" => LossDirection.Minimize,
                "max" => LossDirection.Maximize,
                var s => throw new FormatException($"loss '{s}' is neither 'min' nor 'max'"),
            },
            LearningRate = c["learning_rate"]!.GetValue<float>(),
        };
        cfg.Validate();
        return cfg;
    }

    private static (Matrix W, float[] B) Pair(string path, SafeTensorsFile file, string prefix, int outF, int inF)
    {
        var w = file.Tensors.FirstOrDefault(x => x.Name == prefix + ".weight") ?? throw Bad(path, $"tensor {prefix}.weight is missing");
        var b = file.Tensors.FirstOrDefault(x => x.Name == prefix + ".bias") ?? throw Bad(path, $"tensor {prefix}.bias is missing");
        if (w.Shape.Length != 2 || w.Shape[0] != outF || w.Shape[1] != inF)
            throw Bad(path, $"{prefix}.weight has shape [{string.Join(", ", w.Shape)}] but the config needs [{outF}, {inF}]");
        if (b.Shape.Length != 1 || b.Shape[0] != outF)
            throw Bad(path, $"{prefix}.bias has shape [{string.Join(", ", b.Shape)}] but the config needs [{outF}]");
        return (new Matrix(outF, inF, w.Data), b.Data);
    }

    private static List<FFDenseLayer> ReadFFLayers(string path, SafeTensorsFile file, FFNetworkConfig cfg)
    {
        var layers = new List<FFDenseLayer>();
        int inF = cfg.InputFeatures;
        for (int i = 0; i < cfg.HiddenSizes.Count; i++)
        {
            var (w, b) = Pair(path, file, $"layers.{i}", cfg.HiddenSizes[i], inF);
            layers.Add(new FFDenseLayer(w, b));
            inF = cfg.HiddenSizes[i];
        }
        return layers;
    }

    private static FFClassifierNetwork LoadFfc(string path, SafeTensorsFile file, JsonObject c)
    {
        var cfg = ReadFFConfig(c);
        var stack = new FFNetwork(cfg, ReadFFLayers(path, file, cfg));
        var (w, b) = Pair(path, file, "classifier", cfg.Classes, cfg.HiddenSizes.Sum());
        return new FFClassifierNetwork(stack, new DenseLayer(w, b), c["classifier_learning_rate"]!.GetValue<float>());
    }

    private static FFRecurrentNetwork LoadFfrnn(string path, SafeTensorsFile file, JsonObject c)
    {
        var cfg = new FFRecurrentConfig
        {
            ImageFeatures = c["image_features"]!.GetValue<int>(),
            Classes = c["classes"]!.GetValue<int>(),
            HiddenSizes = c["hidden_sizes"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray(),
            Threshold = c["threshold"]!.GetValue<float>(),
            Loss = c["loss"]!.GetValue<string>() == "max" ? LossDirection.Maximize : LossDirection.Minimize,
            LearningRate = c["learning_rate"]!.GetValue<float>(),
            Beta = c["beta"]!.GetValue<float>(),
            TrainFrames = c["k_train"]!.GetValue<int>(),
            TestFrameLow = c["k_test_low"]!.GetValue<int>(),
            TestFrameHigh = c["k_test_high"]!.GetValue<int>(),
            PredictionSeed = c["prediction_seed"]!.GetValue<long>(),
        };
        cfg.Validate();
        var d = cfg.Dimensions;
        var layers = new List<(Matrix, Matrix, float[])>();
        for (int i = 1; i < d.Length - 1; i++)
        {
            NamedTensor Get(string name, int rows, int cols)
            {
                var t = file.Tensors.FirstOrDefault(x => x.Name == name) ?? throw Bad(path, $"tensor {name} is missing");
                bool ok = cols < 0 ? t.Shape is [var n] && n == rows : t.Shape is [var r, var k] && r == rows && k == cols;
                if (!ok) throw Bad(path, $"{name} has shape [{string.Join(", ", t.Shape)}] but the config needs [{(cols < 0 ? $"{rows}" : $"{rows}, {cols}")}]");
                return t;
            }
            var f = Get($"layers.{i - 1}.forward_weight", d[i], d[i - 1]);
            var b = Get($"layers.{i - 1}.backward_weight", d[i], d[i + 1]);
            var bias = Get($"layers.{i - 1}.bias", d[i], -1);
            layers.Add((new Matrix(d[i], d[i - 1], f.Data), new Matrix(d[i], d[i + 1], b.Data), bias.Data));
        }
        return new FFRecurrentNetwork(cfg, layers);
    }

    private static BackpropNetwork LoadBpnn(string path, SafeTensorsFile file, JsonObject c)
    {
        var cfg = new BackpropNetworkConfig
        {
            ImageFeatures = c["image_features"]!.GetValue<int>(),
            Classes = c["classes"]!.GetValue<int>(),
            HiddenSizes = c["hidden_sizes"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray(),
            LearningRate = c["learning_rate"]!.GetValue<float>(),
        };
        cfg.Validate();
        int[] widths = [cfg.ImageFeatures, .. cfg.HiddenSizes, cfg.Classes];
        var layers = new List<DenseLayer>();
        for (int i = 0; i < widths.Length - 1; i++)
        {
            var (w, b) = Pair(path, file, $"layers.{i}", widths[i + 1], widths[i]);
            layers.Add(new DenseLayer(w, b));
        }
        return new BackpropNetwork(cfg, layers);
    }

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: not a valid FFLib model: {problem}.");
}
