using System.Globalization;
using System.Text.Json.Nodes;
using FFLib.IO;

namespace FFLib.Experiments;

/// <summary>
/// Claims on the runs of a results folder, so that any number of workers on any number of machines
/// divide one grid without training a run twice. A claim on run ID is a file
/// <c>claims/ID.gG.claim</c> (generation G = 0, 1, …) created exclusively, holding the worker's name,
/// host, process id and a heartbeat time that its owner rewrites every <see cref="HeartbeatInterval"/>.
/// A claim whose newest heartbeat is older than <see cref="Timeout"/> is stale: the next worker
/// takes the run over by creating generation G + 1, which only one worker can do. An owner that
/// finds a newer generation, or its own file gone, has lost the run and stops training it.
/// What this relies on (docs/sweeps.md): exclusive create and rename are atomic on the shared
/// file system (local disks, NFSv3 and later), and the machines' clocks agree to well within the timeout.
/// </summary>
public sealed class RunClaims
{
    private readonly string _dir;

    /// <summary>Claims in <paramref name="resultsDir"/>/claims for the worker named <paramref name="worker"/>.</summary>
    public RunClaims(string resultsDir, string worker, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(resultsDir);
        ArgumentException.ThrowIfNullOrEmpty(worker);
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The claim timeout must be positive.");
        _dir = Path.Combine(resultsDir, "claims");
        Worker = worker;
        Timeout = timeout;
        Directory.CreateDirectory(_dir);
    }

    /// <summary>This worker's name (host, process id and a random part: unique across machines and restarts).</summary>
    public string Worker { get; }

    /// <summary>How old a heartbeat may be before its claim is taken over.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>How often an owner renews its claims: a sixth of the timeout.</summary>
    public TimeSpan HeartbeatInterval => Timeout / 6;

