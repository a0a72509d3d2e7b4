using System.Buffers.Binary;

namespace FFLib.Coding;

/// <summary>
/// A static range-asymmetric-numeral-system (rANS) coder over bytes: the symbols' frequencies are
/// counted, scaled to 2^15 and stored in the stream's header, then every symbol costs about
/// −log₂(f_s / 2^15) bits, so the coded size approaches <see cref="SymbolEntropy"/> plus the
/// table (a few hundred bytes at most). 32-bit state, renormalised a byte at a time
/// (Duda 2013; the byte-wise layout of Giesen's public-domain ryg_rans).
/// </summary>
/// <remarks>
/// Layout: varint symbol count n; if n &gt; 0, one byte (distinct symbols − 1), then per symbol
/// its byte and varint frequency (summing to 2^15); the final encoder state (4 bytes,
/// little-endian); the renormalisation bytes in the order the decoder reads them.
/// </remarks>
public static class RansCoder
{
    private const int ScaleBits = 15;
    private const uint Total = 1u << ScaleBits;
    private const uint Low = 1u << 23; // the state stays in [Low, 256·Low)

    /// <summary>Encodes <paramref name="symbols"/>; <see cref="Decode"/> gives them back.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> symbols)
    {
        using var header = new MemoryStream();
        WriteVarint(header, (ulong)symbols.Length);
        if (symbols.Length == 0) return header.ToArray();
        var freq = Normalise(symbols);
        var cum = new uint[257];
        for (int s = 0; s < 256; s++) cum[s + 1] = cum[s] + freq[s];
        int distinct = freq.Count(f => f > 0);
        header.WriteByte((byte)(distinct - 1));
        for (int s = 0; s < 256; s++)
            if (freq[s] > 0) { header.WriteByte((byte)s); WriteVarint(header, freq[s]); }

        // Encoded back to front, so that the decoder reads front to back.
        var pushed = new List<byte>(symbols.Length / 2 + 16);
        uint x = Low;
        for (int i = symbols.Length - 1; i >= 0; i--)
        {
            uint f = freq[symbols[i]];
            uint max = ((Low >> ScaleBits) << 8) * f;
            while (x >= max) { pushed.Add((byte)x); x >>= 8; }
            x = ((x / f) << ScaleBits) + (x % f) + cum[symbols[i]];
        }
        Span<byte> state = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(state, x);
        header.Write(state);
        for (int i = pushed.Count - 1; i >= 0; i--) header.WriteByte(pushed[i]);
        return header.ToArray();
    }

    /// <summary>Decodes a stream written by <see cref="Encode"/>; a damaged stream is an <see cref="InvalidDataException"/>.</summary>
    public static byte[] Decode(ReadOnlySpan<byte> coded)
    {
        int at = 0;
        ulong n = ReadVarint(coded, ref at);
        if (n > (ulong)Array.MaxLength) throw Bad($"it claims {n} symbols");
        var output = new byte[(int)n];
        if (n == 0)
        {
            if (at != coded.Length) throw Bad($"{coded.Length - at} bytes follow an empty stream");
            return output;
        }
        if (at >= coded.Length) throw Bad("the frequency table is missing");
        int distinct = coded[at++] + 1;
        var freq = new uint[256];
        for (int i = 0; i < distinct; i++)
        {
            if (at >= coded.Length) throw Bad("the frequency table is cut short");
            byte s = coded[at++];
            ulong f = ReadVarint(coded, ref at);
            if (f == 0 || f > Total || freq[s] != 0) throw Bad($"symbol {s} has frequency {f}{(freq[s] != 0 ? " twice" : "")}");
            freq[s] = (uint)f;
        }
        var cum = new uint[257];
        for (int s = 0; s < 256; s++) cum[s + 1] = cum[s] + freq[s];
        if (cum[256] != Total) throw Bad($"the frequencies sum to {cum[256]}, not {Total}");
        var slotSymbol = new byte[Total];
        for (int s = 0; s < 256; s++)
            for (uint j = cum[s]; j < cum[s + 1]; j++) slotSymbol[j] = (byte)s;
        if (coded.Length - at < 4) throw Bad("the coder state is missing");
        uint x = BinaryPrimitives.ReadUInt32LittleEndian(coded[at..]);
        at += 4;
        if (x < Low) throw Bad("the coder state is out of range");
        for (int i = 0; i < output.Length; i++)
        {
            uint slot = x & (Total - 1);
            byte s = slotSymbol[slot];
            output[i] = s;
            x = freq[s] * (x >> ScaleBits) + slot - cum[s];
            while (x < Low)
            {
                if (at >= coded.Length) throw Bad("the data ends early");
                x = (x << 8) | coded[at++];
            }
        }
        if (at != coded.Length) throw Bad($"{coded.Length - at} bytes are left over");
        if (x != Low) throw Bad("the final state does not match: the data is damaged");
        return output;
    }

    /// <summary>Counts scaled to sum to 2^15, every present symbol at least 1.</summary>
    private static uint[] Normalise(ReadOnlySpan<byte> symbols)
    {
        var counts = new long[256];
        foreach (byte s in symbols) counts[s]++;
        var freq = new uint[256];
        long sum = 0;
        for (int s = 0; s < 256; s++)
        {
            if (counts[s] == 0) continue;
            freq[s] = (uint)Math.Max(1, Math.Round((double)counts[s] * Total / symbols.Length));
            sum += freq[s];
        }
        // Rounding leaves the sum a few hundred off at most: take it from (or give it to) the largest frequencies.
        while (sum != Total)
        {
            int best = -1;
            for (int s = 0; s < 256; s++)
                if (freq[s] > (sum > Total ? 1u : 0u) && (best < 0 || freq[s] > freq[best])) best = s;
            if (sum > Total) { freq[best]--; sum--; } else { freq[best]++; sum++; }
        }
        return freq;
    }

    internal static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    internal static ulong ReadVarint(ReadOnlySpan<byte> data, ref int at)
    {
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (at >= data.Length) throw Bad("a length is cut short");
            byte b = data[at++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
        throw Bad("a length is longer than 64 bits");
    }

    private static InvalidDataException Bad(string why) => new($"Not a valid rANS stream: {why}.");
}
