namespace FFLib.Training;

/// <summary>The command line's names of the <see cref="NegativeMode"/> values, used wherever a user reads one (run.json, headers).</summary>
public static class NegativeModes
{
    /// <summary>random, inverse, hard or hard-sampled.</summary>
    public static string Id(NegativeMode mode) => mode switch
    {
        NegativeMode.Random => "random",
        NegativeMode.Inverse => "inverse",
        NegativeMode.Hard => "hard",
        NegativeMode.HardSampled => "hard-sampled",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Not a negative mode."),
    };

    /// <summary>The mode named <paramref name="id"/> (case-insensitive); null when it names none.</summary>
    public static NegativeMode? Parse(string id) => id.Trim().ToLowerInvariant() switch
    {
        "random" => NegativeMode.Random,
        "inverse" => NegativeMode.Inverse,
        "hard" => NegativeMode.Hard,
        "hard-sampled" => NegativeMode.HardSampled,
        _ => null,
    };
}
