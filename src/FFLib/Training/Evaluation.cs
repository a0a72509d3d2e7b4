using System.Diagnostics;
using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>Accuracy of a trained model on a dataset.</summary>
public static class Evaluation
{
    [ThreadStatic] private static Matrix? t_buffer;
    [ThreadStatic] private static Matrix? t_tail;

    /// <summary>Fraction of images whose predicted class equals the label (an empty set is refused). Processes the set in chunks to bound memory.</summary>
    public static double Accuracy(IClassifierModel model, ImageDataset data, int chunk = 1000)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        BuildCheck.WarnIfUnoptimised();
        if (data.Features != model.ImageFeatures)
            throw new ArgumentException($"{data.Name} has {data.Features} features per image but the model expects {model.ImageFeatures}.", nameof(data));
        if (data.Count == 0) throw new ArgumentException($"{data.Name} holds no images: an accuracy over none is undefined.", nameof(data));
        if (chunk < 1) throw new ArgumentOutOfRangeException(nameof(chunk), chunk, "chunk must be at least 1.");
        int correct = 0;
        // The image buffer is kept per thread between calls: validation runs every epoch, and a fresh
        // 3 MB buffer each time only piles up on the large-object heap (resident memory grew by that
        // much per epoch until a full collection).
        int rows = Math.Min(chunk, data.Count);
        var buffer = t_buffer is { } b && b.Rows == rows && b.Cols == data.Features ? b : (t_buffer = new Matrix(rows, data.Features));
        var indices = new int[buffer.Rows];
        for (int start = 0; start < data.Count; start += chunk)
        {
            int count = Math.Min(chunk, data.Count - start);
            // One image buffer for the whole pass (a fresh one per chunk would only feed the large-object heap).
            var images = count == buffer.Rows ? buffer
                : t_tail is { } t && t.Rows == count && t.Cols == data.Features ? t : (t_tail = new Matrix(count, data.Features));
            for (int i = 0; i < count; i++) indices[i] = start + i;
            data.CopyImages(indices.AsSpan(0, count), images.Data);
            var pred = model.Predict(images);
            for (int i = 0; i < count; i++) if (pred[i] == data.Label(start + i)) correct++;
        }
        return (double)correct / data.Count;
    }
}
