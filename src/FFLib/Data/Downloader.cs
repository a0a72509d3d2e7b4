namespace FFLib.Data;

/// <summary>
/// Downloads dataset files into the cache: each goes to a ".part" file, its uncompressed content
/// is checked against the catalogue's SHA-256, and only then is it renamed into place, so a
/// partial or corrupt download never looks complete.
/// </summary>
internal static class Downloader
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(10) };

    public static string[] DownloadDataset(DatasetDescriptor d, string folder, IReadOnlyList<string> mirrors, IProgress<DownloadProgress>? progress)
    {
        Directory.CreateDirectory(folder);
        if (d.Archive is { } archive) return DownloadArchive(d, archive, folder, mirrors, progress);
        var paths = new string[d.Files.Count];
        for (int i = 0; i < paths.Length; i++)
        {
            var file = d.Files[i];
            string target = Path.Combine(folder, file.Name + ".gz");
            if (File.Exists(target)) { paths[i] = target; continue; }
            var errors = new List<string>();
            foreach (var mirror in mirrors)
            {
                string url = mirror.TrimEnd('/') + "/" + file.Name + ".gz";
                try
                {
                    DownloadVerified(url, target, file, progress);
                    paths[i] = target;
                    break;
                }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidDataException)
                {
                    errors.Add($"{url}: {e.Message}");
                }
            }
            if (paths[i] is null) throw new IOException($"could not download {file.Name}: " + string.Join("; ", errors));
        }
        return paths;
    }

    /// <summary>Downloads the dataset's archive (MD5-checked), then extracts it safely into the cache.</summary>
    private static string[] DownloadArchive(DatasetDescriptor d, DatasetArchive archive, string folder, IReadOnlyList<string> mirrors, IProgress<DownloadProgress>? progress)
    {
        string target = Path.Combine(folder, archive.FileName);
        var errors = new List<string>();
        if (!File.Exists(target))
        {
            foreach (var mirror in mirrors)
            {
                string url = mirror.TrimEnd('/') + "/" + archive.FileName;
                try
                {
                    Fetch(url, target, archive.FileName, progress, part =>
                    {
                        using var fs = File.OpenRead(part);
                        string md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(fs));
                        if (!string.Equals(md5, archive.Md5, StringComparison.OrdinalIgnoreCase))
                            throw new InvalidDataException($"checksum mismatch for {archive.FileName} from {url}: MD5 {md5}, expected {archive.Md5}; the file was discarded");
                    });
                    break;
                }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidDataException)
                {
                    errors.Add($"{url}: {e.Message}");
                }
            }
            if (!File.Exists(target)) throw new IOException($"could not download {archive.FileName}: " + string.Join("; ", errors));
        }
        ArchiveExtractor.ExtractTarGz(target, folder);
        string sub = Path.Combine(folder, archive.Subfolder);
        return d.Files.Select(f => Path.Combine(sub, f.Name)).Select(p => File.Exists(p) ? p : throw new InvalidDataException($"{target}: {p} is missing after extraction.")).ToArray();
    }

    /// <summary>Downloads one file to target via a .part file and a content checksum.</summary>
    public static void DownloadVerified(string url, string target, DatasetFile file, IProgress<DownloadProgress>? progress) =>
        Fetch(url, target, file.Name, progress, part =>
        {
            if (file.ContentSha256 is null) return;
            string actual = DatasetLocator.ContentSha256(part);
            if (!string.Equals(actual, file.ContentSha256, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"checksum mismatch for {file.Name} from {url}: SHA-256 of its content is {actual}, expected {file.ContentSha256}; the file was discarded");
        });

    /// <summary>GET url into target.part, run <paramref name="verify"/> on it, then rename; the .part never survives.</summary>
    private static void Fetch(string url, string target, string name, IProgress<DownloadProgress>? progress, Action<string> verify)
    {
        string part = target + ".part";
        try
        {
            using (var response = Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult())
            {
                response.EnsureSuccessStatusCode();
                long? total = response.Content.Headers.ContentLength;
                using var body = response.Content.ReadAsStream();
                using var output = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None);
                var buffer = new byte[1 << 16];
                long done = 0;
                int n;
                while ((n = body.Read(buffer)) > 0)
                {
                    output.Write(buffer, 0, n);
                    done += n;
                    progress?.Report(new DownloadProgress(name, done, total));
                }
                if (total is long t && done != t) throw new IOException($"the download stopped after {done} of {t} bytes");
                output.Flush(flushToDisk: true);
            }
            verify(part);
            File.Move(part, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(part)) File.Delete(part);
        }
    }
}
