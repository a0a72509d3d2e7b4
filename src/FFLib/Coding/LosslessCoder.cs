using System.Buffers.Binary;
using System.IO.Compression;
using SharpCompress.Compressors.LZMA;

namespace FFLib.Coding;

/// <summary>General-purpose lossless coders a stored model can be passed through.</summary>
public enum LosslessCoder
{
    /// <summary>Stored as it is.</summary>
    None,
    /// <summary>GZip (Deflate), <see cref="CompressionLevel.SmallestSize"/>.</summary>
    Gzip,
    /// <summary>Brotli, quality 9, 4 MiB window (quality 11 took 58 s instead of a few on a 22 MB float32 model here, for about 1 % less).</summary>
    Brotli,
    /// <summary>LZMA (SharpCompress's encoder, 16 MiB dictionary); a 13-byte header (length, properties) precedes the stream.</summary>
    Lzma,
    /// <summary>Zstandard level 19 (ZstdSharp, a managed port of the reference library).</summary>
    Zstd,
}

/// <summary>Encodes and decodes whole byte arrays with a <see cref="LosslessCoder"/>; every encoding decodes back bit for bit.</summary>
public static class LosslessCoders
{
    /// <summary>Brotli quality (9, with a 4 MiB window).</summary>
    public const int BrotliQuality = 9;

    /// <summary>Every coder but <see cref="LosslessCoder.None"/>, in the order reports list them.</summary>
    public static IReadOnlyList<LosslessCoder> All { get; } = [LosslessCoder.Gzip, LosslessCoder.Brotli, LosslessCoder.Lzma, LosslessCoder.Zstd];

    /// <summary>The coder's name in files and on the command line ("gzip", "brotli", "lzma", "zstd", "none").</summary>
    public static string Id(LosslessCoder coder) => coder.ToString().ToLowerInvariant();

    /// <summary>The data, coded.</summary>
    public static byte[] Encode(LosslessCoder coder, ReadOnlySpan<byte> data)
    {
        switch (coder)
        {
            case LosslessCoder.None: return data.ToArray();
            case LosslessCoder.Gzip: return Streamed(data, s => new GZipStream(s, CompressionLevel.SmallestSize, leaveOpen: true));
            case LosslessCoder.Brotli:
                {
                    var output = new byte[BrotliEncoder.GetMaxCompressedLength(data.Length)];
                    if (!BrotliEncoder.TryCompress(data, output, out int written, BrotliQuality, 22)) throw new InvalidOperationException("Brotli could not code the data.");
                    return output[..written];
                }
            case LosslessCoder.Lzma:
                {
                    using var ms = new MemoryStream();
                    Span<byte> length = stackalloc byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(length, data.Length);
                    ms.Write(length);
                    ms.Write(new byte[5]); // the encoder's properties, known once it exists
                    byte[] props;
                    using (var lzma = LzmaStream.Create(new LzmaEncoderProperties(eos: false, dictionary: 1 << 24), false, ms))
                    {
                        lzma.Write(data);
                        props = lzma.Properties;
                    }
                    var result = ms.ToArray();
                    props.AsSpan(0, 5).CopyTo(result.AsSpan(8));
                    return result;
                }
            case LosslessCoder.Zstd:
                {
                    using var zstd = new ZstdSharp.Compressor(19);
                    return zstd.Wrap(data).ToArray();
                }
            default: throw new ArgumentOutOfRangeException(nameof(coder), coder, "Unknown coder.");
        }
    }

    /// <summary>The data <see cref="Encode"/> was given; damaged input is an <see cref="InvalidDataException"/>.</summary>
    public static byte[] Decode(LosslessCoder coder, byte[] coded)
    {
        ArgumentNullException.ThrowIfNull(coded);
        try
        {
            switch (coder)
            {
                case LosslessCoder.None: return (byte[])coded.Clone();
                case LosslessCoder.Gzip:
                    {
                        // .NET's GZipStream returns what it has from a cut stream: the trailer's CRC-32 and length say whether it is whole.
                        var output = Unstreamed(coded, s => new GZipStream(s, CompressionMode.Decompress));
                        if (coded.Length < 18 || BinaryPrimitives.ReadUInt32LittleEndian(coded.AsSpan(coded.Length - 8)) != Crc32(output)
                            || BinaryPrimitives.ReadUInt32LittleEndian(coded.AsSpan(coded.Length - 4)) != (uint)output.Length)
                            throw new InvalidDataException("Not a valid gzip stream: its CRC-32 or length does not match the data.");
                        return output;
                    }
                case LosslessCoder.Brotli:
                    {
                        using var decoder = new BrotliDecoder();
                        var output = new MemoryStream();
                        var buffer = new byte[1 << 16];
                        ReadOnlySpan<byte> input = coded;
                        while (true)
                        {
                            var status = decoder.Decompress(input, buffer, out int consumed, out int written);
                            output.Write(buffer, 0, written);
                            input = input[consumed..];
                            if (status == System.Buffers.OperationStatus.Done) break;
                            if (status == System.Buffers.OperationStatus.DestinationTooSmall) continue;
                            throw new InvalidDataException($"Not a valid brotli stream: {(status == System.Buffers.OperationStatus.NeedMoreData ? "it ends early" : "the data is damaged")}.");
                        }
                        if (!input.IsEmpty) throw new InvalidDataException($"Not a valid brotli stream: {input.Length} bytes follow its end.");
                        return output.ToArray();
                    }
                case LosslessCoder.Lzma:
                    {
                        if (coded.Length < 13) throw new InvalidDataException("An LZMA stream needs a 13-byte header.");
                        long n = BinaryPrimitives.ReadInt64LittleEndian(coded);
                        if (n < 0 || n > Array.MaxLength) throw new InvalidDataException($"An LZMA stream claims {n} bytes.");
                        using var input = new MemoryStream(coded, 13, coded.Length - 13);
                        using var lzma = LzmaStream.Create(coded[8..13], input, coded.Length - 13, n, false);
                        var output = new byte[n];
                        lzma.ReadExactly(output);
                        return output;
                    }
                case LosslessCoder.Zstd:
                    {
                        using var zstd = new ZstdSharp.Decompressor();
                        return zstd.Unwrap(coded).ToArray();
                    }
                default: throw new ArgumentOutOfRangeException(nameof(coder), coder, "Unknown coder.");
            }
        }
        catch (Exception e) when (e is not (InvalidDataException or ArgumentOutOfRangeException))
        {
            throw new InvalidDataException($"Not a valid {Id(coder)} stream: {e.Message}", e);
        }
    }

    private static uint[]? s_crcTable;

    /// <summary>CRC-32 (IEEE 802.3, reflected, as gzip stores it).</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        var table = s_crcTable ??= Enumerable.Range(0, 256).Select(n =>
        {
            uint c = (uint)n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    private static byte[] Streamed(ReadOnlySpan<byte> data, Func<Stream, Stream> wrap)
    {
        using var ms = new MemoryStream();
        using (var c = wrap(ms)) c.Write(data);
        return ms.ToArray();
    }

    private static byte[] Unstreamed(byte[] coded, Func<Stream, Stream> wrap)
    {
        using var input = new MemoryStream(coded);
        using var d = wrap(input);
        using var output = new MemoryStream();
        d.CopyTo(output);
        return output.ToArray();
    }
}
