using System.Buffers.Binary;
using System.IO.Compression;

namespace FFLib.Data;

/// <summary>
/// Reader for the IDX format of MNIST and FashionMNIST (raw or gzip-compressed). Validates the
/// header against the bytes actually present before allocating, so a hostile header cannot
/// trigger a huge allocation; every error names the file.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an unsigned-byte image file with 3 dimensions.</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an unsigned-byte label file with 1 dimension.</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an image file: count, rows, columns and the count·rows·columns pixel bytes.</summary>
    public static (int Count, int Rows, int Cols, byte[] Pixels) ReadImages(string path)
    {
        var (dims, data) = Read(path, ImagesMagic, 3);
        return (dims[0], dims[1], dims[2], data);
    }

    /// <summary>Reads a label file: one byte per item.</summary>
    public static byte[] ReadLabels(string path) => Read(path, LabelsMagic, 1).Data;

    /// <summary>Reads an IDX file from a stream (gzip is detected from its first bytes).</summary>
    public static (int[] Dims, byte[] Data) Read(Stream stream, string name, int expectedMagic, int expectedDims)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var head = new byte[2];
        int got = ReadFully(stream, head);
        Stream src = stream;
        Stream? gz = null;
        if (got == 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            var rest = new ConcatStream(head, stream);
            gz = new GZipStream(rest, CompressionMode.Decompress);
            src = gz;
            got = 0;
        }
        try
        {
            var header = new byte[4];
            head.AsSpan(0, got).CopyTo(header);
            try
            {
                if (ReadFully(src, header.AsSpan(got)) != 4 - got) throw Bad(name, "the file is shorter than the 4-byte IDX header");
            }
            catch (InvalidDataException e) when (gz is not null) { throw Bad(name, "it is not valid gzip data (" + e.Message + ")"); }
            int magic = BinaryPrimitives.ReadInt32BigEndian(header);
            if (magic != expectedMagic)
            {
                string kind = expectedMagic == ImagesMagic ? "image" : "label";
                throw Bad(name, $"its magic number is 0x{magic:X8} but an IDX {kind} file starts with 0x{expectedMagic:X8} (unsigned bytes, {expectedDims} dimension{(expectedDims > 1 ? "s" : "")})");
            }
            var dimBytes = new byte[4 * expectedDims];
            if (ReadFully(src, dimBytes) != dimBytes.Length) throw Bad(name, $"the header is truncated: {expectedDims} dimension sizes expected");
            var dims = new int[expectedDims];
            long total = 1;
            for (int i = 0; i < expectedDims; i++)
            {
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * i));
                if (dims[i] < 0) throw Bad(name, $"dimension {i} is negative ({dims[i]})");
                total *= dims[i];
                if (total > Array.MaxLength) throw Bad(name, $"the header claims {string.Join("×", dims.Take(i + 1))} values, more than any file this reader accepts");
            }
            if (expectedDims == 3 && dims[0] > 0 && (dims[1] == 0 || dims[2] == 0)) throw Bad(name, $"the images are {dims[1]}×{dims[2]} pixels");

            long headerLength = 4 + dimBytes.Length;
            if (gz is null && stream.CanSeek)
            {
                long available = stream.Length - headerLength;
                if (available < total) throw Bad(name, $"the header claims {string.Join("×", dims)} = {total} bytes of data but the file holds only {available}");
                if (available > total) throw Bad(name, $"the file holds {available - total} bytes beyond the {total} its header describes");
            }
            byte[] data = ReadExactly(src, total, name, dims);
            if (src.ReadByte() >= 0) throw Bad(name, $"there is data beyond the {total} bytes its header describes");
            return (dims, data);
        }
        catch (InvalidDataException e) when (gz is not null && !e.Message.StartsWith(name, StringComparison.Ordinal))
        {
            throw Bad(name, "its gzip stream is corrupt (" + e.Message + ")");
        }
        finally
        {
            gz?.Dispose();
        }
    }

    private static (int[] Dims, byte[] Data) Read(string path, int magic, int dims)
    {
        ArgumentNullException.ThrowIfNull(path);
        IO.FileKind.RequireRegularFile(path, "IDX file");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(fs, path, magic, dims);
    }

    /// <summary>
    /// Reads exactly <paramref name="total"/> bytes, growing the buffer only as data arrives, so a
    /// compressed file whose header lies costs memory in proportion to what it really holds.
    /// </summary>
    private static byte[] ReadExactly(Stream src, long total, string name, int[] dims)
    {
        if (src.CanSeek)
        {
            var all = new byte[total];
            int n = ReadFully(src, all);
            if (n != total) throw Bad(name, $"it is truncated: the header claims {string.Join("×", dims)} = {total} bytes but only {n} follow");
            return all;
        }
        var buffer = new byte[Math.Min(total, 1 << 20)];
        long filled = 0;
        while (filled < total)
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, (int)Math.Min(total, (long)buffer.Length * 2));
            int n = src.Read(buffer, (int)filled, (int)(buffer.Length - filled));
            if (n == 0) throw Bad(name, $"it is truncated: the header claims {string.Join("×", dims)} = {total} bytes but only {filled} follow");
            filled += n;
        }
        return buffer;
    }

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer.Slice(total));
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static InvalidDataException Bad(string name, string problem) => new($"{name}: not a valid IDX file: {problem}.");

    /// <summary>Replays bytes already read in front of the rest of a stream.</summary>
    private sealed class ConcatStream(byte[] prefix, Stream rest) : Stream
    {
        private int _pos;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_pos < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _pos);
                prefix.AsSpan(_pos, n).CopyTo(buffer);
                _pos += n;
                return n;
            }
            return rest.Read(buffer);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
