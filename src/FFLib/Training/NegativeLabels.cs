using System.Diagnostics;
using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>Negative-label generators (docs/architectures.md).</summary>
public static class NegativeLabels
{
    /// <summary>For each label, a wrong label drawn uniformly from the other classes (never the true one).</summary>
    public static void RandomWrong(FFRandom random, ReadOnlySpan<int> labels, int classes, Span<int> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "Negative labels need at least 2 classes.");
        if (destination.Length < labels.Length) throw new ArgumentException($"destination has {destination.Length} slots for {labels.Length} labels.", nameof(destination));
        for (int i = 0; i < labels.Length; i++)
            destination[i] = (labels[i] + 1 + random.NextInt(classes - 1)) % classes;
    }
}
