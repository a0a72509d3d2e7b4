using System.Buffers.Binary;
using System.IO.Compression;
using FFLib.Data;
using Xunit;

namespace FFLib.Tests;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-idx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static byte[] Images(int count, int rows, int cols, int? claimedCount = null, int magic = IdxReader.ImagesMagic)
    {
        var data = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(data, magic);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), claimedCount ?? count);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(12), cols);
        for (int i = 16; i < data.Length; i++) data[i] = (byte)(i * 7);
        return data;
    }

    internal static byte[] Labels(byte[] labels, int? claimedCount = null)
    {
        var data = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(data, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(4), claimedCount ?? labels.Length);
        labels.CopyTo(data, 8);
        return data;
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(raw);
        return ms.ToArray();
    }

    private string Write(string name, byte[] bytes)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsRawAndGzip(bool gzip)
    {
        var raw = Images(3, 2, 4);
        var path = Write("img", gzip ? Gzip(raw) : raw);
        var (count, rows, cols, pixels) = IdxReader.ReadImages(path);
        Assert.Equal((3, 2, 4), (count, rows, cols));
        Assert.Equal(raw.AsSpan(16).ToArray(), pixels);
        var lpath = Write("lab", gzip ? Gzip(Labels([1, 2, 9])) : Labels([1, 2, 9]));
        Assert.Equal(new byte[] { 1, 2, 9 }, IdxReader.ReadLabels(lpath));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RejectsWrongMagic(bool gzip)
    {
        var raw = Images(2, 2, 2, magic: 0x00000801);
        var path = Write("img", gzip ? Gzip(raw) : raw);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("magic number", e.Message);
        // An image file read as labels is also refused.
        var e2 = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(Write("img2", Images(2, 2, 2))));
        Assert.Contains("magic number", e2.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RejectsTruncatedData(bool gzip)
    {
        var raw = Images(5, 4, 4);
        var cut = raw.AsSpan(0, raw.Length - 10).ToArray();
        var path = Write("img", gzip ? Gzip(cut) : cut);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.True(e.Message.Contains("truncated") || e.Message.Contains("holds only"), e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HeaderClaimingHugeDataDoesNotAllocateIt(bool gzip)
    {
        // Claims 2,000,000,000 images of 1×1: 2 GB. The reader must refuse without allocating 2 GB.
        var raw = Images(3, 1, 1, claimedCount: 2_000_000_000);
        var path = Write("img", gzip ? Gzip(raw) : raw);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(path, e.Message);
        Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes for a 19-byte file");
    }

    [Fact]
    public void RejectsHeaderShorterThanDimensions()
    {
        var path = Write("img", Images(1, 2, 2).AsSpan(0, 10).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains("header is truncated", e.Message);
        var empty = Write("empty", []);
        Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(empty));
    }

    [Fact]
    public void RejectsTrailingBytesAndCorruptGzip()
    {
        var raw = Images(2, 2, 2).Concat(new byte[] { 1, 2, 3 }).ToArray();
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(Write("img", raw)));
        Assert.Contains("beyond", e.Message);
        var gz = Gzip(Images(50, 8, 8));
        gz[gz.Length / 2] ^= 0xFF;
        gz[gz.Length / 2 + 1] ^= 0xFF;
        var path = Write("bad.gz", gz);
        var e2 = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e2.Message);
    }

    [Fact]
    public void PairRejectsCountMismatchAndLabelOutOfRange()
    {
        var img = Write("img", Images(3, 2, 2));
        var e = Assert.Throws<InvalidDataException>(() => DatasetLoader.ReadIdxPair(img, Write("l1", Labels([1, 2])), "t", 10));
        Assert.Contains("2 labels", e.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => DatasetLoader.ReadIdxPair(img, Write("l2", Labels([1, 2, 10])), "t", 10));
        Assert.Contains("label 2 is 10", e2.Message);
        var ds = DatasetLoader.ReadIdxPair(img, Write("l3", Labels([1, 2, 9])), "t", 10);
        Assert.Equal(3, ds.Count);
        Assert.Equal(4, ds.Features);
        var m = ds.ToMatrix();
        Assert.Equal(Images(3, 2, 2)[16] / 255f, m[0, 0]);
    }
}
