using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FFLib.IO;

/// <summary>One named tensor, held as floats in memory.</summary>
/// <param name="Name">Tensor name, e.g. "layers.0.weight".</param>
/// <param name="Shape">Dimensions, outermost first.</param>
/// <param name="Data">Row-major values; length = product of <paramref name="Shape"/>.</param>
/// <param name="StoreAsInt8">Write as "I8" (values must be integers in [−128, 127]); reading gives them back as floats.</param>
public sealed record NamedTensor(string Name, int[] Shape, float[] Data, bool StoreAsInt8 = false)
{
    /// <summary>Raw bytes of a "U8" tensor (packed or entropy-coded weights); <see cref="Data"/> is then empty.</summary>
    public byte[]? Bytes { get; init; }

    /// <summary>A "U8" tensor of raw bytes, shape [length].</summary>
    public static NamedTensor OfBytes(string name, byte[] bytes) => new(name, [bytes.Length], []) { Bytes = bytes };
}

/// <summary>The content of a safetensors file: tensors in file order and the string metadata.</summary>
public sealed record SafeTensorsFile(IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The tensor with this name; throws naming the file's tensors if absent.</summary>
    public NamedTensor Get(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name)
        ?? throw new InvalidDataException($"The file has no tensor '{name}' (it has: {string.Join(", ", Tensors.Select(t => t.Name))}).");
}

