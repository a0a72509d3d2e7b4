namespace FFLib.IO;

/// <summary>
/// Crash-safe file writes: the content goes to a temporary file in the same folder, is flushed
/// to disk, and is then renamed over the target. A reader sees the old file or the new one,
/// never a torn one.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes a file atomically through a stream callback.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes UTF-8 text atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { var bytes = System.Text.Encoding.UTF8.GetBytes(text); s.Write(bytes); });
}
