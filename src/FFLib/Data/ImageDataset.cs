using System.Numerics.Tensors;
using FFLib.Compute;

namespace FFLib.Data;

/// <summary>
/// A labelled image set kept as bytes (4× smaller than floats); batches are converted to
/// float pixels/255 on demand. Splits and limits are views, not copies.
/// </summary>
public sealed class ImageDataset
{
    private readonly ReadOnlyMemory<byte> _pixels;
    private readonly ReadOnlyMemory<byte> _labels;

    /// <summary>Creates a dataset over pixel and label bytes (no copy).</summary>
    public ImageDataset(string name, int count, int features, int classes, ReadOnlyMemory<byte> pixels, ReadOnlyMemory<byte> labels)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be non-negative.");
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "features must be at least 1.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be at least 2.");
        if (pixels.Length != (long)count * features)
            throw new ArgumentException($"pixels has {pixels.Length} bytes but {count} images of {features} features need {(long)count * features}.", nameof(pixels));
        if (labels.Length != count)
            throw new ArgumentException($"labels has {labels.Length} entries but there are {count} images.", nameof(labels));
        var span = labels.Span;
        for (int i = 0; i < span.Length; i++)
            if (span[i] >= classes) throw new ArgumentException($"label {i} is {span[i]} but the dataset has {classes} classes.", nameof(labels));
        Name = name;
        Count = count;
        Features = features;
        Classes = classes;
        _pixels = pixels;
        _labels = labels;
    }

    /// <summary>Dataset name, e.g. "mnist/train".</summary>
    public string Name { get; }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Values per image (784 for MNIST, 3072 for CIFAR-10).</summary>
    public int Features { get; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>The raw bytes, image after image.</summary>
    public ReadOnlyMemory<byte> Pixels => _pixels;

    /// <summary>One label byte per image.</summary>
    public ReadOnlyMemory<byte> Labels => _labels;

    /// <summary>Label of image <paramref name="index"/>.</summary>
    public int Label(int index) => _labels.Span[index];

    /// <summary>The images [start, start + count) as a new view.</summary>
    public ImageDataset Slice(int start, int count, string? name = null)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + count}) is outside the {Count} images of {Name}.");
        return new ImageDataset(name ?? Name, count, Features, Classes,
            _pixels.Slice(start * Features, count * Features), _labels.Slice(start, count));
    }

    /// <summary>The first min(count, Count) images.</summary>
    public ImageDataset Take(int count) => count >= Count ? this : Slice(0, Math.Max(0, count));

    /// <summary>
    /// Splits off the last <paramref name="fraction"/> of the images as validation (the paper's
    /// "last 10%"); the rest is the training part.
    /// </summary>
    public (ImageDataset Train, ImageDataset Validation) SplitLast(double fraction)
    {
        if (!(fraction >= 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation fraction must be in [0, 1).");
        int val = (int)Math.Round(Count * fraction);
        return (Slice(0, Count - val, Name), Slice(Count - val, val, Name + "/validation"));
    }

    /// <summary>Writes images[indices[i]] as floats (byte/255) into row i of <paramref name="destination"/>.</summary>
    public void CopyImages(ReadOnlySpan<int> indices, Span<float> destination)
    {
        if (destination.Length < indices.Length * Features)
            throw new ArgumentException($"destination holds {destination.Length} floats but {indices.Length} images need {indices.Length * Features}.", nameof(destination));
        var px = _pixels.Span;
        for (int i = 0; i < indices.Length; i++)
        {
            int idx = indices[i];
            if ((uint)idx >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), idx, $"Image index {idx} is outside [0, {Count}).");
            var src = px.Slice(idx * Features, Features);
            var dst = destination.Slice(i * Features, Features);
            for (int j = 0; j < Features; j++) dst[j] = src[j];
            // torchvision's ToTensor: byte.float() / 255.
            TensorPrimitives.Divide(dst, 255f, dst);
        }
    }

    /// <summary>Images [start, start + count) as a float matrix, pixels/255.</summary>
    public Matrix ToMatrix(int start = 0, int count = -1)
    {
        if (count < 0) count = Count - start;
        if (start < 0 || start + count > Count) throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + count}) is outside the {Count} images.");
        var m = new Matrix(count, Features);
        var idx = Enumerable.Range(start, count).ToArray();
        CopyImages(idx, m.Data);
        return m;
    }
}
