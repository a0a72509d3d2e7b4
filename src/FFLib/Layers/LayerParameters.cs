using FFLib.Compute;

namespace FFLib.Layers;

/// <summary>Initialisation and checks shared by the layer types.</summary>
internal static class LayerParameters
{
    /// <summary>PyTorch nn.Linear's initialisation: every value uniform in ±<paramref name="bound"/>, drawn in order.</summary>
    public static void FillUniform(Span<float> values, float bound, FFRandom random)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (2f * random.NextSingle() - 1f) * bound;
    }

    /// <summary>Checks that a weight matrix and a bias vector can form a layer.</summary>
    public static void CheckPair(Matrix weight, float[] bias)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        if (weight.Rows < 1 || weight.Cols < 1) throw new ArgumentException($"weight is {weight.Rows}×{weight.Cols}; a layer needs at least 1×1.", nameof(weight));
        if (bias.Length != weight.Rows) throw new ArgumentException($"bias has {bias.Length} entries but weight has {weight.Rows} rows (neurons).", nameof(bias));
    }
}
