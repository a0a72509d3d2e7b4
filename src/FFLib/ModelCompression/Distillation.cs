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
public sealed record TeacherSignal(int[] Labels, int[] Negatives, double Agreement);

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
        int agree = 0;
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            var images = data.ToMatrix(start, count);
            var (scores, lowest) = Scores(teacher, images);
            for (int r = 0; r < count; r++)
            {
                // Rank the classes by the teacher's preference: first and second choice.
                int first = -1, second = -1;
                for (int c = 0; c < k; c++)
                {
                    float v = lowest ? -scores[r, c] : scores[r, c];
                    if (first < 0 || v > (lowest ? -scores[r, first] : scores[r, first])) { second = first; first = c; }
                    else if (second < 0 || v > (lowest ? -scores[r, second] : scores[r, second])) second = c;
                }
                labels[start + r] = first;
                negatives[start + r] = second;
                if (first == data.Label(start + r)) agree++;
            }
        }
        return new TeacherSignal(labels, negatives, (double)agree / Math.Max(1, n));
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
    /// Trains <paramref name="student"/> on <paramref name="data"/> relabelled by <paramref name="signal"/>; with
    /// <paramref name="teacherNegatives"/>, FF phases take the teacher's second choice as each image's negative label.
    /// </summary>
    public static IReadOnlyList<EpochMetrics> TrainStudent(ITrainableModel student, ImageDataset data, ImageDataset? validation, TeacherSignal signal,
        TrainingOptions options, FFRandom random, bool teacherNegatives = true, Trainer? trainer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(signal);
        ArgumentNullException.ThrowIfNull(options);
        var relabelled = WithLabels(data, signal.Labels);
        var withNegatives = teacherNegatives ? options with { GivenNegatives = signal.Negatives } : options;
        return (trainer ?? new Trainer()).Train(student, relabelled, validation, withNegatives, random, cancellationToken);
    }
}
