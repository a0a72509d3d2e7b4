using System.Numerics.Tensors;
using FFLib.Compute;

namespace FFLib.Layers;

/// <summary>
/// The FF control vector and the "try every label" probe, for custom models and training loops:
/// an FF network sees image ⊕ one-hot label; to classify, it scores each label and picks the most
/// plausible one (lowest summed goodness under L−, highest under L+).
/// </summary>
public static class LabelProbe
{
    /// <summary>Rows = onehot(labels[i]): the control vectors of true labels (positives) or of given wrong ones (negatives).</summary>
    public static Matrix OneHot(ReadOnlySpan<int> labels, int classes)
    {
        var m = new Matrix(labels.Length, classes);
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is not a class in [0, {classes}).");
            m.Data[i * classes + labels[i]] = 1f;
        }
        return m;
    }

    /// <summary>Row r = image_r ⊕ onehot(labels[r]) (images × (pixels + classes)).</summary>
    public static Matrix WithLabels(Matrix images, ReadOnlySpan<int> labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (labels.Length != images.Rows) throw new ArgumentException($"labels has {labels.Length} entries but images has {images.Rows} rows.", nameof(labels));
        CheckClasses(classes);
        var x = new Matrix(images.Rows, images.Cols + classes);
        for (int r = 0; r < images.Rows; r++)
        {
            if ((uint)labels[r] >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), labels[r], $"labels[{r}] = {labels[r]} is not a class in [0, {classes}).");
            images.Row(r).CopyTo(x.Row(r));
            x[r, images.Cols + labels[r]] = 1f;
        }
        return x;
    }

    /// <summary>Row r = image_r ⊕ control_r, for any control vectors (images × classes), e.g. <see cref="Training.NegativeControl.Inverse"/>.</summary>
    public static Matrix WithControl(Matrix images, Matrix control)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(control);
        if (control.Rows != images.Rows) throw new ArgumentException($"control has {control.Rows} rows but images has {images.Rows}.", nameof(control));
        var x = new Matrix(images.Rows, images.Cols + control.Cols);
        for (int r = 0; r < images.Rows; r++)
        {
            images.Row(r).CopyTo(x.Row(r));
            control.Row(r).CopyTo(x.Row(r)[images.Cols..]);
        }
        return x;
    }

    /// <summary>
    /// Scores of every (image, label): column c holds <paramref name="score"/> of the rows
    /// image_i ⊕ onehot(c). <paramref name="score"/> maps such a matrix to one number per row,
    /// e.g. Σ_layers softplus(meanh² − θ).
    /// </summary>
    public static Matrix Scores(Matrix images, int classes, Func<Matrix, float[]> score)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(score);
        CheckClasses(classes);
        var scores = new Matrix(images.Rows, classes);
        var labels = new int[images.Rows];
        for (int c = 0; c < classes; c++)
        {
            Array.Fill(labels, c);
            var s = score(WithLabels(images, labels, classes));
            if (s is null || s.Length != images.Rows) throw new InvalidOperationException($"The score function returned {s?.Length ?? 0} values for {images.Rows} rows.");
            for (int i = 0; i < images.Rows; i++) scores[i, c] = s[i];
        }
        return scores;
    }

    /// <summary>Per row the most plausible label: argmin under L− (<see cref="LossDirection.Minimize"/>), argmax under L+.</summary>
    public static int[] Predict(Matrix scores, LossDirection direction)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var result = new int[scores.Rows];
        for (int i = 0; i < result.Length; i++)
            result[i] = direction == LossDirection.Minimize ? TensorPrimitives.IndexOfMin(scores.Row(i)) : TensorPrimitives.IndexOfMax(scores.Row(i));
        return result;
    }

    private static void CheckClasses(int classes)
    {
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be at least 2.");
    }
}
