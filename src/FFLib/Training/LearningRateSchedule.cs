namespace FFLib.Training;

/// <summary>How the learning rate moves over a training phase (<see cref="TrainingOptions.Schedule"/>).</summary>
public enum LearningRateSchedule
{
    /// <summary>The configured rate for every step (the paper's choice).</summary>
    Constant,

    /// <summary>
    /// Cosine decay from the configured rate toward 0 over each phase's steps, without restarts:
    /// step k of K uses lr·½(1 + cos(πk/K)) (PyTorch's CosineAnnealingLR with η_min 0 stepped per batch).
    /// </summary>
    Cosine,
}

/// <summary>The factors of the <see cref="LearningRateSchedule"/>s and their written ids.</summary>
public static class LearningRateSchedules
{
    /// <summary>The ids, in the order of the enum: "constant", "cosine".</summary>
    public static IReadOnlyList<string> Ids { get; } = ["constant", "cosine"];

    /// <summary>The factor on the base rate for step <paramref name="step"/> (0-based) of <paramref name="steps"/> in a phase.</summary>
    public static float Factor(LearningRateSchedule schedule, long step, long steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        return schedule switch
        {
            LearningRateSchedule.Constant => 1f,
            // In double, then rounded once: the same factor on every machine.
            LearningRateSchedule.Cosine => (float)(0.5 * (1 + Math.Cos(Math.PI * Math.Min(step, steps) / steps))),
            _ => throw new ArgumentOutOfRangeException(nameof(schedule), schedule, "Unknown learning-rate schedule."),
        };
    }

    /// <summary>The written id ("constant", "cosine").</summary>
    public static string Id(LearningRateSchedule schedule) => Ids[(int)schedule];

    /// <summary>Parses an id (case-insensitive); <see cref="FormatException"/> listing the ids otherwise.</summary>
    public static LearningRateSchedule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int i = Ids.ToList().FindIndex(id => string.Equals(id, text.Trim(), StringComparison.OrdinalIgnoreCase));
        return i >= 0 ? (LearningRateSchedule)i : throw new FormatException($"'{text}' is not a learning-rate schedule; use {string.Join(" or ", Ids)}.");
    }
}
