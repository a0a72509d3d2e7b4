namespace FFLib.Coding;

/// <summary>
/// The empirical (order-0) entropy of a symbol stream: Σ −log₂(count_s / n) over its symbols.
/// No static entropy coder that models each symbol independently with the stream's own
/// frequencies can store it in fewer bits (the table aside); rANS approaches it.
/// </summary>
public static class SymbolEntropy
{
    /// <summary>Bits per symbol, H = −Σ p_s log₂ p_s (0 for an empty or single-symbol stream).</summary>
    public static double BitsPerSymbol(ReadOnlySpan<byte> symbols) =>
        symbols.Length == 0 ? 0 : TotalBits(symbols) / symbols.Length;

    /// <summary>n·H: the bits the whole stream needs at its entropy.</summary>
    public static double TotalBits(ReadOnlySpan<byte> symbols)
    {
        Span<long> counts = stackalloc long[256];
        foreach (byte s in symbols) counts[s]++;
        double n = symbols.Length, bits = 0;
        foreach (long c in counts)
            if (c > 0) bits -= c * Math.Log2(c / n);
        return bits;
    }

    /// <summary>⌈n·H / 8⌉: the bytes the stream needs at its entropy.</summary>
    public static long Bytes(ReadOnlySpan<byte> symbols) => (long)Math.Ceiling(TotalBits(symbols) / 8 - 1e-9);
}
