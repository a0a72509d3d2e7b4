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
        if (IsOwnTemporary(full))
        {
            // A file staged by this process (FileSet): nobody reads it before its commit, so it is written in place.
            string target = StagedTargets.TryGetValue(full, out var t) ? t : path;
            FileStream staged;
            try { staged = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16); }
            catch (UnauthorizedAccessException e)
            {
                throw new UnauthorizedAccessException($"{target} cannot be written: permission denied in {Path.GetDirectoryName(target)}.", e);
            }
            using var _ = staged;
            write(staged);
            staged.Flush(flushToDisk: true);
            return;
        }
        string tmp = TemporaryPath(full);
        try
        {
            using (var fs = CreateTemporary(tmp, path))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            if (Directory.Exists(full)) throw new IOException($"{path} is a folder; it was not replaced.");
            File.Move(tmp, full, overwrite: true);
        }
        catch (IOException e) when (e.Message.Contains(tmp, StringComparison.Ordinal))
        {
            // Name the file the caller asked for, not the hidden temporary beside it.
            throw new IOException($"{path} could not be written ({e.Message.Split(" : '")[0].Replace(tmp, path)}).", e);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
        RemoveStaleTemporaries(dir, Path.GetFileName(full));
    }

    /// <summary>
    /// Deletes the temporary files that earlier writes of the same target left behind when their
    /// process was killed (a checkpointing run preempted again and again would otherwise pile up
    /// one model-sized file per kill). Only files named by this class, for this target, whose
    /// process no longer runs here and which nobody has written to for <see cref="StaleAfter"/>
    /// (a folder shared between machines may hold another machine's write in progress, whose
    /// process id means nothing here); never the current process's own.
    /// </summary>
    internal static void RemoveStaleTemporaries(string dir, string name)
    {
        try
        {
            string prefix = $".{name}.";
            foreach (var file in Directory.EnumerateFiles(dir, $".{name}.*.tmp"))
            {
                // .{name}.{pid}.{32 hex digits}.tmp
                var rest = Path.GetFileName(file).AsSpan(prefix.Length);
                int dot = rest.IndexOf('.');
                if (dot <= 0 || !int.TryParse(rest[..dot], out int pid) || pid == Environment.ProcessId) continue;
                var tail = rest[(dot + 1)..];
                if (tail.Length != 36 || !tail.EndsWith(".tmp", StringComparison.Ordinal) || !Guid.TryParseExact(tail[..32], "N", out _)) continue;
                if (IsRunning(pid) || DateTime.UtcNow - File.GetLastWriteTimeUtc(file) < StaleAfter) continue;
                try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        catch (IOException) { } // cleaning up is best effort: the write itself has succeeded
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>How long a temporary file of a dead process must have been untouched before a later write removes it.</summary>
    public static TimeSpan StaleAfter { get; } = TimeSpan.FromMinutes(10);

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
        catch (System.ComponentModel.Win32Exception) { return true; } // exists but not ours to inspect: keep its file
    }

    /// <summary>Temporaries staged by a <see cref="FileSet"/> of this process, and the targets they stand for (errors name the target).</summary>
    internal static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> StagedTargets = new(StringComparer.Ordinal);

    /// <summary>Creates a temporary file; a folder that cannot be written to is reported by the target's name.</summary>
    internal static FileStream CreateTemporary(string tmp, string target)
    {
        try { return new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16); }
        catch (UnauthorizedAccessException e)
        {
            throw new UnauthorizedAccessException($"{target} cannot be written: permission denied in {Path.GetDirectoryName(Path.GetFullPath(target))}.", e);
        }
    }

    /// <summary>A hidden temporary name beside <paramref name="fullPath"/>, recognisable by <see cref="RemoveStaleTemporaries"/>.</summary>
    internal static string TemporaryPath(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath) ?? ".", $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    /// <summary>Whether a path is a temporary name of this process (.NAME.PID.GUID.tmp).</summary>
    private static bool IsOwnTemporary(string fullPath)
    {
        string name = Path.GetFileName(fullPath);
        string pid = "." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".";
        if (!name.StartsWith('.') || !name.EndsWith(".tmp", StringComparison.Ordinal) || name.Length < 38 + pid.Length) return false;
        var tail = name.AsSpan(name.Length - 37); // "." + 32 hex digits + ".tmp"
        return tail[0] == '.' && Guid.TryParseExact(tail.Slice(1, 32), "N", out _) && name.AsSpan(0, name.Length - 37).EndsWith(pid, StringComparison.Ordinal);
    }

    /// <summary>Writes UTF-8 text atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { var bytes = System.Text.Encoding.UTF8.GetBytes(text); s.Write(bytes); });
}
