using System.Globalization;
using FFLib.IO;

namespace FFLib.Cli;

/// <summary>Default output folders of <c>fflib train</c>, <c>prune</c> and <c>visualize</c>: one per command run, and runs/latest pointing at the newest training.</summary>
internal static class RunFolders
{
    /// <summary>
    /// Claims a new folder root/yyyyMMdd-HHmmss-NAME (UTC; -2, -3, … added on a clash) for this process:
    /// created and locked, and empty when locked, so two commands started in the same second never share one.
    /// </summary>
    public static (string Folder, FolderLock Lock) ClaimNew(string root, string name)
    {
        string stem = Path.Combine(root, $"{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{name}");
        for (int i = 1; i <= 1000; i++)
        {
            string dir = i == 1 ? stem : $"{stem}-{i}";
            if (File.Exists(dir) || new DirectoryInfo(dir).LinkTarget is not null || (Directory.Exists(dir) && HoldsFiles(dir))) continue;
            var held = FolderLock.TryAcquire(dir);
            if (held is null) continue; // another process claimed it a moment ago
            if (!HoldsFiles(dir)) return (dir, held);
            held.Dispose(); // a process that claimed it first has already finished there
        }
        throw new IOException($"no free folder {stem}-N among 1,000 tries; {root} may not allow locks (pass --out).");
    }

    /// <summary>Whether a folder holds anything besides its lock file.</summary>
    private static bool HoldsFiles(string dir) => Directory.EnumerateFileSystemEntries(dir).Any(e => Path.GetFileName(e) != FolderLock.FileName);

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
