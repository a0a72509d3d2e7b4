using System.Formats.Tar;
using System.IO.Compression;

namespace FFLib.Data;

/// <summary>
/// Safe extraction of .tar.gz archives: only regular files and folders are written; an entry
/// with an absolute path, a ".." step, or a link is refused before anything lands outside the
/// target folder, and the archive is extracted whole into a fresh private folder before its
/// entries are renamed into place (so nothing already in the target, a planted link included, redirects a write).
/// </summary>
public static class ArchiveExtractor
{
    /// <summary>Largest single entry accepted (CIFAR-10's biggest file is 30 MB).</summary>
    public const long MaxEntryBytes = 1L << 30;

    /// <summary>Largest metadata entry (PAX extended header, GNU long name) accepted.</summary>
    public const long MaxMetadataBytes = 1 << 20;

    /// <summary>
    /// Walks the tar headers (512-byte blocks) without TarReader and rejects metadata entries
    /// larger than <see cref="MaxMetadataBytes"/>; stops quietly at anything it cannot follow,
    /// leaving the real errors to the extraction pass.
    /// </summary>
    private static void CheckMetadataSizes(string archivePath)
    {
        using var fs = File.OpenRead(archivePath);
        using var gz = new GZipStream(fs, CompressionMode.Decompress);
        var header = new byte[512];
        var skip = new byte[1 << 16];
        while (true)
        {
            if (!ReadBlock(gz, header)) return;
            if (header.All(b => b == 0)) return;
            if (!TryParseSize(header.AsSpan(124, 12), out long size) || size < 0) return;
            char type = (char)header[156];
            if (type is 'x' or 'g' or 'L' or 'K' && size > MaxMetadataBytes)
                throw new InvalidDataException($"{archivePath}: a tar metadata entry ('{type}') claims {size} bytes, more than the {MaxMetadataBytes}-byte limit; the archive is refused.");
            long remaining = (size + 511) / 512 * 512;
            while (remaining > 0)
            {
                int n = gz.Read(skip, 0, (int)Math.Min(skip.Length, remaining));
                if (n == 0) return;
                remaining -= n;
            }
        }
    }

    private static bool ReadBlock(Stream s, byte[] block)
    {
        int total = 0;
        while (total < block.Length)
        {
            int n = s.Read(block, total, block.Length - total);
            if (n == 0) return false;
            total += n;
        }
        return true;
    }

    /// <summary>Tar size field: octal digits (space/NUL padded) or, with the top bit set, big-endian base-256.</summary>
    private static bool TryParseSize(ReadOnlySpan<byte> field, out long size)
    {
        size = 0;
        if ((field[0] & 0x80) != 0)
        {
            for (int i = 1; i < field.Length; i++)
            {
                if (size > long.MaxValue >> 8) return false;
                size = (size << 8) | field[i];
            }
            return true;
        }
        bool any = false;
        foreach (byte b in field)
        {
            if (b is (byte)' ' or 0) { if (any) break; continue; }
            if (b < '0' || b > '7') return false;
            size = size * 8 + (b - '0');
            any = true;
        }
        return any;
    }

    /// <summary>
    /// Extracts <paramref name="archivePath"/> (gzip-compressed tar) into <paramref name="targetFolder"/>:
    /// first into a fresh private folder inside it, then each top-level entry is renamed into place,
    /// replacing whatever had its name (a symbolic link is replaced, never followed).
    /// </summary>
    public static void ExtractTarGz(string archivePath, string targetFolder)
    {
        ArgumentNullException.ThrowIfNull(archivePath);
        ArgumentNullException.ThrowIfNull(targetFolder);
        IO.FileKind.RequireRegularFile(archivePath, "Archive");
        string root = Path.GetFullPath(targetFolder);
        Directory.CreateDirectory(root);
        // Nothing can be waiting inside a folder made now under a random name: no link planted in the
        // cache beforehand can redirect a write.
        string staging = Path.Combine(root, $".extract-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            ExtractInto(archivePath, staging);
            foreach (var entry in Directory.EnumerateFileSystemEntries(staging).ToArray())
            {
                string dest = Path.Combine(root, Path.GetFileName(entry));
                var old = new FileInfo(dest);
                if (old.LinkTarget is not null || File.Exists(dest)) old.Delete(); // a link goes, not what it points to
                else if (Directory.Exists(dest)) Directory.Delete(dest, recursive: true);
                if (Directory.Exists(entry)) Directory.Move(entry, dest);
                else File.Move(entry, dest);
            }
        }
        finally
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); }
            catch (IOException) { } // the extraction's own error is the one to report
        }
    }

    private static void ExtractInto(string archivePath, string root)
    {
        string rootWithSep = root + Path.DirectorySeparatorChar;
        try
        {
            // TarReader buffers metadata entries (PAX headers, GNU long names) whole, sized by their
            // header, before it notices that the data are not there: check those sizes first.
            CheckMetadataSizes(archivePath);
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
                        using (var output = new FileStream(dest, FileMode.Create, FileAccess.Write, FileShare.None))
                            entry.DataStream?.CopyTo(output);
                        break;
                    case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                        throw new InvalidDataException($"{archivePath}: entry '{entry.Name}' is a link ({entry.EntryType}); links are refused.");
                    case TarEntryType.SparseFile:
                        throw new InvalidDataException($"{archivePath}: entry '{entry.Name}' is a GNU sparse file; only regular files and folders are extracted.");
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
        catch (Exception e) when (e is FormatException or EndOfStreamException or ArgumentException or OverflowException or NotSupportedException)
        {
            // Truncated or garbled headers (and entry kinds TarReader does not handle) surface as these from TarReader and the path APIs.
            throw new InvalidDataException($"{archivePath}: not a valid .tar.gz archive ({e.Message}).", e);
        }
    }
}
