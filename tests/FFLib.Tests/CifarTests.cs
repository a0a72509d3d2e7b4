using System.Formats.Tar;
using System.IO.Compression;
using FFLib.Data;
using Xunit;

namespace FFLib.Tests;

/// <summary>CIFAR-10 has no offline source here: the tests write their own batches and archives.</summary>
public sealed class CifarTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-cifar-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>n records; image i has label (i + seed) % 10 and pixel k = (i·7 + k) % 251.</summary>
    private static byte[] Batch(int n, int seed, int badLabelAt = -1)
    {
        var b = new byte[n * CifarReader.RecordBytes];
        for (int i = 0; i < n; i++)
        {
            b[i * CifarReader.RecordBytes] = (byte)(i == badLabelAt ? 10 : (i + seed) % 10);
            for (int k = 0; k < CifarReader.ImageBytes; k++) b[i * CifarReader.RecordBytes + 1 + k] = (byte)((i * 7 + k) % 251);
        }
        return b;
    }

    private string WriteBatches(string folder)
    {
        Directory.CreateDirectory(folder);
        for (int i = 1; i <= 5; i++) File.WriteAllBytes(Path.Combine(folder, $"data_batch_{i}.bin"), Batch(4, i));
        File.WriteAllBytes(Path.Combine(folder, "test_batch.bin"), Batch(3, 0));
        return folder;
    }

    private DatasetLoadOptions Isolated(string dataDir) => new()
    {
        DataDirectory = dataDir, DataRoot = null, CacheRoot = Path.Combine(_dir, "cache"), AllowDownload = false, SearchOfflineInstalls = false,
    };

    [Fact]
    public void ReadsBatchesChannelMajorAndScaled()
    {
        var d = DatasetLoader.Load(DatasetKind.Cifar10, Isolated(WriteBatches(Path.Combine(_dir, "plain"))));
        Assert.Equal(20, d.Train.Count);
        Assert.Equal(3, d.Test.Count);
        Assert.Equal(3072, d.Train.Features);
        Assert.Equal((0 + 2) % 10, d.Train.Label(4)); // first image of data_batch_2 (seed 2)
        var m = d.Train.ToMatrix(5, 1);               // image 1 of data_batch_2
        // Channel-major: value k is byte k of the record's image part, scaled by 1/255.
        Assert.Equal((7 + 1024) % 251 / 255f, m[0, 1024]);
        Assert.Equal((7 + 3071) % 251 / 255f, m[0, 3071]);
    }

    [Fact]
    public void ReadsTheExtractedFolderAndTheArchive()
    {
        var root = Path.Combine(_dir, "nested");
        WriteBatches(Path.Combine(root, "cifar-10-batches-bin"));
        Assert.Equal(20, DatasetLoader.Load(DatasetKind.Cifar10, Isolated(root)).Train.Count);

        var archiveDir = Directory.CreateDirectory(Path.Combine(_dir, "archived")).FullName;
        WriteTarGz(Path.Combine(archiveDir, "cifar-10-binary.tar.gz"), w =>
        {
            for (int i = 1; i <= 5; i++) AddFile(w, $"cifar-10-batches-bin/data_batch_{i}.bin", Batch(4, i));
            AddFile(w, "cifar-10-batches-bin/test_batch.bin", Batch(3, 0));
        });
        var d = DatasetLoader.Load(DatasetKind.Cifar10, Isolated(archiveDir));
        Assert.Equal(20, d.Train.Count);
        Assert.StartsWith(Path.Combine(_dir, "cache"), d.Location.Folder);
    }

    [Fact]
    public void MalformedBatchesAreRejected()
    {
        string p = Path.Combine(_dir, "short.bin");
        File.WriteAllBytes(p, Batch(2, 0).AsSpan(0, 3000).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => CifarReader.Read([p], "t"));
        Assert.Contains(p, e.Message);
        Assert.Contains("3073-byte records", e.Message);
        File.WriteAllBytes(p, Batch(3, 0, badLabelAt: 2));
        e = Assert.Throws<InvalidDataException>(() => CifarReader.Read([p], "t"));
        Assert.Contains("record 2 has label 10", e.Message);
        File.WriteAllBytes(p, []);
        Assert.Throws<InvalidDataException>(() => CifarReader.Read([p], "t"));
    }

    [Theory]
    [InlineData("../evil.bin")]
    [InlineData("cifar-10-batches-bin/../../evil.bin")]
    [InlineData("/tmp/fflib-absolute-evil.bin")]
    public void ArchiveEntriesEscapingTheTargetAreRefused(string entryName)
    {
        string archive = Path.Combine(_dir, "evil.tar.gz");
        WriteTarGz(archive, w => AddFile(w, entryName, [1, 2, 3]));
        string target = Path.Combine(_dir, "out", "inner");
        var e = Assert.Throws<InvalidDataException>(() => ArchiveExtractor.ExtractTarGz(archive, target));
        Assert.Contains("outside the target folder", e.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "out", "evil.bin")));
        Assert.False(File.Exists(Path.Combine(_dir, "evil.bin")));
        Assert.False(File.Exists("/tmp/fflib-absolute-evil.bin"));
    }

    [Theory]
    [InlineData(TarEntryType.SymbolicLink)]
    [InlineData(TarEntryType.HardLink)]
    public void ArchiveLinksAreRefused(TarEntryType type)
    {
        string archive = Path.Combine(_dir, "link.tar.gz");
        WriteTarGz(archive, w => w.WriteEntry(new PaxTarEntry(type, "cifar-10-batches-bin/data_batch_1.bin") { LinkName = "/etc/passwd" }));
        var e = Assert.Throws<InvalidDataException>(() => ArchiveExtractor.ExtractTarGz(archive, Path.Combine(_dir, "x")));
        Assert.Contains("link", e.Message);
    }

    /// <summary>
    /// Regression (found by the property tests): a PAX header claiming a huge size made TarReader
    /// allocate it before failing. The claimed size is now checked first.
    /// </summary>
    [Fact]
    public void MetadataEntryClaimingHugeSizeIsRefusedWithoutAllocatingIt()
    {
        var header = new byte[512];
        System.Text.Encoding.ASCII.GetBytes("PaxHeaders/x").CopyTo(header, 0);
        System.Text.Encoding.ASCII.GetBytes("0000644\0").CopyTo(header, 100);
        System.Text.Encoding.ASCII.GetBytes("7777777777\0").CopyTo(header, 124); // ≈ 1 GiB
        header[156] = (byte)'x';
        System.Text.Encoding.ASCII.GetBytes("ustar\0" + "00").CopyTo(header, 257);
        for (int i = 148; i < 156; i++) header[i] = (byte)' ';
        int sum = header.Sum(b => b);
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);
        string archive = Path.Combine(_dir, "pax.tar.gz");
        using (var fs = File.Create(archive))
        using (var gz = new GZipStream(fs, CompressionLevel.Fastest))
            gz.Write(header.Concat(new byte[1024]).ToArray());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => ArchiveExtractor.ExtractTarGz(archive, Path.Combine(_dir, "z")));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8 << 20);
        Assert.Contains("metadata entry", e.Message);
    }

    [Fact]
    public void CorruptArchiveGivesOneClearError()
    {
        string archive = Path.Combine(_dir, "cifar-10-binary.tar.gz");
        File.WriteAllBytes(archive, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]);
        var e = Assert.Throws<InvalidDataException>(() => ArchiveExtractor.ExtractTarGz(archive, Path.Combine(_dir, "y")));
        Assert.Contains(archive, e.Message);
    }

    internal static void WriteTarGz(string path, Action<TarWriter> fill)
    {
        using var fs = File.Create(path);
        using var gz = new GZipStream(fs, CompressionLevel.Fastest);
        using var w = new TarWriter(gz, TarEntryFormat.Pax);
        fill(w);
    }

    internal static void AddFile(TarWriter w, string name, byte[] content) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
}
