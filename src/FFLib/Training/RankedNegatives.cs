namespace FFLib.Training;

/// <summary>
/// Negative labels drawn afresh every epoch from a ranking of each image's wrong classes (e.g. a teacher's,
/// most plausible first): the class at rank r (0-based) with probability ∝ <see cref="Decay"/>^r. Decay 1 is
/// a uniform random wrong class; towards 0 it is always the first-ranked one (a fixed hard negative). The
/// draw is a hash of (seed, epoch, image), so it needs no random state: a resumed run draws the same
/// negatives, and the trainer's shuffles stay those of a run without it.
/// </summary>
public sealed record RankedNegatives
{
    /// <summary>Per image, its wrong classes in rank order: <see cref="Count"/> rows of classes − 1 labels, row-major.</summary>
    public required int[] Order { get; init; }

    /// <summary>Classes of the task (each row of <see cref="Order"/> holds the other classes − 1).</summary>
    public required int Classes { get; init; }

    /// <summary>The weight ratio between successive ranks, in (0, 1].</summary>
    public required double Decay { get; init; }

    /// <summary>Seed of the draws.</summary>
    public long Seed { get; init; }

    /// <summary>Images the ranking covers.</summary>
    public int Count => Order.Length / Math.Max(1, Classes - 1);

    /// <summary>Throws with the value named if the ranking cannot be used for <paramref name="images"/> images.</summary>
    public void Validate(int images)
    {
        ArgumentNullException.ThrowIfNull(Order);
        if (Classes < 2) throw new ArgumentOutOfRangeException(nameof(Classes), Classes, "At least 2 classes.");
        if (!(Decay > 0 && Decay <= 1)) throw new ArgumentOutOfRangeException(nameof(Decay), Decay, "The decay must be in (0, 1].");
        if (Order.Length != (long)images * (Classes - 1))
            throw new ArgumentException($"RankedNegatives.Order holds {Order.Length} labels; {images} images × {Classes - 1} wrong classes need {(long)images * (Classes - 1)}.", nameof(Order));
        foreach (int c in Order)
            if ((uint)c >= (uint)Classes) throw new ArgumentException($"RankedNegatives.Order holds label {c}, not one of the {Classes} classes.", nameof(Order));
    }

    /// <summary>The negative label of <paramref name="image"/> in <paramref name="epoch"/>.</summary>
    public int Draw(int image, int epoch)
    {
        int ranks = Classes - 1;
        double u = Uniform(Seed, epoch, image);
        // Inverse of the truncated geometric distribution's cumulative weights.
        double total = Decay == 1 ? ranks : (1 - Math.Pow(Decay, ranks)) / (1 - Decay);
        double target = u * total, weight = 1, sum = 0;
        int r = 0;
        for (; r < ranks - 1; r++)
        {
            sum += weight;
            if (target < sum) break;
            weight *= Decay;
        }
        return Order[(long)image * ranks + r];
    }

    /// <summary>A uniform number in [0, 1) from (seed, epoch, image): SplitMix64's finaliser over their mix.</summary>
    private static double Uniform(long seed, int epoch, int image)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)epoch * 0xBF58476D1CE4E5B9UL + (ulong)image * 0x94D049BB133111EBUL + 0x632BE59BD9B4E019UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
