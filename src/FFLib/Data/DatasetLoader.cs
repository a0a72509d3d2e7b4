namespace FFLib.Data;

/// <summary>Train and test parts of a dataset, and where they came from.</summary>
public sealed record LoadedDataset(DatasetKind Kind, ImageDataset Train, ImageDataset Test, DatasetLocation Location);

/// <summary>Loads the built-in datasets into <see cref="ImageDataset"/>s.</summary>
public static class DatasetLoader
{
    /// <summary>Finds (see <see cref="DatasetLocator"/>) and reads a dataset's train and test parts.</summary>
    public static LoadedDataset Load(DatasetKind kind, DatasetLoadOptions? options = null)
    {
        var d = DatasetCatalog.Get(kind);
        var loc = DatasetLocator.Locate(kind, options);
        ImageDataset train, test;
        if (d.Format == DatasetFormat.CifarBinary)
        {
            train = CifarReader.Read(loc.Paths.Take(loc.Paths.Count - 1).ToArray(), $"{d.Id}/train", d.Classes);
            test = CifarReader.Read([loc.Paths[^1]], $"{d.Id}/test", d.Classes);
            return new LoadedDataset(kind, train, test, loc);
        }
        train = ReadIdxPair(loc.Paths[0], loc.Paths[1], $"{d.Id}/train", d.Classes);
        test = ReadIdxPair(loc.Paths[2], loc.Paths[3], $"{d.Id}/test", d.Classes);
        if (train.Features != test.Features)
            throw new InvalidDataException($"{loc.Paths[0]} has {train.Features}-pixel images but {loc.Paths[2]} has {test.Features}-pixel ones.");
        return new LoadedDataset(kind, train, test, loc);
    }

    /// <summary>Reads an IDX image file and its label file into a dataset, checking counts and label range.</summary>
    public static ImageDataset ReadIdxPair(string imagesPath, string labelsPath, string name, int classes)
    {
        var (count, rows, cols, pixels) = IdxReader.ReadImages(imagesPath);
        var labels = IdxReader.ReadLabels(labelsPath);
        if (labels.Length != count)
            throw new InvalidDataException($"{labelsPath} holds {labels.Length} labels but {imagesPath} holds {count} images.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classes)
                throw new InvalidDataException($"{labelsPath}: label {i} is {labels[i]}, outside the {classes} classes.");
        return new ImageDataset(name, count, rows * cols, classes, pixels, labels);
    }
}
