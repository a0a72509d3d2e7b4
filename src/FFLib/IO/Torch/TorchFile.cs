using System.Buffers.Binary;
using System.IO.Compression;

namespace FFLib.IO.Torch;

/// <summary>A tensor read from a torch file: its storage type ("FloatStorage", …), its shape, and its values as float.</summary>
public sealed record TorchTensor(string StorageType, int[] Shape, float[] Values)
{
    /// <summary>"[16, 794]".</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// Reads what <c>torch.save</c> writes (the zip format of PyTorch 1.6 and later): the pickle in ARCHIVE/data.pkl as
/// data (<see cref="PickleReader"/>: no Python runs), its tensors rebuilt from ARCHIVE/data/KEY as <see cref="TorchTensor"/>.
/// </summary>
public static class TorchFile
{
    /// <summary>The largest file read (the original's 2×2000 models are about 50 MB with their optimiser state).</summary>
    public const long MaxBytes = 2L << 30;

    /// <summary>Reads <paramref name="path"/>'s top-level object (for FFLib's suites: a dict with "net", "current_epoch", …).</summary>
    /// <exception cref="InvalidDataException">Not a torch zip file, or a part of it is damaged (the message says which).</exception>
    public static object? Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path} does not exist.", path);
        if (info.Length > MaxBytes) throw new InvalidDataException($"{path} is {info.Length:N0} bytes, more than a model file this reader takes ({MaxBytes:N0}).");
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        if (stream.Read(magic) < 4 || magic[0] != (byte)'P' || magic[1] != (byte)'K')
            throw new InvalidDataException($"{path} is not a torch zip file (PyTorch 1.6 or later writes one; files of older versions are not read).");
        stream.Position = 0;
        ZipArchive zip;
        try { zip = new ZipArchive(stream, ZipArchiveMode.Read); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path} is not a readable zip file: {e.Message}", e); }
        using (zip)
        {
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
                ?? throw new InvalidDataException($"{path} has no data.pkl: it is a zip file, but not one torch.save wrote.");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            var storages = new Dictionary<string, (string Type, byte[] Bytes)>(StringComparer.Ordinal);
            var reader = new PickleReader
            {
                PersistentLoad = pid =>
                {
                    // ('storage', torch.FloatStorage, key, location, numel)
                    if (pid is not object?[] { Length: >= 3 } t || t[0] as string != "storage" || t[2] is not string key)
                        throw new InvalidDataException($"{path}: a persistent id that is not a torch storage.");
                    string type = (t[1] as PyGlobal)?.Name ?? "FloatStorage";
                    if (!storages.TryGetValue(key, out var s))
                    {
                        var entry = zip.GetEntry($"{prefix}data/{key}") ?? throw new InvalidDataException($"{path}: storage {key} is named but not in the file.");
                        using var es = entry.Open();
                        using var ms = new MemoryStream();
                        es.CopyTo(ms);
                        storages[key] = s = (type, ms.ToArray());
                    }
                    return new TorchStorage(s.Type, s.Bytes);
                },
                Reduce = (g, args) => g.FullName switch
                {
                    "torch._utils._rebuild_tensor_v2" or "torch._utils._rebuild_tensor" => RebuildTensor(path, args),
                    "torch._utils._rebuild_parameter" or "torch._utils._rebuild_parameter_with_state" => args.Length > 0 ? args[0] : null,
                    _ => null,
                },
            };
            byte[] bytes;
            using (var ps = pkl.Open())
            using (var ms = new MemoryStream())
            {
                ps.CopyTo(ms);
                bytes = ms.ToArray();
            }
            try { return reader.Read(bytes); }
            catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        }
    }

    private sealed record TorchStorage(string Type, byte[] Bytes);

    private static TorchTensor RebuildTensor(string path, object?[] args)
    {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (args.Length < 4 || args[0] is not TorchStorage storage || args[1] is not long offset || args[2] is not object?[] size || args[3] is not object?[] stride)
            throw new InvalidDataException($"{path}: a tensor whose rebuild arguments are not (storage, offset, size, stride).");
        int[] shape = size.Select(x => x is long l && l >= 0 && l <= int.MaxValue ? (int)l : throw new InvalidDataException($"{path}: a tensor dimension is not a size.")).ToArray();
        long[] strides = stride.Select(x => x is long l ? l : throw new InvalidDataException($"{path}: a tensor stride is not an integer.")).ToArray();
        int element = storage.Type switch
        {
            "FloatStorage" or "IntStorage" => 4,
            "DoubleStorage" or "LongStorage" => 8,
            "HalfStorage" or "BFloat16Storage" or "ShortStorage" => 2,
            "ByteStorage" or "CharStorage" or "BoolStorage" => 1,
            _ => throw new InvalidDataException($"{path}: tensors of {storage.Type} are not read."),
        };
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        long available = storage.Bytes.Length / element;
        var index = new int[shape.Length];
        for (long n = 0; n < count; n++)
        {
            long at = offset;
            for (int d = 0; d < shape.Length; d++) at += index[d] * strides[d];
            if (at < 0 || at >= available) throw new InvalidDataException($"{path}: a tensor reaches past its storage ({available} elements).");
            var b = storage.Bytes.AsSpan((int)(at * element), element);
            values[n] = storage.Type switch
            {
                "FloatStorage" => BinaryPrimitives.ReadSingleLittleEndian(b),
                "DoubleStorage" => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
                "HalfStorage" => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
                "BFloat16Storage" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
                "LongStorage" => BinaryPrimitives.ReadInt64LittleEndian(b),
                "IntStorage" => BinaryPrimitives.ReadInt32LittleEndian(b),
                "ShortStorage" => BinaryPrimitives.ReadInt16LittleEndian(b),
                "CharStorage" => (sbyte)b[0],
                _ => b[0],
            };
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return new TorchTensor(storage.Type, shape, values);
    }
}
