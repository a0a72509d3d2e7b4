using System.Formats.Tar;
using System.IO.Compression;

namespace FFLib.Data;

/// <summary>
/// Safe extraction of .tar.gz archives: only regular files and folders are written; an entry
/// with an absolute path, a ".." step, or a link is refused before anything lands outside the
/// target folder, and each file is written to a temporary name and renamed when complete.
/// </summary>
public static class ArchiveExtractor
{
    /// <summary>Largest single entry accepted (CIFAR-10's biggest file is 30 MB).</summary>
    public const long MaxEntryBytes = 1L << 30;

    /// <summary>Extracts <paramref name="archivePath"/> (gzip-compressed tar) into <paramref name="targetFolder"/>.</summary>
    public static void ExtractTarGz(string archivePath, string targetFolder)
    {
        ArgumentNullException.ThrowIfNull(archivePath);
        ArgumentNullException.ThrowIfNull(targetFolder);
        string root = Path.GetFullPath(targetFolder);
        Directory.CreateDirectory(root);
        string rootWithSep = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        try
        {
            using var fs = File.OpenRead(archivePath);
            using var gz = new GZipStream(fs, CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            TarEntry? entry;
            while ((entry = tar.GetNextEntry()) is not null)
            {
                string name = entry.Name.Replace('\\', '/');
                if (name.Length == 0) continue;
                if (name.StartsWith('/') || Path.IsPathRooted(name) || name.Split('/').Any(p => p == ".."))
                    throw new InvalidDataException($"{archivePath}: entry '{entry.Name}' would be written outside the target folder; the archive is refused.");
                string dest = Path.GetFullPath(Path.Combine(root, name));
                if (!dest.StartsWith(rootWithSep, StringComparison.Ordinal) && dest != root)
                    throw new InvalidDataException($"{archivePath}: entry '{entry.Name}' would be written outside the target folder; the archive is refused.");
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        Directory.CreateDirectory(dest);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        if (entry.Length > MaxEntryBytes) throw new InvalidDataException($"{archivePath}: entry '{entry.Name}' claims {entry.Length} bytes, more than the {MaxEntryBytes}-byte limit.");
                        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
                        string tmp = dest + ".part";
                        using (var output = File.Create(tmp))
                            entry.DataStream?.CopyTo(output);
                        File.Move(tmp, dest, overwrite: true);
                        break;
                    case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                        throw new InvalidDataException($"{archivePath}: entry '{entry.Name}' is a link ({entry.EntryType}); links are refused.");
                    default:
                        // Global/extended headers and other metadata entries carry no files.
                        break;
                }
            }
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(archivePath, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{archivePath}: not a valid .tar.gz archive ({e.Message}).", e);
        }
        catch (Exception e) when (e is FormatException or EndOfStreamException or ArgumentException or OverflowException)
        {
            // Truncated or garbled headers surface as these from TarReader and the path APIs.
            throw new InvalidDataException($"{archivePath}: not a valid .tar.gz archive ({e.Message}).", e);
        }
    }
}
