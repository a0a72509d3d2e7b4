using System.Text.Json;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>A file in a results folder that was not read as a run record, and why.</summary>
public sealed record SkippedRecord(string Path, string Reason);

/// <summary>
/// The run records of a results folder, read so that nothing in the folder can break the reading:
/// symbolic links are never followed, a file over <see cref="MaxRecordBytes"/> is not read, a record
/// must be well-formed, its id the hash of the settings it carries, and named after that id (so a
/// copy under another name is not counted twice), and every file that fails any of this is listed in <see cref="Skipped"/> with its reason
/// instead of stopping the whole read.
/// </summary>
public sealed record SweepResults(IReadOnlyList<RunRecord> Records, IReadOnlyList<SkippedRecord> Skipped)
{
    /// <summary>A record is a few KB (tens with sparsity tracking); anything past this is not one.</summary>
    public const long MaxRecordBytes = 16L << 20;

    /// <summary>Reads every <c>runs/*.json</c> of <paramref name="resultsDir"/>, records sorted by id.</summary>
    public static SweepResults Read(string resultsDir)
    {
        ArgumentException.ThrowIfNullOrEmpty(resultsDir);
        if (!Directory.Exists(resultsDir)) throw new DirectoryNotFoundException($"The results folder {resultsDir} does not exist.");
        string runsDir = Path.Combine(resultsDir, "runs");
        if (!Directory.Exists(runsDir)) throw new DirectoryNotFoundException($"{resultsDir} holds no runs/ folder: is it a sweep results folder?");
        var records = new SortedDictionary<string, RunRecord>(StringComparer.Ordinal);
        var skipped = new List<SkippedRecord>();
        foreach (var path in Directory.EnumerateFileSystemEntries(runsDir, "*.json").Order(StringComparer.Ordinal))
        {
            if (Path.GetFileName(path).StartsWith('.')) continue; // a write in progress
            var (record, problem) = TryRead(path);
            if (record is null) skipped.Add(new SkippedRecord(path, problem!));
            else if (!records.TryAdd(record.Id, record)) skipped.Add(new SkippedRecord(path, $"a second record of run {record.Id}"));
        }
        return new SweepResults(records.Values.ToArray(), skipped);
    }

    /// <summary>Reads one record file: the record, or null and the reason it is not one.</summary>
    public static (RunRecord? Record, string? Problem) TryRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FileSystemInfo info = new FileInfo(path);
        if (!info.Exists && Directory.Exists(path)) return (null, "a folder, not a record file");
        if (info.LinkTarget is string target) return (null, $"a symbolic link (to {target}); records are never read through links");
        if (!info.Exists) return (null, "it no longer exists");
        long length = ((FileInfo)info).Length;
        if (length > MaxRecordBytes) return (null, $"{length / (1 << 20)} MB; a run record is a few KB (limit {MaxRecordBytes >> 20} MB)");
        RunRecord? r;
        try
        {
            r = JsonSerializer.Deserialize<RunRecord>(File.ReadAllBytes(path), TrainingCheckpoint.Json);
        }
        catch (JsonException e) { return (null, $"not a run record ({e.Message.Split(" Path:")[0].TrimEnd('.')})"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return (null, $"cannot be read ({e.Message})"); }
        if (r is null) return (null, "not a run record (it holds null)");
        string? missing = r.Id is null ? "id" : r.Status is null ? "status" : r.Architecture is null ? "architecture" : r.Dataset is null ? "dataset"
            : r.Layers is null ? "layers" : r.Loss is null ? "loss" : r.FinishedUtc is null ? "finishedUtc" : null;
        if (missing is not null) return (null, $"not a run record: '{missing}' is missing");
        if (r.Status is not ("completed" or "diverged" or "failed")) return (null, $"not a run record: unknown status '{r.Status}'");
        if (r.Status == "completed" && r.TestAccuracy is not (>= 0 and <= 1)) return (null, "not a run record: a completed run without a test accuracy in [0, 1]");
        // The id is the hash of the run's settings: a record edited, forged or made for another grid under a borrowed id is not counted.
        if (r.Settings is null) return (null, "not a run record of this version: it carries no settings to check its id against (written by an earlier FFLib version; the next sweep on this folder sets it aside and trains the run again)");
        string hashed;
        try { hashed = SweepRunner.IdOf(r.Settings); }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException) { return (null, "not a run record: its settings cannot be read"); }
        if (hashed != r.Id) return (null, $"its id {r.Id} is not the hash of its own settings ({hashed}): edited, or copied from another run");
        string stem = Path.GetFileNameWithoutExtension(path);
        if (stem != r.Id) return (null, $"holds run {r.Id} but is named {Path.GetFileName(path)} (a copy? records are named after their run id)");
        return (r, null);
    }
}
