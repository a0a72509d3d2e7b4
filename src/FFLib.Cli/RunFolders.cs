using System.Globalization;

namespace FFLib.Cli;

/// <summary>Default output folders of <c>fflib train</c>: one per run, and runs/latest pointing at the newest.</summary>
internal static class RunFolders
{
    /// <summary>root/yyyyMMdd-HHmmss-MODEL-DATASET (UTC), with -2, -3, … added if that folder exists.</summary>
    public static string NewRunFolder(string root, string model, string dataset)
    {
        string stem = Path.Combine(root, $"{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{model}-{dataset}");
        string dir = stem;
        for (int i = 2; Directory.Exists(dir) || File.Exists(dir); i++) dir = $"{stem}-{i}";
        return dir;
    }

    /// <summary>Makes root/latest a link to <paramref name="runDir"/> (replacing an older link; a real folder of that name is left alone).</summary>
    public static void PointLatestAt(string root, string runDir)
    {
        string latest = Path.Combine(root, "latest");
        try
        {
            var info = new DirectoryInfo(latest);
            if (info.Exists && info.LinkTarget is null)
            {
                Console.Error.WriteLine($"note: {latest} is a folder (from an older version), so it was not pointed at {runDir}.");
                return;
            }
            if (info.LinkTarget is not null || File.Exists(latest)) File.Delete(latest);
            Directory.CreateSymbolicLink(latest, Path.GetRelativePath(root, runDir));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            Console.Error.WriteLine($"note: could not point {latest} at {runDir} ({e.Message}).");
        }
    }
}
