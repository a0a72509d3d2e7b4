using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Models;

namespace FFLib.IO;

/// <summary>
/// Model files: safetensors holding every parameter of the model under its name
/// (<see cref="IClassifierModel.Parameters"/>: "layers.{i}.weight" [out, in], "layers.{i}.bias" [out], …),
/// with string metadata "format" = "fflib-model", "format_version" = "1", "architecture",
/// "config" (JSON), "training" (JSON, free-form: dataset, seed, …) and "library_version".
/// See docs/checkpoint-format.md.
/// </summary>
public static class ModelCheckpoint
{
    /// <summary>Value of the "format" metadata key.</summary>
    public const string FormatName = "fflib-model";

    /// <summary>Format version of plain model files (files with compressed weights are <see cref="CompressedWeights.FormatVersion"/>).</summary>
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

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming the first parameter that holds a NaN or an
    /// infinity, and where: exports, int8 files and pruning refuse such a model instead of writing
    /// numbers nobody can use (an int8 row with a NaN would quantise to all zeros).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="source">What to name it by in the message (its file).</param>
    public static void RequireFinite(IClassifierModel model, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var p in model.Parameters())
        {
            for (int k = 0; k < p.Data.Length; k++)
            {
                if (float.IsFinite(p.Data[k])) continue;
                string at = p.Shape.Length == 2 ? $"[{k / p.Shape[1]}, {k % p.Shape[1]}]" : $"[{k}]";
                throw new InvalidDataException($"{source}: tensor {p.Name} holds {p.Data[k].ToString(CultureInfo.InvariantCulture)} at {at}; a model with non-finite weights cannot be exported, quantised or pruned.");
            }
        }
    }

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
        IReadOnlyList<NamedTensor>? extraTensors = null, IReadOnlyDictionary<string, string>? extraMetadata = null,
        (IReadOnlyCollection<PackedMatrix> Matrices, IReadOnlyCollection<LowRankMatrix> LowRank, CodeStorage Storage)? packed = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (quantize) RequireFinite(model, "the model");
        // Every model is a list of named parameters plus a config its architecture reads back.
        var tensors = model.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, p.Data)).ToList();
        var config = model.ConfigToJson();
        var meta = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["architecture"] = model.Architecture.Id,
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
                // Every tensor of rank ≥ 2, one scale per row of its first axis (a conv kernel [out, K, K, in]: per output channel).
                if (t.Shape.Length < 2 || t.Shape[0] == 0) { qt.Add(t); continue; }
                var q = new float[t.Data.Length];
                var scales = new float[t.Shape[0]];
                Quantize(t.Data, t.Shape[0], t.Data.Length / t.Shape[0], q, scales);
                qt.Add(new NamedTensor(t.Name, t.Shape, q, StoreAsInt8: true));
                qt.Add(new NamedTensor(t.Name + "_scale", [t.Shape[0]], scales));
            }
            tensors = qt;
        }
        if (packed is var (matrices, factors, coded))
        {
            (tensors, meta[CompressedWeights.MetadataKey]) = CompressedWeights.Encode(tensors, matrices, factors, coded);
            meta["format_version"] = CompressedWeights.FormatVersion.ToString(CultureInfo.InvariantCulture);
        }
        if (extraTensors is not null) tensors.AddRange(extraTensors);
        if (extraMetadata is not null)
            foreach (var (k, v) in extraMetadata) meta[k] = v;
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>Replaces every I8 tensor by its dequantised float values (q × row scale).</summary>
    private static SafeTensorsFile Dequantize(string path, SafeTensorsFile file)
    {
        if (file.Metadata.TryGetValue(CompressedWeights.MetadataKey, out var packed)) return CompressedWeights.Decode(path, file, packed);
        if (!file.Metadata.TryGetValue("quantization", out var q)) return file;
        if (q != Int8PerRow) throw Bad(path, $"quantization '{q}' is not supported (this library reads '{Int8PerRow}')");
        var byName = file.Tensors.ToDictionary(t => t.Name);
        var result = new List<NamedTensor>();
        foreach (var t in file.Tensors)
        {
            if (t.Name.EndsWith("_scale", StringComparison.Ordinal) && byName.TryGetValue(t.Name[..^6], out var owner) && owner.StoreAsInt8) continue;
            if (!t.StoreAsInt8) { result.Add(t); continue; }
            if (t.Shape.Length < 2 || t.Shape[0] == 0 || !byName.TryGetValue(t.Name + "_scale", out var sc) || sc.Shape is not [var n] || n != t.Shape[0])
                throw Bad(path, $"int8 tensor {t.Name} has no matching {t.Name}_scale of shape [{(t.Shape.Length > 0 ? t.Shape[0] : 0)}]");
            int cols = t.Data.Length / t.Shape[0];
            var values = new float[t.Data.Length];
            for (int i = 0; i < values.Length; i++) values[i] = t.Data[i] * sc.Data[i / cols];
            result.Add(new NamedTensor(t.Name, t.Shape, values));
        }
        return new SafeTensorsFile(result, file.Metadata);
    }

    /// <summary>The identifier used in files and on the command line (the architecture's <see cref="Architecture.Id"/>).</summary>
    public static string ArchitectureId(Architecture a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return a.Id;
    }

    /// <summary>Looks an architecture id or alias up in <see cref="ArchitectureRegistry"/>; throws naming the known ids.</summary>
    public static Architecture ParseArchitecture(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ArchitectureRegistry.Get(id);
    }

    /// <summary>A loaded model and its metadata.</summary>
    public sealed record Loaded(IClassifierModel Model, Architecture Architecture, JsonObject Training, IReadOnlyDictionary<string, string> Metadata)
    {
        /// <summary>The dataset id the model was trained on, as its training metadata records it (checked to be a string when loaded); null when not recorded.</summary>
        public string? Dataset => Training["dataset"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    }

    /// <summary>Loads a model saved by <see cref="Save"/>; every inconsistency is reported with the file name.</summary>
    public static Loaded Load(string path) => Load(path, SafeTensors.Read(path));

    /// <summary>Builds the model from an already-read file (training checkpoints carry extra tensors the loaders ignore).</summary>
    internal static Loaded Load(string path, SafeTensorsFile raw)
    {
        var file = Dequantize(path, raw);
        var m = file.Metadata;
        string Need(string key) => m.TryGetValue(key, out var v) ? v : throw Bad(path, $"metadata key '{key}' is missing");
        if (Need("format") != FormatName) throw Bad(path, $"format is '{m["format"]}', expected '{FormatName}'");
        if (!int.TryParse(Need("format_version"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int version) || version < 1 || version > CompressedWeights.FormatVersion)
            throw Bad(path, $"format_version '{m["format_version"]}' is not supported (this library reads 1..{CompressedWeights.FormatVersion})");
        if (version == CompressedWeights.FormatVersion != m.ContainsKey(CompressedWeights.MetadataKey))
            throw Bad(path, version == CompressedWeights.FormatVersion ? "format_version 2 needs the compression metadata" : $"compressed weights need format_version {CompressedWeights.FormatVersion}");
        var arch = ArchitectureRegistry.Find(Need("architecture"))
            ?? throw Bad(path, $"architecture '{m["architecture"]}' is not known (registered: {ArchitectureRegistry.KnownIds})");
        JsonObject cfgJson, training;
        try
        {
            cfgJson = JsonNode.Parse(Need("config")) as JsonObject ?? throw Bad(path, "config is not a JSON object");
            training = JsonNode.Parse(m.TryGetValue("training", out var t) ? t : "{}") as JsonObject ?? [];
            JsonNumbers.Materialize(cfgJson);
            JsonNumbers.Materialize(training);
        }
        catch (JsonException e) { throw Bad(path, "config or training metadata is not valid JSON: " + e.Message); }
        catch (ArgumentException) { throw Bad(path, "config or training metadata names the same key twice"); }
        // Commands read the dataset from here: a value of the wrong type is a bad file, said now, not a crash later.
        if (training["dataset"] is { } ds && !(ds is JsonValue dv && dv.TryGetValue<string>(out _)))
            throw Bad(path, $"training metadata 'dataset' is {ds.ToJsonString()}, not a dataset name");

        IClassifierModel model;
        try { model = arch.FromConfig(cfgJson); }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
        {
            // The architecture's own words, without .NET's "(Parameter 'Classes')" and "Actual value was …".
            string why = System.Text.RegularExpressions.Regex.Replace(e.Message.Split('\n')[0], @" ?\(Parameter '[^']*'\)", "").TrimEnd('.');
            throw Bad(path, "config is incomplete or inconsistent: " + why);
        }
        var byName = new Dictionary<string, NamedTensor>();
        foreach (var tensor in file.Tensors) byName.TryAdd(tensor.Name, tensor);
        foreach (var p in model.Parameters())
        {
            if (!byName.TryGetValue(p.Name, out var tensor)) throw Bad(path, $"tensor {p.Name} is missing");
            if (tensor.Bytes is not null) throw Bad(path, $"{p.Name} is stored as raw bytes (U8), not float32");
            if (!tensor.Shape.SequenceEqual(p.Shape))
                throw Bad(path, $"{p.Name} has shape [{string.Join(", ", tensor.Shape)}] but the config needs {p.ShapeText}");
            tensor.Data.CopyTo(p.Data, 0);
        }
        return new Loaded(model, arch, training, m);
    }

    /// <summary>
    /// A deep copy of a model, made in memory: a model of the same configuration from its
    /// architecture, then every parameter copied.
    /// </summary>
    public static IClassifierModel Clone(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var copy = model.Architecture.FromConfig(model.ConfigToJson());
        var source = model.Parameters();
        var target = copy.Parameters();
        if (source.Count != target.Count) throw new InvalidOperationException($"{model.Architecture.Id}: a model rebuilt from its config has {target.Count} parameters, the original {source.Count}.");
        for (int i = 0; i < source.Count; i++)
        {
            if (source[i].Name != target[i].Name || !source[i].Shape.SequenceEqual(target[i].Shape))
                throw new InvalidOperationException($"{model.Architecture.Id}: a model rebuilt from its config has {target[i].Name} {target[i].ShapeText} where the original has {source[i].Name} {source[i].ShapeText}.");
            source[i].Data.CopyTo(target[i].Data, 0);
        }
        return copy;
    }

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: not a valid FFLib model: {problem}.");
}
