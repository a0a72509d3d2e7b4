using System.Runtime.InteropServices;

namespace FFLib.IO;

/// <summary>
/// What kind of file system entry a path names, asked without opening it: opening a FIFO for
/// reading blocks until some other process writes to it, so every reader of models, checkpoints
/// and data checks first that it was given a regular file.
/// </summary>
public static class FileKind
{
    /// <summary>
    /// "a regular file", "a folder", "a named pipe (FIFO)", "a character device", "a block device",
    /// "a socket", or null when nothing is there. Symbolic links are followed (a link to a model file is a model file).
    /// </summary>
    public static string? Describe(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!TryMode(path, out int mode)) return Directory.Exists(path) ? "a folder" : File.Exists(path) ? "a regular file" : null;
        if (mode < 0) return null;
        return (mode & 0xF000) switch
        {
            0x8000 => "a regular file",
            0x4000 => "a folder",
            0x1000 => "a named pipe (FIFO)",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "not a regular file",
        };
    }

    /// <summary>
    /// Throws unless <paramref name="path"/> is a regular file: <see cref="FileNotFoundException"/> when
    /// nothing is there, <see cref="InvalidDataException"/> naming what it is otherwise.
    /// <paramref name="what"/> starts the message ("Model file", "IDX file").
    /// </summary>
    public static void RequireRegularFile(string path, string what)
    {
        string? kind = Describe(path);
        if (kind is null) throw new FileNotFoundException($"{what} not found: {path}", path);
        if (kind != "a regular file") throw new InvalidDataException($"{what} {path} is {kind}, not a regular file; only regular files are read.");
    }

    /// <summary>
    /// st_mode through the runtime's own native shim (the call File.Exists makes): −1 when nothing is
    /// there; false where the shim is not available (Windows has no FIFOs to fear).
    /// </summary>
    private static bool TryMode(string path, out int mode)
    {
        mode = -1;
        if (OperatingSystem.IsWindows()) return false;
        try
        {
            // The shim's FileStatus: int32 Flags, int32 Mode (S_IFMT bits as POSIX), then sizes and times: 256 bytes cover it.
            var status = new byte[256];
            if (Stat(path, status) == 0) mode = BitConverter.ToInt32(status, 4);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] status);
}