    /// <summary>A worker name for this process: host-pid-random.</summary>
    public static string NewWorkerName() =>
        $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6]}";

    /// <summary>
    /// Claims run <paramref name="id"/> for this worker: null when a live worker holds it
    /// (<paramref name="holder"/> names it). <paramref name="takenOver"/> names the stale owner replaced, if any.
    /// </summary>
    /// <remarks><paramref name="description"/>, when given, is written into the claim for <c>fflib status</c> (what the run is, in words).</remarks>
    public RunClaim? TryAcquire(string id, out string? holder, out string? takenOver, string? description = null)
    {
        holder = null;
        takenOver = null;
        var (gen, path) = Newest(id);
        if (path is not null)
        {
            var (owner, heartbeat) = ReadClaim(path);
            if (Age(path, heartbeat) < Timeout) { holder = owner; return null; }
            takenOver = owner;
        }
        var claim = new RunClaim(this, id, gen + 1, Path.Combine(_dir, $"{id}.g{gen + 1}.claim"), description);
        try
        {
            using var fs = new FileStream(claim.Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            fs.Write(System.Text.Encoding.UTF8.GetBytes(claim.Content(DateTime.UtcNow)));
            fs.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(claim.Path) || Directory.Exists(claim.Path))
        {
            // Another worker created this generation first: the run is theirs.
            holder = ReadClaim(claim.Path).Owner;
            takenOver = null;
            return null;
        }
        claim.Start();
        return claim;
    }

    // Claims whose heartbeat and file time both lie in the future, by when this worker first saw them unchanged.
    private readonly Dictionary<(string Path, DateTime Heartbeat, DateTime FileTime), DateTime> _firstSeen = [];

    /// <summary>
    /// How old a claim is as this machine sees it. Its heartbeat, unless that lies in the future (another
    /// machine's clock runs ahead, or the file was forged): then the file's modification time, and when
    /// that is in the future too, how long this worker has seen the claim unchanged. A future time is
    /// never trusted, so no claim stays fresh for ever.
    /// </summary>
    internal TimeSpan Age(string path, DateTime heartbeat)
    {
        var now = DateTime.UtcNow;
        var (age, trusted) = ClaimAge(path, heartbeat, now, HeartbeatInterval);
        if (trusted) return age;
        var key = (path, heartbeat, FileTime(path));
        lock (_firstSeen)
        {
            if (!_firstSeen.TryGetValue(key, out var first)) _firstSeen[key] = first = now;
            return now - first;
        }
    }

    /// <summary>
    /// A claim's age from its heartbeat, or from its file time when the heartbeat is more than
    /// <paramref name="slack"/> ahead of <paramref name="now"/>; <c>Trusted</c> false when both are ahead.
    /// </summary>
    internal static (TimeSpan Age, bool Trusted) ClaimAge(string path, DateTime heartbeat, DateTime now, TimeSpan slack)
    {
        if (heartbeat <= now + slack) return (now - heartbeat, true);
        var fileTime = FileTime(path);
        if (fileTime <= now + slack) return (now - fileTime, true);
        return (TimeSpan.Zero, false);
    }

    private static DateTime FileTime(string path) =>
        Directory.Exists(path) ? Directory.GetLastWriteTimeUtc(path) : File.Exists(path) ? File.GetLastWriteTimeUtc(path) : DateTime.MinValue;

    /// <summary>Generations above this are not read as claims: no run is taken over a million times, and G + 1 must not overflow.</summary>
    internal const int MaxGeneration = 1_000_000;

    /// <summary>The newest generation of run <paramref name="id"/>'s claim (−1 and null when unclaimed).</summary>
    internal (int Generation, string? Path) Newest(string id)
    {
        (int Generation, string? Path) newest = (-1, null);
        foreach (var f in Files(_dir, id))
            if (f.Generation > newest.Generation) newest = (f.Generation, f.Path);
        return newest;
    }

    /// <summary>Every claim file of run <paramref name="id"/> up to generation <paramref name="upTo"/>.</summary>
    internal IEnumerable<string> Generations(string id, int upTo) => Files(_dir, id).Where(f => f.Generation <= upTo).Select(f => f.Path).ToArray();

    /// <summary>The claim files (ID.gG.claim) in <paramref name="claimsDir"/>, of one run or, with <paramref name="id"/> null, of all.</summary>
    internal static IEnumerable<(string Id, int Generation, string Path)> Files(string claimsDir, string? id = null)
    {
        // Folders too: a folder where a claim file belongs is a damaged claim (taken over after the timeout), not a reason to stop.
        foreach (var f in Directory.EnumerateFileSystemEntries(claimsDir, (id ?? "*") + ".g*.claim"))
        {
            string name = System.IO.Path.GetFileName(f);
            int dot = name.LastIndexOf(".g", StringComparison.Ordinal);
            if (dot > 0 && (id is null || dot == id.Length)
                && int.TryParse(name.AsSpan(dot + 2, name.Length - dot - 2 - ".claim".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int g)
                && g <= MaxGeneration)
                yield return (name[..dot], g, f);
        }
    }

    /// <summary>The description a claim file carries (<see cref="TryAcquire"/>), or null.</summary>
    internal static string? ReadDescription(string path)
    {
        try
        {
            if (!File.Exists(path) || new FileInfo(path).Length is 0 or >= 65536) return null;
            return JsonNode.Parse(File.ReadAllText(path)) is JsonObject o && o["describe"] is JsonValue v && v.TryGetValue<string>(out var d) ? d : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Owner and heartbeat of a claim file; an unreadable one (its writer died mid-write) counts from its modification time.</summary>
    internal static (string Owner, DateTime Heartbeat) ReadClaim(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Length is > 0 and < 65536 && JsonNode.Parse(File.ReadAllText(path)) is JsonObject o
                && o["worker"]?.GetValue<string>() is string w
                && DateTime.TryParse(o["heartbeat_utc"]?.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var hb))
                return (w, hb.ToUniversalTime());
            return ("(unreadable claim)", info.LastWriteTimeUtc);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return ("(unreadable claim)", FileTime(path));
        }
    }
}
