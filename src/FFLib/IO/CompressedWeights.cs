using System.Globalization;
using System.Text.Json.Nodes;
using FFLib.Coding;
using FFLib.Models;

namespace FFLib.IO;

/// <summary>
/// Model files whose weight matrices are stored as <see cref="PackedMatrix"/> codes (format_version 2):
/// each packed matrix W becomes "W.codes" (U8: the codes bit-packed, or rANS-coded), "W.scale" and
/// "W.minimum" (F32 per row) or "W.codebook" (F32); the metadata key "compression" says which
/// (JSON: version, entropy_coding, and per matrix its scheme, bits and shape). A matrix stored as
/// low-rank factors (<see cref="LowRankMatrix"/>) becomes "W.lowrank_u" and "W.lowrank_v" (listed
/// under "lowrank" with its rank and shape), which may themselves be packed. Every other
/// parameter stays float32. <see cref="ModelCheckpoint.Load(string)"/> reads these files back into an
/// ordinary model, so eval, analyze, prune and export take them as they are.
/// </summary>
public static class CompressedWeights
{
    /// <summary>The metadata key that marks a compressed file.</summary>
    public const string MetadataKey = "compression";

    /// <summary>The format_version of compressed files (plain model files stay at 1).</summary>
    public const int FormatVersion = 2;

    /// <summary>
    /// Saves <paramref name="model"/> with the matrices in <paramref name="packed"/> stored as codes
    /// (each must name one of the model's matrix parameters, with its shape); with
    /// <paramref name="entropyCoded"/> the codes are rANS-coded instead of bit-packed. Matrices in
    /// <paramref name="lowRank"/> are stored as their factors; a packed matrix may name a factor
    /// ("layers.0.weight.lowrank_u") to quantise it.
    /// </summary>
    public static void Save(string path, IClassifierModel model, IReadOnlyCollection<PackedMatrix> packed, bool entropyCoded, JsonObject? training = null,
        IReadOnlyCollection<LowRankMatrix>? lowRank = null) =>
        Save(path, model, packed, entropyCoded ? CodeStorage.Rans : CodeStorage.BitPacked, training, lowRank);

    /// <summary>As the overload above, the codes stored as <paramref name="storage"/> says.</summary>
    public static void Save(string path, IClassifierModel model, IReadOnlyCollection<PackedMatrix> packed, CodeStorage storage, JsonObject? training = null,
        IReadOnlyCollection<LowRankMatrix>? lowRank = null)
    {
        if (!Enum.IsDefined(storage)) throw new ArgumentOutOfRangeException(nameof(storage), storage, "Unknown code storage.");
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(packed);
        lowRank ??= [];
        var shapes = model.Parameters().Where(p => p.IsMatrix).ToDictionary(p => p.Name, p => (p.Rows, p.Cols));
        foreach (var f in lowRank)
        {
            if (!shapes.TryGetValue(f.Name, out var shape) || shape != (f.Rows, f.Cols))
                throw new ArgumentException($"Low-rank factors of {f.Name} [{f.Rows}, {f.Cols}] match no matrix of the model.", nameof(lowRank));
            try { f.Validate("the low-rank factors"); }
            catch (InvalidDataException e) { throw new ArgumentException(e.Message, nameof(lowRank)); }
            shapes.Remove(f.Name);
            shapes[f.UName] = (f.Rows, f.Rank);
            shapes[f.VName] = (f.Rank, f.Cols);
        }
        if (lowRank.Select(f => f.Name).Distinct().Count() != lowRank.Count) throw new ArgumentException("A matrix is factored twice.", nameof(lowRank));
        foreach (var m in packed)
        {
            if (!shapes.TryGetValue(m.Name, out var shape)) throw new ArgumentException($"Packed weights {m.Name} name no matrix of the model (it has {string.Join(", ", shapes.Keys)}).", nameof(packed));
            if (shape != (m.Rows, m.Cols)) throw new ArgumentException($"Packed weights {m.Name} are [{m.Rows}, {m.Cols}] but the matrix is [{shape.Rows}, {shape.Cols}].", nameof(packed));
            try { m.Validate("the packed weights"); }
            catch (InvalidDataException e) { throw new ArgumentException(e.Message, nameof(packed)); }
        }
        if (packed.Select(m => m.Name).Distinct().Count() != packed.Count) throw new ArgumentException("A matrix is packed twice.", nameof(packed));
        ModelCheckpoint.Write(path, model, training, quantize: false, packed: (packed, lowRank, storage));
    }