/// <summary>
/// Reader and writer of the safetensors format (little-endian u64 header length, a JSON header,
/// then raw tensor bytes) for float32 ("F32"), int8 ("I8") and raw-byte ("U8") tensors. Loading runs no code; every malformed
/// header, offset or shape is rejected with a message naming the file.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest JSON header accepted (the format's own limit is 100 MB).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    /// <summary>Writes tensors and metadata atomically (temporary file, then rename).</summary>
    public static void Write(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        var names = new HashSet<string>();
        foreach (var t in tensors)
        {
            if (!names.Add(t.Name)) throw new ArgumentException($"Tensor name '{t.Name}' appears twice.", nameof(tensors));
            if (t.Name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved.", nameof(tensors));
            long count = 1;
            foreach (int d in t.Shape)
            {
                if (d < 0) throw new ArgumentException($"Tensor '{t.Name}' has a negative dimension in shape [{string.Join(", ", t.Shape)}].", nameof(tensors));
                count *= d;
            }
            if (count != (t.Bytes?.Length ?? t.Data.Length) || (t.Bytes is not null && (t.Data.Length != 0 || t.StoreAsInt8)))
                throw new ArgumentException($"Tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}] ({count} values) but {(t.Bytes is null ? t.Data.Length : $"{t.Bytes.Length} bytes and {t.Data.Length}")} values.", nameof(tensors));
            if (t.StoreAsInt8)
                foreach (var v in t.Data)
                    if (v != MathF.Round(v) || v < -128 || v > 127) throw new ArgumentException($"Tensor '{t.Name}' is stored as I8 but holds {v}.", nameof(tensors));
            int size = t.StoreAsInt8 || t.Bytes is not null ? 1 : 4;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.Bytes is not null ? "U8" : t.StoreAsInt8 ? "I8" : "F32",
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size * count),
            };
            offset += size * count;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // keep the data 8-byte aligned, padding with spaces as the format allows
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            s.Write(len);
            s.Write(json);
            for (int i = json.Length; i < padded; i++) s.WriteByte((byte)' ');
            foreach (var t in tensors)
            {
                if (t.Bytes is not null) s.Write(t.Bytes);
                else if (t.StoreAsInt8)
                {
                    var q = new byte[t.Data.Length];
                    for (int i = 0; i < q.Length; i++) q[i] = unchecked((byte)(sbyte)t.Data[i]);
                    s.Write(q);
                }
                else if (BitConverter.IsLittleEndian) s.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
                else
                {
                    var b = new byte[4];
                    foreach (var f in t.Data) { BinaryPrimitives.WriteSingleLittleEndian(b, f); s.Write(b); }
                }
            }
        });
    }

    /// <summary>Reads a safetensors file of F32, I8 and U8 tensors (I8 values come back as floats, U8 as <see cref="NamedTensor.Bytes"/>).</summary>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileKind.RequireRegularFile(path, "Model file");
        using var fs = File.OpenRead(path);
        return Read(fs, path);
    }

    /// <summary>Reads safetensors from a seekable stream; <paramref name="name"/> is used in error messages.</summary>
    public static SafeTensorsFile Read(Stream stream, string name)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw Bad(name, $"the file is {fileLength} bytes, shorter than the 8-byte header length");
        Span<byte> len = stackalloc byte[8];
        stream.ReadExactly(len);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLen > (ulong)(fileLength - 8)) throw Bad(name, $"the header length is {headerLen} bytes but only {fileLength - 8} follow");
        if (headerLen > MaxHeaderBytes) throw Bad(name, $"the header length {headerLen} exceeds the {MaxHeaderBytes}-byte limit");
        var json = new byte[headerLen];
        stream.ReadExactly(json);
        long dataLength = fileLength - 8 - (long)headerLen;

        if (!System.Text.Unicode.Utf8.IsValid(json)) throw Bad(name, "the header is not valid UTF-8");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw Bad(name, "the header is not a JSON object");
            JsonNumbers.Materialize(root);
        }
        catch (JsonException e) { throw Bad(name, "the header is not valid JSON: " + e.Message); }
        catch (ArgumentException) { throw Bad(name, "the header names the same key twice"); }

        var metadata = new Dictionary<string, string>();
        var entries = new List<(string Name, int[] Shape, long Begin, long End, string DType)>();
        foreach (var (key, node) in root)
        {
            if (key == "__metadata__")
            {
                if (node is not JsonObject meta) throw Bad(name, "__metadata__ is not an object");
                foreach (var (mk, mv) in meta)
                {
                    if (mv is not JsonValue v || !v.TryGetValue<string>(out var s)) throw Bad(name, $"metadata value '{mk}' is not a string");
                    metadata[mk] = s;
                }
                continue;
            }
            if (node is not JsonObject t) throw Bad(name, $"tensor '{key}' is not an object");
            string dtype = t["dtype"] is JsonValue dv && dv.TryGetValue<string>(out var ds) ? ds : throw Bad(name, $"tensor '{key}' has no dtype");
            if (dtype is not ("F32" or "I8" or "U8")) throw Bad(name, $"tensor '{key}' has dtype {dtype}; this reader handles F32, I8 and U8 only");
            int size = dtype == "F32" ? 4 : 1;
            if (t["shape"] is not JsonArray shapeArr) throw Bad(name, $"tensor '{key}' has no shape");
            var shape = new int[shapeArr.Count];
            long count = 1;
            for (int i = 0; i < shape.Length; i++)
            {
                if (shapeArr[i] is not JsonValue sv || !sv.TryGetValue<long>(out long d) || d < 0 || d > int.MaxValue)
                    throw Bad(name, $"tensor '{key}' has an invalid dimension {shapeArr[i]?.ToJsonString() ?? "null"}");
                shape[i] = (int)d;
                count *= d;
                if (count > Array.MaxLength) throw Bad(name, $"tensor '{key}' has too many elements");
            }
            if (t["data_offsets"] is not JsonArray off || off.Count != 2
                || off[0] is not JsonValue ov0 || !ov0.TryGetValue<long>(out long begin)
                || off[1] is not JsonValue ov1 || !ov1.TryGetValue<long>(out long end))
                throw Bad(name, $"tensor '{key}' has no valid data_offsets [begin, end]");
            if (begin < 0 || end < begin || end > dataLength)
                throw Bad(name, $"tensor '{key}' has data_offsets [{begin}, {end}] outside the {dataLength} data bytes");
            if (end - begin != count * size)
                throw Bad(name, $"tensor '{key}' has shape [{string.Join(", ", shape)}] ({count * size} bytes as {dtype}) but data_offsets span {end - begin} bytes");
            entries.Add((key, shape, begin, end, dtype));
        }
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw Bad(name, $"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap in the data section");

        long dataStart = 8 + (long)headerLen;
        var tensors = new List<NamedTensor>();
        foreach (var e in sorted)
        {
            stream.Position = dataStart + e.Begin;
            if (e.DType == "U8")
            {
                var raw = new byte[e.End - e.Begin];
                stream.ReadExactly(raw);
                tensors.Add(new NamedTensor(e.Name, e.Shape, []) { Bytes = raw });
                continue;
            }
            if (e.DType == "I8")
            {
                var raw = new byte[e.End - e.Begin];
                stream.ReadExactly(raw);
                var values = new float[raw.Length];
                for (int i = 0; i < raw.Length; i++) values[i] = unchecked((sbyte)raw[i]);
                tensors.Add(new NamedTensor(e.Name, e.Shape, values, StoreAsInt8: true));
                continue;
            }
            var data = new float[(e.End - e.Begin) / 4];
            stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            if (!BitConverter.IsLittleEndian)
                for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(BitConverter.GetBytes(data[i]));
            tensors.Add(new NamedTensor(e.Name, e.Shape, data));
        }
        return new SafeTensorsFile(tensors, metadata);
    }

    private static InvalidDataException Bad(string name, string problem) => new($"{name}: not a valid safetensors file: {problem}.");
}
