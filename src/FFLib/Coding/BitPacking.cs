namespace FFLib.Coding;

/// <summary>
/// Packs small unsigned codes (1–8 bits each) into a continuous little-endian bit stream: code i
/// occupies bits [i·b, i·b + b) counted from the least significant bit of byte 0. No padding
/// between rows, so a 4-bit matrix of n weights takes ⌈n/2⌉ bytes.
/// </summary>
public static class BitPacking
{
    /// <summary>Bytes that <paramref name="count"/> codes of <paramref name="bits"/> bits take.</summary>
    public static long PackedLength(long count, int bits)
    {
        CheckBits(bits);
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be non-negative.");
        return (count * bits + 7) / 8;
    }

    /// <summary>Packs every code (each must be below 2^<paramref name="bits"/>).</summary>
    public static byte[] Pack(ReadOnlySpan<byte> codes, int bits)
    {
        CheckBits(bits);
        var output = new byte[PackedLength(codes.Length, bits)];
        if (bits == 8) { codes.CopyTo(output); return output; }
        int limit = 1 << bits;
        long bit = 0;
        for (int i = 0; i < codes.Length; i++, bit += bits)
        {
            int c = codes[i];
            if (c >= limit) throw new ArgumentException($"Code {c} at position {i} does not fit in {bits} bits.", nameof(codes));
            int at = (int)(bit >> 3), shift = (int)(bit & 7);
            output[at] |= (byte)(c << shift);
            if (shift + bits > 8) output[at + 1] |= (byte)(c >> (8 - shift));
        }
        return output;
    }

    /// <summary>The <paramref name="count"/> codes packed in <paramref name="packed"/>.</summary>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, int count, int bits)
    {
        CheckBits(bits);
        if (packed.Length != PackedLength(count, bits))
            throw new ArgumentException($"{count} codes of {bits} bits take {PackedLength(count, bits)} bytes, not {packed.Length}.", nameof(packed));
        var codes = new byte[count];
        if (bits == 8) { packed.CopyTo(codes); return codes; }
        int mask = (1 << bits) - 1;
        long bit = 0;
        for (int i = 0; i < count; i++, bit += bits)
        {
            int at = (int)(bit >> 3), shift = (int)(bit & 7);
            int v = packed[at] >> shift;
            if (shift + bits > 8) v |= packed[at + 1] << (8 - shift);
            codes[i] = (byte)(v & mask);
        }
        return codes;
    }

    private static void CheckBits(int bits)
    {
        if (bits is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits must be 1 to 8.");
    }
}