    /// <summary>The tensors and metadata of a compressed file: packed matrices replaced by their parts.</summary>
    internal static (List<NamedTensor> Tensors, string Json) Encode(List<NamedTensor> tensors, IReadOnlyCollection<PackedMatrix> packed,
        IReadOnlyCollection<LowRankMatrix> lowRank, CodeStorage storage)
    {
        var factored = lowRank.ToDictionary(f => f.Name);
        var factors = new JsonObject();
        var expanded = new List<NamedTensor>();
        foreach (var t in tensors)
        {
            if (!factored.TryGetValue(t.Name, out var f)) { expanded.Add(t); continue; }
            expanded.Add(new NamedTensor(f.UName, [f.Rows, f.Rank], f.U));
            expanded.Add(new NamedTensor(f.VName, [f.Rank, f.Cols], f.V));
            factors[f.Name] = new JsonObject { ["rank"] = f.Rank, ["shape"] = new JsonArray(f.Rows, f.Cols) };
        }
        var byName = packed.ToDictionary(m => m.Name);
        var entries = new JsonObject();
        var result = new List<NamedTensor>();
        foreach (var t in expanded)
        {
            if (!byName.TryGetValue(t.Name, out var m)) { result.Add(t); continue; }
            result.Add(NamedTensor.OfBytes(m.Name + ".codes", storage switch
            {
                CodeStorage.Rans => RansCoder.Encode(m.Codes),
                CodeStorage.Context => ContextCoder.Encode(m.Codes, m.Cols),
                _ => BitPacking.Pack(m.Codes, m.Bits),
            }));
            if (m.Scale is not null) result.Add(new NamedTensor(m.Name + ".scale", [m.Rows], m.Scale));
            if (m.Minimum is not null) result.Add(new NamedTensor(m.Name + ".minimum", [m.Rows], m.Minimum));
            if (m.Codebook is not null) result.Add(new NamedTensor(m.Name + ".codebook", [m.Codebook.Length], m.Codebook));
            var entry = new JsonObject
            {
                ["scheme"] = SchemeId(m.Scheme),
                ["bits"] = m.Bits,
                ["shape"] = new JsonArray(m.Rows, m.Cols),
            };
            // A convolution kernel [out, kh, kw, in] is packed as its [out, kh·kw·in] matrix view;
            // its own shape comes back on reading.
            if (t.Shape.Length != 2) entry["tensor_shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray());
            if (m.OutlierColumns is { Length: > 0 } oc)
            {
                // Column indices as little-endian int32 (U8), their weights as F32 [rows, n].
                var bytes = new byte[4 * oc.Length];
                for (int j = 0; j < oc.Length; j++) System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * j), oc[j]);
                result.Add(NamedTensor.OfBytes(m.Name + ".outlier_columns", bytes));
                result.Add(new NamedTensor(m.Name + ".outlier_values", [m.Rows, oc.Length], m.OutlierValues!));
                entry["outlier_columns"] = oc.Length;
            }
            entries[m.Name] = entry;
        }
        var json = new JsonObject { ["version"] = 1, ["entropy_coding"] = StorageId(storage), ["tensors"] = entries };
        if (factors.Count > 0) json["lowrank"] = factors;
        return (result, json.ToJsonString());
    }

    /// <summary>The matrices a compressed file stores as codes, as they are in the file (codes decoded).</summary>
    public static IReadOnlyList<PackedMatrix> ReadPacked(string path)
    {
        var file = SafeTensors.Read(path);
        if (!file.Metadata.TryGetValue(MetadataKey, out var json)) return [];
        return Parse(path, file, json).Select(x => x.Matrix).ToList();
    }

    /// <summary>
    /// The low-rank factors a compressed model file stores (empty for any other file), each factor's
    /// values as the model computes with them (a packed factor decoded).
    /// </summary>
    public static IReadOnlyList<LowRankMatrix> ReadLowRank(string path)
    {
        var file = SafeTensors.Read(path);
        if (!file.Metadata.TryGetValue(MetadataKey, out var json)) return [];
        return Factors(path, Unpacked(path, file, json), json);
    }

    /// <summary>The file with every packed matrix replaced by its float weights.</summary>
    internal static SafeTensorsFile Decode(string path, SafeTensorsFile file, string json)
    {
        var result = Unpacked(path, file, json);
        // Factors last: they may have been packed themselves.
        foreach (var f in Factors(path, result, json))
        {
            result.RemoveAll(t => t.Name == f.UName || t.Name == f.VName);
            result.Add(new NamedTensor(f.Name, [f.Rows, f.Cols], f.Reconstruct()));
        }
        return new SafeTensorsFile(result, file.Metadata);
    }

    /// <summary>The file's tensors with every packed matrix (a factor too) replaced by its float weights.</summary>
    private static List<NamedTensor> Unpacked(string path, SafeTensorsFile file, string json)
    {
        var parsed = Parse(path, file, json);
        var parts = parsed.SelectMany(x => x.Parts).ToHashSet();
        var result = file.Tensors.Where(t => !parts.Contains(t.Name)).ToList();
        foreach (var (m, shape, _) in parsed) result.Add(new NamedTensor(m.Name, shape, m.Dequantize()));
        return result;
    }

    /// <summary>The low-rank entries of the metadata, their factors taken from <paramref name="tensors"/> (packed ones already decoded).</summary>
    private static List<LowRankMatrix> Factors(string path, List<NamedTensor> tensors, string json)
    {
        var list = new List<LowRankMatrix>();
        if (JsonNode.Parse(json)?["lowrank"] is not JsonObject factors) return list;
        var byName = new Dictionary<string, NamedTensor>();
        foreach (var t in tensors) byName.TryAdd(t.Name, t);
        foreach (var (name, node) in factors)
        {
            InvalidDataException Bad(string problem) => new($"{path}: not a valid FFLib model: {problem}.");
            if (node is not JsonObject e || Int(e["rank"]) is not int rank || e["shape"] is not JsonArray { Count: 2 } shape || Int(shape[0]) is not int rows || Int(shape[1]) is not int cols)
                throw Bad($"low-rank entry {name} has no rank and shape [rows, cols]");
            var f = new LowRankMatrix
            {
                Name = name, Rows = rows, Cols = cols, Rank = rank,
                U = Factor(byName, name + ".lowrank_u", rows, rank) ?? throw Bad($"{name}.lowrank_u (F32 [{rows}, {rank}]) is missing"),
                V = Factor(byName, name + ".lowrank_v", rank, cols) ?? throw Bad($"{name}.lowrank_v (F32 [{rank}, {cols}]) is missing"),
            };
            f.Validate(path);
            list.Add(f);
        }
        return list;
    }

    private static float[]? Factor(Dictionary<string, NamedTensor> byName, string name, int rows, int cols) =>
        byName.TryGetValue(name, out var t) && t.Bytes is null && !t.StoreAsInt8 && t.Shape is [var r, var c] && r == rows && c == cols ? t.Data : null;

    private static List<(PackedMatrix Matrix, int[] Shape, string[] Parts)> Parse(string path, SafeTensorsFile file, string json)
    {
        InvalidDataException Bad(string problem) => new($"{path}: not a valid FFLib model: {problem}.");
        JsonObject root;
        try { root = JsonNode.Parse(json) as JsonObject ?? throw Bad("compression metadata is not a JSON object"); }
        catch (System.Text.Json.JsonException e) { throw Bad("compression metadata is not valid JSON: " + e.Message); }
        if (root["version"]?.ToString() != "1") throw Bad($"compression version {root["version"]?.ToJsonString() ?? "(none)"} is not supported (this library reads 1)");
        string coding = root["entropy_coding"]?.ToString() ?? "none";
        if (coding is not ("none" or "rans" or "context")) throw Bad($"entropy_coding '{coding}' is not supported (none, rans, context)");
        if (root["tensors"] is not JsonObject entries) throw Bad("compression metadata lists no tensors");
        var byName = new Dictionary<string, NamedTensor>();
        foreach (var t in file.Tensors) byName.TryAdd(t.Name, t);
        var result = new List<(PackedMatrix, int[], string[])>();
        foreach (var (name, node) in entries)
        {
            if (node is not JsonObject e) throw Bad($"compression entry {name} is not an object");
            WeightScheme scheme = ParseScheme(e["scheme"]?.ToString()) ?? throw Bad($"{name} has scheme {e["scheme"]?.ToJsonString() ?? "(none)"}; known: symmetric, asymmetric, codebook");
            int bits = Int(e["bits"]) ?? throw Bad($"{name} has no bits");
            if (e["shape"] is not JsonArray { Count: 2 } shape || Int(shape[0]) is not int rows || Int(shape[1]) is not int cols || rows < 1 || cols < 1)
                throw Bad($"{name} has no valid shape [rows, cols]");
            if (bits is < 1 or > 8) throw Bad($"{name} has {bits} bits; 1–8 are possible");
            int[] tensorShape = [rows, cols];
            if (e["tensor_shape"] is JsonNode ts)
            {
                if (ts is not JsonArray { Count: >= 2 and <= 8 } dims || dims.Select(Int).ToArray() is not { } d || d.Any(x => x is not > 0) || d[0] != rows
                    || d.Skip(1).Aggregate(1L, (a, x) => a * x!.Value) != cols)
                    throw Bad($"{name} has tensor_shape {ts.ToJsonString()}, which is not [{rows}, …] with {cols} values per row");
                tensorShape = dims.Select(x => Int(x)!.Value).ToArray();
            }
            if (!byName.TryGetValue(name + ".codes", out var codesTensor) || codesTensor.Bytes is null) throw Bad($"{name}.codes (U8) is missing");
            long count = (long)rows * cols;
            byte[] codes;
            try
            {
                codes = coding switch
                {
                    "rans" => RansCoder.Decode(codesTensor.Bytes),
                    "context" => ContextCoder.Decode(codesTensor.Bytes),
                    _ => BitPacking.Unpack(codesTensor.Bytes, (int)Math.Min(count, int.MaxValue), bits),
                };
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentException) { throw Bad($"{name}.codes: {ex.Message.TrimEnd('.')}"); }
            if (codes.Length != count) throw Bad($"{name}.codes hold {codes.Length} codes for a [{rows}, {cols}] matrix");
            float[]? Floats(string part, bool needed, int? length)
            {
                if (!byName.TryGetValue(name + "." + part, out var t)) return needed ? throw Bad($"{name}.{part} is missing") : null;
                if (t.Bytes is not null || t.StoreAsInt8 || t.Shape.Length != 1 || (length is int n && t.Data.Length != n)) throw Bad($"{name}.{part} is not F32 [{(length is int l ? l.ToString(CultureInfo.InvariantCulture) : "k")}]");
                return t.Data;
            }
            int[]? outlierColumns = null;
            float[]? outlierValues = null;
            if (Int(e["outlier_columns"]) is int nOut and > 0)
            {
                if (!byName.TryGetValue(name + ".outlier_columns", out var oct) || oct.Bytes is null || oct.Bytes.Length != 4 * nOut)
                    throw Bad($"{name}.outlier_columns (U8, {nOut} little-endian int32) is missing");
                outlierColumns = new int[nOut];
                for (int j = 0; j < nOut; j++) outlierColumns[j] = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(oct.Bytes.AsSpan(4 * j));
                if (!byName.TryGetValue(name + ".outlier_values", out var ovt) || ovt.Bytes is not null || ovt.StoreAsInt8 || ovt.Shape is not [var r0, var c0] || r0 != rows || c0 != nOut)
                    throw Bad($"{name}.outlier_values (F32 [{rows}, {nOut}]) is missing");
                outlierValues = ovt.Data;
            }
            var m = new PackedMatrix
            {
                Name = name, Rows = rows, Cols = cols, Scheme = scheme, Bits = bits, Codes = codes, OutlierColumns = outlierColumns, OutlierValues = outlierValues,
                Scale = scheme == WeightScheme.Codebook ? null : Floats("scale", true, rows),
                Minimum = scheme == WeightScheme.Asymmetric ? Floats("minimum", true, rows) : null,
                Codebook = scheme == WeightScheme.Codebook ? Floats("codebook", true, null) : null,
            };
            m.Validate(path);
            result.Add((m, tensorShape, [name + ".codes", name + ".scale", name + ".minimum", name + ".codebook", name + ".outlier_columns", name + ".outlier_values"]));
        }
        return result;
    }

    /// <summary>The metadata's entropy_coding for <paramref name="storage"/>: "none", "rans" or "context".</summary>
    public static string StorageId(CodeStorage storage) => storage switch { CodeStorage.Rans => "rans", CodeStorage.Context => "context", _ => "none" };

    /// <summary>"symmetric", "asymmetric" or "codebook".</summary>
    public static string SchemeId(WeightScheme scheme) => scheme.ToString().ToLowerInvariant();

    private static WeightScheme? ParseScheme(string? id) => id switch
    {
        "symmetric" => WeightScheme.Symmetric,
        "asymmetric" => WeightScheme.Asymmetric,
        "codebook" => WeightScheme.Codebook,
        _ => null,
    };

    private static int? Int(JsonNode? n) => n is JsonValue v && v.TryGetValue<int>(out int i) ? i : n is JsonValue d && d.TryGetValue<double>(out double x) && x == Math.Floor(x) && Math.Abs(x) < int.MaxValue ? (int)x : null;
}
