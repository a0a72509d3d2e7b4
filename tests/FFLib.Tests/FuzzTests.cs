using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FFLib.Data;
using FFLib.IO;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Property tests: random bytes and mutations of valid files fed to every parser. A parser may
/// accept the input or reject it with <see cref="InvalidDataException"/> (naming the file); it
/// must never throw anything else, hang, or allocate far more than the input's size.
/// </summary>
public sealed class FuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-fuzz-").FullName;
    private int _n;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(byte[] bytes)
    {
        string p = Path.Combine(_dir, $"f{Interlocked.Increment(ref _n)}");
        File.WriteAllBytes(p, bytes);
        return p;
    }

    /// <summary>Runs the parser; true if it accepted or rejected cleanly within the allocation budget.</summary>
    private bool Clean(byte[] input, Action<string> parse)
    {
        string path = Write(input);
        long before = GC.GetAllocatedBytesForCurrentThread();
        try { parse(path); }
        catch (InvalidDataException e) when (e.Message.Contains(path, StringComparison.Ordinal)) { }
        finally { File.Delete(path); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        return allocated < 64L * input.Length + (4 << 20);
    }

    private static byte[] Mutate(byte[] valid, (int Pos, byte Val)[] edits, int cut)
    {
        var b = (byte[])valid.Clone();
        foreach (var (pos, val) in edits) b[(pos & int.MaxValue) % b.Length] = val;
        int len = cut <= 0 ? b.Length : Math.Max(0, b.Length - cut % (b.Length + 1));
        return b.AsSpan(0, len).ToArray();
    }

    private static Config Cfg => Config.QuickThrowOnFailure.WithMaxTest(MaxTests);

    private static readonly int MaxTests = int.TryParse(Environment.GetEnvironmentVariable("FFLIB_FUZZ_TESTS"), out var n) ? n : 300;

    private static byte[] ValidIdx()
    {
        var d = IdxReaderTests.Images(3, 4, 4);
        return d;
    }

    [Fact]
    public void IdxReaderSurvivesRandomAndMutatedBytes()
    {
        Prop.ForAll<byte[]>(bytes => Clean(bytes ?? [], p => IdxReader.ReadImages(p))).Check(Cfg);
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(ValidIdx(), edits ?? [], cut), p => IdxReader.ReadImages(p))).Check(Cfg);
        var gz = Gzip(ValidIdx());
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(gz, edits ?? [], cut), p => IdxReader.ReadImages(p))).Check(Cfg);
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(IdxReaderTests.Labels([1, 2, 3]), edits ?? [], cut), p => IdxReader.ReadLabels(p))).Check(Cfg);
    }

    [Fact]
    public void SparsityCsvReaderSurvivesRandomAndMutatedBytes()
    {
        var tracker = new Training.SparsityTracker(1);
        tracker.RecordFinal(new Models.FFNetwork(new Models.FFNetworkConfig { ImageFeatures = 5, Classes = 2, HiddenSizes = [4, 3] }, new Compute.FFRandom(1)));
        string valid = Path.Combine(_dir, "valid.csv");
        tracker.WriteCsv(valid);
        var bytes = File.ReadAllBytes(valid);
        Prop.ForAll<byte[]>(b => Clean(b ?? [], p => Training.SparsityTracker.ReadCsv(p))).Check(Cfg);
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(bytes, edits ?? [], cut), p => Training.SparsityTracker.ReadCsv(p))).Check(Cfg);
        // Printable mutations: commas, digits, signs, newlines where the numbers are.
        var alphabet = Encoding.ASCII.GetBytes(",.-+eE0123456789\n\r ");
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(bytes, (edits ?? []).Select(e => (e.Item1, alphabet[e.Item2 % alphabet.Length])).ToArray(), cut),
            p => Training.SparsityTracker.ReadCsv(p))).Check(Cfg);
    }

    [Fact]
    public void SafetensorsReaderSurvivesRandomAndMutatedBytes()
    {
        string valid = Path.Combine(_dir, "valid.safetensors");
        SafeTensors.Write(valid, [new NamedTensor("a", [2, 3], [1, 2, 3, 4, 5, 6]), new NamedTensor("b", [3], [7, 8, 9], StoreAsInt8: false)],
            new Dictionary<string, string> { ["k"] = "v" });
        var bytes = File.ReadAllBytes(valid);
        Prop.ForAll<byte[]>(b => Clean(b ?? [], p => SafeTensors.Read(p))).Check(Cfg);
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(bytes, edits ?? [], cut), p => SafeTensors.Read(p))).Check(Cfg);
        // Mutations inside the JSON header specifically (digits, quotes, brackets).
        var alphabet = Encoding.ASCII.GetBytes("0123456789-\"[]{},:eE. ");
        Prop.ForAll<(int, int)[]>(edits => Clean(Mutate(bytes, (edits ?? []).Select(e => (8 + (e.Item1 & int.MaxValue) % (bytes.Length - 8), alphabet[(e.Item2 & int.MaxValue) % alphabet.Length])).ToArray(), 0),
            p => SafeTensors.Read(p))).Check(Cfg);
    }

    [Fact]
    public void ModelLoaderSurvivesMutatedModels()
    {
        string valid = Path.Combine(_dir, "m.safetensors");
        ModelCheckpoint.Save(valid, new Models.FFNetwork(new Models.FFNetworkConfig { ImageFeatures = 4, Classes = 2, HiddenSizes = [3] }, new Compute.FFRandom(1)));
        var bytes = File.ReadAllBytes(valid);
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(bytes, edits ?? [], cut), p => ModelCheckpoint.Load(p))).Check(Cfg);
    }

    [Fact]
    public void CifarReaderAndTarExtractorSurviveMutations()
    {
        var record = new byte[CifarReader.RecordBytes * 2];
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(record, edits ?? [], cut), p => CifarReader.Read([p], "t"))).Check(Cfg);
        string tarPath = Path.Combine(_dir, "a.tar.gz");
        using (var fs = File.Create(tarPath))
        using (var gz = new GZipStream(fs, CompressionLevel.Fastest))
        using (var w = new System.Formats.Tar.TarWriter(gz))
            w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "x/y.bin") { DataStream = new MemoryStream(new byte[100]) });
        var tar = File.ReadAllBytes(tarPath);
        string target = Path.Combine(_dir, "out");
        Prop.ForAll<(int, byte)[], int>((edits, cut) => Clean(Mutate(tar, edits ?? [], cut), p => ArchiveExtractor.ExtractTarGz(p, target))).Check(Config.QuickThrowOnFailure.WithMaxTest(150));
        // Whatever happened, nothing escaped the target folder.
        Assert.Empty(Directory.GetFiles(_dir, "*.bin", SearchOption.TopDirectoryOnly));
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var g = new GZipStream(ms, CompressionLevel.Fastest)) g.Write(raw);
        return ms.ToArray();
    }
}
