using System.Globalization;
using System.Text.Json.Nodes;
using FFLib.IO;

namespace FFLib.Experiments;

/// <summary>
/// This worker's claim on one run: renewed in the background while held; <see cref="Lost"/> is
/// cancelled when another worker has taken the run over. Disposing releases it.
/// </summary>
public sealed class RunClaim : IDisposable
{
    private readonly RunClaims _owner;
    private readonly CancellationTokenSource _lost = new();
    private readonly string _token = Guid.NewGuid().ToString("N");
    private readonly DateTime _acquired = DateTime.UtcNow;
    private readonly Lock _gate = new(); // the heartbeat timer and Dispose never overlap
    private Timer? _timer;
    private bool _disposed;

    internal RunClaim(RunClaims owner, string id, int generation, string path, string? description = null)
    {
        Description = description;
        _owner = owner;
        Id = id;
        Generation = generation;
        Path = path;
    }

    /// <summary>The run's id.</summary>
    public string Id { get; }

    /// <summary>The claim's generation (0 for a first claim; more after takeovers).</summary>
    public int Generation { get; }

    /// <summary>What the run is, in words (written into the claim for <c>fflib status</c>), or null.</summary>
    public string? Description { get; }

    /// <summary>The claim file.</summary>
    public string Path { get; }

    /// <summary>Cancelled when the claim was found taken over (or its file removed).</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Who took the run over, once <see cref="Lost"/> is cancelled.</summary>
    public string? LostTo { get; private set; }

    internal string Content(DateTime heartbeat) => new JsonObject
    {
        ["run"] = Id,
        ["worker"] = _owner.Worker,
        ["host"] = Environment.MachineName,
        ["pid"] = Environment.ProcessId,
        ["token"] = _token,
        ["generation"] = Generation,
        ["acquired_utc"] = _acquired.ToString("o", CultureInfo.InvariantCulture),
        ["heartbeat_utc"] = heartbeat.ToString("o", CultureInfo.InvariantCulture),
        ["describe"] = Description,
    }.ToJsonString() + "\n";

    internal void Start() => _timer = new Timer(_ => Renew(), null, _owner.HeartbeatInterval, _owner.HeartbeatInterval);

    /// <summary>Checks the claim is still this worker's and writes a new heartbeat; false (and <see cref="Lost"/> cancelled) when it is not.</summary>
    public bool Renew()
    {
        lock (_gate) return RenewLocked();
    }

    private bool RenewLocked()
    {
        if (_disposed || _lost.IsCancellationRequested) return false;
        try
        {
            var (gen, newest) = _owner.Newest(Id);
            if (gen > Generation) return Lose(RunClaims.ReadClaim(newest!).Owner);
            if (!File.Exists(Path) || !File.ReadAllText(Path).Contains(_token, StringComparison.Ordinal)) return Lose("(claim file removed)");
            AtomicFile.WriteAllText(Path, Content(DateTime.UtcNow));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true; // a shared folder's hiccup: try again at the next beat; the timeout covers a long outage
        }
    }

    private bool Lose(string to)
    {
        LostTo = to;
        _lost.Cancel();
        return false;
    }

    /// <summary>Stops the heartbeat and deletes this claim's files (and older generations of the run), unless it was lost.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _timer?.Dispose();
            if (_lost.IsCancellationRequested) return;
            try
            {
                foreach (var f in _owner.Generations(Id, Generation))
                    try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            catch (IOException) { } // releasing is best effort: an unreleased claim expires after the timeout
        }
    }
}
