namespace FFLib.IO;

/// <summary>
/// Exclusive use of an output folder for as long as it is held: an operating-system lock on the
/// hidden file <see cref="FileName"/> inside it, so two processes given the same folder cannot both
/// write there (the second is refused at once), and a killed process's lock goes with it (no stale
/// lock to clean up). Within one process the lock is re-entrant: a command that claims a folder
/// and then calls <see cref="Training.TrainingRun"/> on it holds it once. Advisory, as every
/// lock here is: it binds FFLib processes, not other programs.
/// </summary>
public sealed class FolderLock : IDisposable
{
    /// <summary>The lock file's name inside the folder.</summary>
    public const string FileName = ".fflib.lock";

    private static readonly Dictionary<string, (FileStream Handle, int Count)> Held = new(StringComparer.Ordinal);
    private readonly string _key;
    private bool _disposed;

    private FolderLock(string folder, string key)
    {
        Folder = folder;
        _key = key;
    }

    /// <summary>The folder held.</summary>
    public string Folder { get; }

    /// <summary>Creates <paramref name="folder"/> if needed and locks it; <see cref="FolderInUseException"/> when another process holds it.</summary>
    public static FolderLock Acquire(string folder) => TryAcquire(folder) ?? throw new FolderInUseException(folder);

    /// <summary>Creates <paramref name="folder"/> if needed and locks it; null when another process holds it.</summary>
    public static FolderLock? TryAcquire(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string full = Path.GetFullPath(folder);
        if (File.Exists(full)) throw new IOException($"{folder} is a file, not a folder.");
        lock (Held)
        {
            if (Held.TryGetValue(full, out var held))
            {
                Held[full] = (held.Handle, held.Count + 1);
                return new FolderLock(folder, full);
            }
            FileStream handle;
            try
            {
                Directory.CreateDirectory(full);
                // FileShare.None takes flock(LOCK_EX | LOCK_NB) on Unix: refused while another process holds it.
                handle = new FileStream(Path.Combine(full, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (UnauthorizedAccessException) { throw new UnauthorizedAccessException($"{folder} cannot be written to (permission denied)."); }
            catch (IOException) when (File.Exists(Path.Combine(full, FileName)) && !Directory.Exists(Path.Combine(full, FileName))) { return null; }
            Held[full] = (handle, 1);
            return new FolderLock(folder, full);
        }
    }

    /// <summary>Releases this hold; the lock itself goes with the process's last hold on the folder.</summary>
    public void Dispose()
    {
        lock (Held)
        {
            if (_disposed) return;
            _disposed = true;
            var (handle, count) = Held[_key];
            if (count > 1) { Held[_key] = (handle, count - 1); return; }
            Held.Remove(_key);
            // The file stays: deleting it would let a process that opened the old one and one that creates a new one both "hold" the folder.
            handle.Dispose();
        }
    }
}
