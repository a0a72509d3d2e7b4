using System.IO.Compression;
using System.Net;
using FFLib.Data;
using Xunit;

namespace FFLib.Tests;

public sealed class DatasetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string MakeTinyIdxFolder(string folder, bool gzip)
    {
        Directory.CreateDirectory(folder);
        void W(string name, byte[] bytes)
        {
            if (!gzip) { File.WriteAllBytes(Path.Combine(folder, name), bytes); return; }
            using var fs = File.Create(Path.Combine(folder, name + ".gz"));
            using var gz = new GZipStream(fs, CompressionLevel.Fastest);
            gz.Write(bytes);
        }
        W("train-images-idx3-ubyte", IdxReaderTests.Images(20, 28, 28));
        W("train-labels-idx1-ubyte", IdxReaderTests.Labels(Enumerable.Range(0, 20).Select(i => (byte)(i % 10)).ToArray()));
        W("t10k-images-idx3-ubyte", IdxReaderTests.Images(5, 28, 28));
        W("t10k-labels-idx1-ubyte", IdxReaderTests.Labels([0, 1, 2, 3, 4]));
        return folder;
    }

    private DatasetLoadOptions Isolated(string? dataDir = null, string? root = null) => new()
    {
        DataDirectory = dataDir,
        DataRoot = root,
        CacheRoot = Path.Combine(_dir, "cache"),
        AllowDownload = false,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DataDirWithRawOrGzipFilesIsUsed(bool gzip)
    {
        var folder = MakeTinyIdxFolder(Path.Combine(_dir, "m"), gzip);
        var d = DatasetLoader.Load(DatasetKind.Mnist, Isolated(dataDir: folder));
        Assert.Equal("data directory", d.Location.Source);
        Assert.Equal(20, d.Train.Count);
        Assert.Equal(5, d.Test.Count);
        Assert.Equal(784, d.Train.Features);
    }

    [Fact]
    public void DataRootIsSearchedPerDataset()
    {
        MakeTinyIdxFolder(Path.Combine(_dir, "root", "fashion-mnist"), gzip: true);
        var d = DatasetLoader.Load(DatasetKind.FashionMnist, Isolated(root: Path.Combine(_dir, "root")));
        Assert.Equal("FFLIB_DATA", d.Location.Source);
    }

    [Fact]
    public void MissingDataDirSaysWhatIsMissing()
    {
        var folder = Path.Combine(_dir, "partial");
        MakeTinyIdxFolder(folder, gzip: false);
        File.Delete(Path.Combine(folder, "t10k-labels-idx1-ubyte"));
        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(DatasetKind.Mnist, Isolated(dataDir: folder)));
        Assert.Contains(folder, e.Message);
        Assert.Contains("missing t10k-labels-idx1-ubyte", e.Message);
    }

    [Fact]
    public void NothingFoundListsEveryPlaceAndHowToGetIt()
    {
        var opts = Isolated(root: Path.Combine(_dir, "nowhere")) with { SearchOfflineInstalls = false };
        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetLocator.Locate(DatasetKind.FashionMnist, opts));
        Assert.Contains(Path.Combine(_dir, "nowhere", "fashion-mnist"), e.Message);
        Assert.Contains(Path.Combine(_dir, "cache", "datasets", "fashion-mnist"), e.Message);
        Assert.Contains("download: disabled", e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("DatasetLoadOptions.DataDirectory", e.Message); // the API's name; fflib says --data-dir (CliTests)
    }

    [Fact]
    public void SplitLastTakesTheLastTenPercent()
    {
        var folder = MakeTinyIdxFolder(Path.Combine(_dir, "m"), gzip: false);
        var d = DatasetLoader.Load(DatasetKind.Mnist, Isolated(dataDir: folder));
        var (train, val) = d.Train.SplitLast(0.1);
        Assert.Equal(18, train.Count);
        Assert.Equal(2, val.Count);
        Assert.Equal(d.Train.Label(18), val.Label(0));
        Assert.Equal(d.Train.ToMatrix(19, 1).Data, val.ToMatrix(1, 1).Data);
    }

    [Fact]
    public void DownloadVerifiesChecksumAndNeverLeavesAPartialFile()
    {
        // A local HTTP server serves a label file whose content hash we know, and a corrupted copy.
        var content = IdxReaderTests.Labels([1, 2, 3, 4]);
        string good = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        byte[] Gz(byte[] raw) { using var ms = new MemoryStream(); using (var g = new GZipStream(ms, CompressionLevel.Fastest)) g.Write(raw); return ms.ToArray(); }
        var goodGz = Gz(content);
        var badGz = Gz(content.Select((b, i) => i == 9 ? (byte)7 : b).ToArray());

        using var server = new LocalServer(path => path.Contains("bad") ? badGz : path.Contains("missing") ? null : goodGz);
        var file = new DatasetFile("labels", good);
        string target = Path.Combine(_dir, "dl", "labels.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);

        Downloader.DownloadVerified(server.Url + "good/labels.gz", target, file, null);
        Assert.Equal(good, DatasetLocator.ContentSha256(target));

        string target2 = Path.Combine(_dir, "dl", "labels2.gz");
        var e = Assert.Throws<InvalidDataException>(() => Downloader.DownloadVerified(server.Url + "bad/labels.gz", target2, file, null));
        Assert.Contains("checksum mismatch", e.Message);
        Assert.Contains("discarded", e.Message);
        Assert.False(File.Exists(target2));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "dl"), "*.part"));

        Assert.Throws<HttpRequestException>(() => Downloader.DownloadVerified(server.Url + "missing/labels.gz", target2, file, null));
        Assert.False(File.Exists(target2));
    }

    /// <summary>A tiny HTTP server on 127.0.0.1 for download tests.</summary>
    private sealed class LocalServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Func<string, byte[]?> _handler;

        public LocalServer(Func<string, byte[]?> handler)
        {
            _handler = handler;
            int port = 0;
            for (int attempt = 0; ; attempt++)
            {
                port = Random.Shared.Next(20000, 60000);
                try
                {
                    _listener.Prefixes.Clear();
                    _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
                    _listener.Start();
                    break;
                }
                catch (HttpListenerException) when (attempt < 20) { }
            }
            Url = $"http://127.0.0.1:{port}/";
            _ = Task.Run(Loop);
        }

        public string Url { get; }

        private async Task Loop()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await _listener.GetContextAsync(); } catch { return; }
                var body = _handler(ctx.Request.Url!.AbsolutePath);
                if (body is null) { ctx.Response.StatusCode = 404; ctx.Response.Close(); continue; }
                ctx.Response.ContentLength64 = body.Length;
                await ctx.Response.OutputStream.WriteAsync(body);
                ctx.Response.Close();
            }
        }

        public void Dispose() { _listener.Stop(); _listener.Close(); }
    }
}
