using FFLib.Compute;
using FFLib.Data;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.ModelCompression;

/// <summary>What a teacher says about every image of a training set.</summary>
/// <param name="Labels">Its predicted class of each image (the student's positive label).</param>
/// <param name="Negatives">Its most plausible wrong class of each image: its second choice (the student's negative label).</param>
/// <param name="Agreement">The fraction of images whose predicted class is the dataset's label.</param>
public sealed record TeacherSignal(int[] Labels, int[] Negatives, double Agreement)
{
    /// <summary>Per image, every wrong class (all but its label) in the teacher's order, most plausible first: classes − 1 per image, row-major.</summary>
    public int[] WrongOrder { get; init; } = [];
}

/// <summary>Which negative labels an FF student trains on.</summary>
public enum StudentNegatives
{
    /// <summary>A uniformly drawn wrong class, as without a teacher.</summary>
    Random,
    /// <summary>The teacher's second choice, the same every epoch.</summary>
    SecondChoice,
    /// <summary>Drawn every epoch from the teacher's ranking of the wrong classes (<see cref="Training.RankedNegatives"/>).</summary>
    Sampled,
}

/// <summary>
/// Knowledge distillation into a student of any registered architecture, through the one channel every
/// architecture trains on: labels. The teacher labels every training image with its prediction (its
/// positive label) and, for FF students, with its second choice (the negative label, in place of a random
/// wrong class: the teacher's hardest negative). A backprop student learns the teacher's labels by
/// cross-entropy (hard distillation; no temperature: the library's backprop models train on class labels).
/// </summary>
public static class Distillation
{
    /// <summary>The teacher's labels and second choices on <paramref name="data"/>, by label scores where it has them, else by its logits' order.</summary>
    public static TeacherSignal Teach(IClassifierModel teacher, ImageDataset data, int chunk = 2000)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Features != teacher.ImageFeatures || data.Classes != teacher.Classes)
            throw new ArgumentException($"{data.Name} has {data.Features} features and {data.Classes} classes per image; the teacher expects {teacher.ImageFeatures} and {teacher.Classes}.", nameof(data));
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        int n = data.Count, k = teacher.Classes;
        var labels = new int[n];
        var negatives = new int[n];
        var wrong = new int[n * (k - 1)];
        var classes = new int[k];
        var keys = new float[k];
        int agree = 0;
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            var images = data.ToMatrix(start, count);
            var (scores, lowest) = Scores(teacher, images);
            for (int r = 0; r < count; r++)
            {
                // Rank the classes by the teacher's preference (a stable sort: ties keep class order).
                for (int c = 0; c < k; c++) { classes[c] = c; keys[c] = lowest ? scores[r, c] : -scores[r, c]; }
                Array.Sort(keys, classes);
                InsertionFixTies(keys, classes);
                labels[start + r] = classes[0];
                negatives[start + r] = classes[1];
                classes.AsSpan(1).CopyTo(wrong.AsSpan((start + r) * (k - 1), k - 1));
                if (classes[0] == data.Label(start + r)) agree++;
            }
        }
        return new TeacherSignal(labels, negatives, (double)agree / Math.Max(1, n)) { WrongOrder = wrong };
    }

    /// <summary>Array.Sort is not stable: among equal keys, put the classes back in ascending order.</summary>
    private static void InsertionFixTies(float[] keys, int[] classes)
    {
        for (int i = 1; i < classes.Length; i++)
            for (int j = i; j > 0 && keys[j] == keys[j - 1] && classes[j] < classes[j - 1]; j--)
                (classes[j], classes[j - 1]) = (classes[j - 1], classes[j]);
    }

    /// <summary>Per-class scores and whether the lowest wins: label scores (FF), else logits (backprop heads).</summary>
    private static (Matrix Scores, bool Lowest) Scores(IClassifierModel teacher, Matrix images) => teacher switch
    {
        IClassScorer c => (c.ClassScores(images), false),
        ILabelScorer s => (s.LabelScores(images), s.ScoreDirection == LossDirection.Minimize),
        _ => throw new ArgumentException($"A {teacher.Architecture.DisplayName} teacher gives no per-class scores (neither an IClassScorer nor an ILabelScorer).", nameof(teacher)),
    };

    /// <summary><paramref name="data"/> with its labels replaced by <paramref name="labels"/> (the pixels shared).</summary>
    public static ImageDataset WithLabels(ImageDataset data, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count != data.Count) throw new ArgumentException($"{labels.Count} labels for {data.Count} images.", nameof(labels));
        var bytes = new byte[labels.Count];
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = (uint)labels[i] < (uint)data.Classes ? (byte)labels[i] : throw new ArgumentException($"Label {labels[i]} of image {i} is not one of the {data.Classes} classes.", nameof(labels));
        return new ImageDataset(data.Name + " (teacher's labels)", data.Count, data.Features, data.Classes, data.Pixels, bytes);
    }

    /// <summary>
    /// Trains <paramref name="student"/> on <paramref name="data"/> relabelled by <paramref name="signal"/>; FF phases take
    /// their negative labels as <paramref name="negatives"/> says (<paramref name="decay"/>: the ratio between successive
    /// ranks' weights when sampled; <paramref name="sampleSeed"/> seeds those draws).
    /// </summary>
    public static IReadOnlyList<EpochMetrics> TrainStudent(ITrainableModel student, ImageDataset data, ImageDataset? validation, TeacherSignal signal,
        TrainingOptions options, FFRandom random, StudentNegatives negatives = StudentNegatives.SecondChoice, double decay = 0.5, long sampleSeed = 0,
        Trainer? trainer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(signal);
        ArgumentNullException.ThrowIfNull(options);
        var relabelled = WithLabels(data, signal.Labels);
        var withNegatives = negatives switch
        {
            StudentNegatives.Random => options,
            StudentNegatives.SecondChoice => options with { GivenNegatives = signal.Negatives },
            StudentNegatives.Sampled => options with { RankedNegatives = new RankedNegatives { Order = signal.WrongOrder, Classes = student.Classes, Decay = decay, Seed = sampleSeed } },
            _ => throw new ArgumentOutOfRangeException(nameof(negatives), negatives, "Unknown kind of negatives."),
        };
        return (trainer ?? new Trainer()).Train(student, relabelled, validation, withNegatives, random, cancellationToken);
    }
}
