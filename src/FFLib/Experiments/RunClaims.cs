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
    public RunClaim? TryAcquire(string id, out string? holder, out string? takenOver)
    {
        holder = null;
        takenOver = null;
        var (gen, path) = Newest(id);
        if (path is not null)
        {
            var (owner, heartbeat) = ReadClaim(path);
            if (DateTime.UtcNow - heartbeat < Timeout) { holder = owner; return null; }
            takenOver = owner;
        }
        var claim = new RunClaim(this, id, gen + 1, Path.Combine(_dir, $"{id}.g{gen + 1}.claim"));
        try
        {
            using var fs = new FileStream(claim.Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            fs.Write(System.Text.Encoding.UTF8.GetBytes(claim.Content(DateTime.UtcNow)));
            fs.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(claim.Path))
        {
            // Another worker created this generation first: the run is theirs.
            holder = ReadClaim(claim.Path).Owner;
            takenOver = null;
            return null;
        }
        claim.Start();
        return claim;
    }

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
        foreach (var f in Directory.EnumerateFiles(claimsDir, (id ?? "*") + ".g*.claim"))
        {
            string name = System.IO.Path.GetFileName(f);
            int dot = name.LastIndexOf(".g", StringComparison.Ordinal);
            if (dot > 0 && (id is null || dot == id.Length)
                && int.TryParse(name.AsSpan(dot + 2, name.Length - dot - 2 - ".claim".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int g))
                yield return (name[..dot], g, f);
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
            return ("(unreadable claim)", File.Exists(path) ? File.GetLastWriteTimeUtc(path) : DateTime.MinValue);
        }
    }
}
