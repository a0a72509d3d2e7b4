using FFLib.Compute;
using FFLib.Models;

namespace FFLib.Analysis;

/// <summary>One hidden layer's dead neurons: how many of its <see cref="Neurons"/> gave 0 on every probe image.</summary>
/// <param name="Layer">1-based layer number.</param>
/// <param name="Neurons">The layer's width.</param>
/// <param name="Dead">Neurons silent on every probe image.</param>
public readonly record struct LayerDeadNeurons(int Layer, int Neurons, int Dead)
{
    /// <summary>Dead / Neurons.</summary>
    public double Fraction => Neurons == 0 ? 0 : (double)Dead / Neurons;
}

/// <summary>
/// Dead neurons: a ReLU unit whose activation is 0 for every image of a probe set, each image fed
/// its own label (an FF model's control vector). Such a unit passes nothing on and, in FF
/// training, gets no gradient from the FF loss again — what peer normalisation is meant to prevent.
/// In a convolutional model (<see cref="IFeatureMapSource"/>) the unit is a channel, dead when it is 0
/// at every position of every probe image: the unit channel pruning removes and peer normalisation balances.
/// </summary>
public static class DeadNeurons
{
    /// <summary>Counts the dead neurons of every hidden layer of <paramref name="model"/> on <paramref name="images"/>.</summary>
    public static IReadOnlyList<LayerDeadNeurons> Count(IActivationSource model, Matrix images, ReadOnlySpan<int> labels, int classCount)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rows == 0) throw new ArgumentException("Dead neurons need at least one probe image.", nameof(images));
        var layers = model.ActivationsDependOnLabel
            ? FunctionalMaps.ActivationsWithLabels(model, images, labels, classCount)
            : model.LayerActivations(images, null);
        return layers.Select((a, l) => model is IFeatureMapSource maps
            ? new LayerDeadNeurons(l + 1, maps.MapShape(l).Channels, CountChannels(a, maps.MapShape(l).Channels))
            : new LayerDeadNeurons(l + 1, a.Cols, Count(a))).ToArray();
    }

    /// <summary>Channels of NHWC maps (rows × positions·<paramref name="channels"/>) that are ≤ 0 at every position of every row.</summary>
    public static int CountChannels(Matrix activations, int channels)
    {
        ArgumentNullException.ThrowIfNull(activations);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        if (activations.Cols % channels != 0) throw new ArgumentException($"{activations.Cols} values per row are not whole positions of {channels} channels.", nameof(channels));
        var alive = new bool[channels];
        for (int r = 0; r < activations.Rows; r++)
        {
            var row = activations.Row(r);
            for (int j = 0; j < row.Length; j++) if (row[j] > 0) alive[j % channels] = true;
        }
        return alive.Count(a => !a);
    }

    /// <summary>Columns of <paramref name="activations"/> (rows × neurons) that are ≤ 0 in every row.</summary>
    public static int Count(Matrix activations)
    {
        ArgumentNullException.ThrowIfNull(activations);
        var alive = new bool[activations.Cols];
        for (int r = 0; r < activations.Rows; r++)
        {
            var row = activations.Row(r);
            for (int j = 0; j < row.Length; j++) if (row[j] > 0) alive[j] = true;
        }
        return alive.Count(a => !a);
    }
}
