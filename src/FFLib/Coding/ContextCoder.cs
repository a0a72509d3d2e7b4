namespace FFLib.Coding;

/// <summary>
/// An adaptive context-modelling coder for the codes of a weight matrix: each code is range-coded
/// with frequencies learnt so far in its context, the codes to its left and above it in the matrix
/// (the previous code in its row and the code at the same column of the previous row). An order-0
/// coder (<see cref="RansCoder"/>) cannot do better than the codes' empirical entropy; this one can,
/// where neighbouring codes predict each other — for instance an FFNN's input columns that never
/// received a gradient, the same small code in every row. Nothing but the alphabet size is stored:
/// the decoder learns the same frequencies as it goes.
/// </summary>
/// <remarks>
/// Layout: varint code count n, varint row length, one byte (alphabet size − 1), then the range
/// coder's bytes (Subbotin's carry-less 32-bit range coder, totals below 2^16). Contexts: each
/// neighbour mapped to one of min(alphabet, 16) buckets (code·buckets/alphabet) or "none" at the
/// matrix's edge, so at most 17² contexts, each with a frequency table that starts flat, gains 32 per
/// coded symbol and halves when its total would pass 2^16.
/// </remarks>
public static class ContextCoder
{
    private const uint Top = 1u << 24, Bottom = 1u << 16, MaxTotal = 1u << 16;
    private const int Increment = 32;

    /// <summary>Encodes <paramref name="codes"/>, a row-major matrix with rows of <paramref name="rowLength"/> codes; <see cref="Decode"/> gives them back.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> codes, int rowLength)
    {
        if (rowLength < 1) throw new ArgumentOutOfRangeException(nameof(rowLength), rowLength, "Rows hold at least one code.");
        using var output = new MemoryStream(codes.Length / 2 + 16);
        RansCoder.WriteVarint(output, (ulong)codes.Length);
        RansCoder.WriteVarint(output, (ulong)rowLength);
        int alphabet = 1;
        foreach (byte c in codes) alphabet = Math.Max(alphabet, c + 1);
        output.WriteByte((byte)(alphabet - 1));
        var model = new Model(alphabet);
        uint low = 0, range = uint.MaxValue;
        for (int i = 0; i < codes.Length; i++)
        {
            var counts = model.Counts(codes, i, rowLength, out int at);
            int s = codes[i];
            uint cum = 0;
            for (int j = 0; j < s; j++) cum += counts[j];
            range /= model.Totals[at];
            low += cum * range;
            range *= counts[s];
            while (MustShift(low, ref range)) { output.WriteByte((byte)(low >> 24)); low <<= 8; range <<= 8; }
            model.Update(at, s);
        }
        for (int k = 0; k < 4; k++) { output.WriteByte((byte)(low >> 24)); low <<= 8; }
        return output.ToArray();
    }

    /// <summary>Decodes a stream written by <see cref="Encode"/>; a damaged or cut stream is an <see cref="InvalidDataException"/>.</summary>
    public static byte[] Decode(ReadOnlySpan<byte> coded)
    {
        int at = 0;
        ulong n = RansCoder.ReadVarint(coded, ref at), rows = RansCoder.ReadVarint(coded, ref at);
        if (n > (ulong)Array.MaxLength) throw Bad($"it claims {n} codes");
        if (rows is < 1 or > int.MaxValue) throw Bad($"it claims rows of {rows} codes");
        if (at >= coded.Length) throw Bad("it ends before its alphabet size");
        int alphabet = coded[at++] + 1, rowLength = (int)rows;
        var codes = new byte[(int)n];
        var model = new Model(alphabet);
        int read = at;
        uint Next(ReadOnlySpan<byte> c) => read < c.Length ? c[read++] : throw Bad("it ends early");
        uint low = 0, range = uint.MaxValue, code = 0;
        for (int k = 0; k < 4; k++) code = (code << 8) | Next(coded);
        for (int i = 0; i < codes.Length; i++)
        {
            var counts = model.Counts(codes, i, rowLength, out int ctx);
            uint total = model.Totals[ctx];
            range /= total;
            uint value = (code - low) / range;
            if (value >= total) throw Bad($"code {i} falls outside its context's frequencies");
            int s = 0;
            uint cum = 0;
            while (cum + counts[s] <= value) cum += counts[s++];
            low += cum * range;
            range *= counts[s];
            while (MustShift(low, ref range)) { code = (code << 8) | Next(coded); low <<= 8; range <<= 8; }
            codes[i] = (byte)s;
            model.Update(ctx, s);
        }
        if (read != coded.Length) throw Bad($"{coded.Length - read} byte(s) follow the last code");
        return codes;
    }

    /// <summary>
    /// Whether a byte must be shifted out (encoder) or in (decoder): the top byte of low is settled, or the range
    /// has fallen below 2^16 without it settling and is cut to the next boundary (the carry-less coder's rule).
    /// </summary>
    private static bool MustShift(uint low, ref uint range)
    {
        if ((low ^ (low + range)) < Top) return true;
        if (range >= Bottom) return false;
        range = (0u - low) & (Bottom - 1);
        return true;
    }

    private static InvalidDataException Bad(string problem) => new($"Damaged context-coded stream: {problem}.");

    /// <summary>The adaptive frequency tables, one per context.</summary>
    private sealed class Model
    {
        private readonly int _alphabet, _buckets;
        private readonly uint[] _counts;
        public readonly uint[] Totals;

        public Model(int alphabet)
        {
            _alphabet = alphabet;
            _buckets = Math.Min(alphabet, 16);
            int contexts = (_buckets + 1) * (_buckets + 1);
            _counts = new uint[contexts * alphabet];
            Array.Fill(_counts, 1u);
            Totals = new uint[contexts];
            Array.Fill(Totals, (uint)alphabet);
        }

        private int Bucket(int code) => code * _buckets / _alphabet;

        /// <summary>The frequency table of code i's context (its left and upper neighbours, already coded).</summary>
        public Span<uint> Counts(ReadOnlySpan<byte> codes, int i, int rowLength, out int context)
        {
            int left = i % rowLength > 0 ? Bucket(codes[i - 1]) : _buckets;
            int above = i >= rowLength ? Bucket(codes[i - rowLength]) : _buckets;
            context = left * (_buckets + 1) + above;
            return _counts.AsSpan(context * _alphabet, _alphabet);
        }

        public void Update(int context, int symbol)
        {
            var counts = _counts.AsSpan(context * _alphabet, _alphabet);
            if (Totals[context] + Increment > MaxTotal)
            {
                uint total = 0;
                for (int j = 0; j < counts.Length; j++) total += counts[j] = (counts[j] + 1) / 2;
                Totals[context] = total;
            }
            counts[symbol] += Increment;
            Totals[context] += Increment;
        }
    }
}
