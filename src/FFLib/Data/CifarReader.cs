namespace FFLib.Data;

/// <summary>
/// Reader of CIFAR-10's binary batches: records of 1 label byte followed by 3072 pixel bytes
/// (the R, G and B planes of 32×32, kept in that channel-major order). Every error names the file.
/// </summary>
public static class CifarReader
{
    /// <summary>Bytes per image (3 × 32 × 32).</summary>
    public const int ImageBytes = 3072;

    /// <summary>Bytes per record (label + image).</summary>
    public const int RecordBytes = ImageBytes + 1;

    /// <summary>Reads and concatenates batch files into one dataset.</summary>
    public static ImageDataset Read(IReadOnlyList<string> paths, string name, int classes = 10)
    {
        ArgumentNullException.ThrowIfNull(paths);
        long total = 0;
        foreach (var p in paths)
        {
            IO.FileKind.RequireRegularFile(p, "CIFAR-10 batch");
            long len = new FileInfo(p).Length;
            if (len == 0 || len % RecordBytes != 0)
                throw new InvalidDataException($"{p}: not a CIFAR-10 binary batch: its {len} bytes are not a whole number of {RecordBytes}-byte records.");
            total += len / RecordBytes;
        }
        if (total * ImageBytes > Array.MaxLength) throw new InvalidDataException($"{string.Join(", ", paths)}: {total} images are more than one dataset can hold.");
        var pixels = new byte[total * ImageBytes];
        var labels = new byte[total];
        long index = 0;
        var record = new byte[RecordBytes];
        foreach (var p in paths)
        {
            using var fs = new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            long records = fs.Length / RecordBytes;
            for (long r = 0; r < records; r++, index++)
            {
                fs.ReadExactly(record);
                if (record[0] >= classes)
                    throw new InvalidDataException($"{p}: record {r} has label {record[0]}, outside the {classes} classes.");
                labels[index] = record[0];
                record.AsSpan(1).CopyTo(pixels.AsSpan((int)(index * ImageBytes)));
            }
        }
        return new ImageDataset(name, (int)total, ImageBytes, classes, pixels, labels);
    }
}
