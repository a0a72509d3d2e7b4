namespace FFLib.IO;

/// <summary>
/// Several files replaced together: each is written in full under a hidden temporary name beside
/// its target (<see cref="Stage"/>), and only when all are written does <see cref="Commit"/> rename
/// them over their targets. A failure while writing (a full disk, an exception in a writer) leaves
/// every target as it was; disposing an uncommitted set deletes its temporaries. The renames
/// themselves need no space and cannot fail for lack of it; only a crash in the middle of them
/// (milliseconds) can leave a mix, and then every file is still a whole old or whole new one.
/// </summary>
public sealed class FileSet : IDisposable
{
    private readonly List<(string Temporary, string Target)> _staged = [];
    private bool _committed;

    /// <summary>A temporary path to write <paramref name="target"/>'s new content to; the folder is created.</summary>
    public string Stage(string target)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        if (_committed) throw new InvalidOperationException("This file set was already committed.");
        string full = Path.GetFullPath(target);
        if (_staged.Any(s => s.Target == full)) throw new ArgumentException($"{target} is already part of this file set.", nameof(target));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = AtomicFile.TemporaryPath(full);
        _staged.Add((tmp, full));
        AtomicFile.StagedTargets[tmp] = target;
        return tmp;
    }

    /// <summary>Stages <paramref name="target"/> and writes <paramref name="text"/> (UTF-8) to its temporary file, flushed to disk.</summary>
    public void WriteAllText(string target, string text)
    {
        string tmp = Stage(target);
        using var fs = AtomicFile.CreateTemporary(tmp, target);
        fs.Write(System.Text.Encoding.UTF8.GetBytes(text));
        fs.Flush(flushToDisk: true);
    }

    /// <summary>Renames every staged file over its target, in the order staged (stage the file that marks completion last).</summary>
    public void Commit()
    {
        if (_committed) throw new InvalidOperationException("This file set was already committed.");
        foreach (var (tmp, target) in _staged)
        {
            if (!File.Exists(tmp)) throw new InvalidOperationException($"{target} was staged but never written.");
            // Checked for all before any rename: a rename over a folder fails, and the set must not land in part.
            if (Directory.Exists(target)) throw new IOException($"{target} is a folder; nothing of this set was written.");
        }
        foreach (var (tmp, target) in _staged) File.Move(tmp, target, overwrite: true);
        _committed = true;
        foreach (var (tmp, _) in _staged) AtomicFile.StagedTargets.TryRemove(tmp, out _);
        foreach (var dir in _staged.Select(s => (Path.GetDirectoryName(s.Target)!, Path.GetFileName(s.Target))).Distinct())
            AtomicFile.RemoveStaleTemporaries(dir.Item1, dir.Item2);
    }

    /// <summary>Deletes the temporaries of an uncommitted set.</summary>
    public void Dispose()
    {
        if (_committed) return;
        foreach (var (tmp, _) in _staged)
        {
            AtomicFile.StagedTargets.TryRemove(tmp, out _);
            try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        _staged.Clear();
    }
}
