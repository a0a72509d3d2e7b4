using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>A run some worker holds a claim on.</summary>
/// <param name="Id">The run.</param>
/// <param name="Worker">Who holds it.</param>
/// <param name="HeartbeatAge">How long since its last heartbeat.</param>
/// <param name="Stale">Older than the timeout asked about: the next worker takes it over.</param>
/// <param name="Checkpoint">Where its checkpoint stands ("epoch 3", "epoch 4, batch 120"), if it has one.</param>
/// <param name="ClockNote">Set when the claim's heartbeat lies in this machine's future (its age then comes from the file's time, or cannot be told).</param>
/// <param name="Description">What the run is (model, dataset, the settings it uses), from its claim or checkpoint; null when neither says.</param>
public sealed record ClaimedRun(string Id, string Worker, TimeSpan HeartbeatAge, bool Stale, string? Checkpoint, string? ClockNote = null, string? Description = null);

/// <summary>A run with a checkpoint and no claim: interrupted, waiting for a worker.</summary>
/// <param name="Id">The run.</param>
/// <param name="Checkpoint">Where its checkpoint stands.</param>
/// <param name="Description">What the run is, from its checkpoint.</param>
public sealed record InterruptedRun(string Id, string Checkpoint, string? Description);

/// <summary>
/// What a results folder says about a sweep in progress, read without changing anything: finished
/// records by status, runs being trained (claims, their heartbeats and checkpoints), runs with a
/// checkpoint but no claim (interrupted, waiting for a worker), and files that are not records.
/// </summary>
/// <param name="Completed">Completed runs.</param>
/// <param name="Diverged">Runs that diverged.</param>
/// <param name="Claimed">Runs held by a worker now (or by a dead one, <see cref="ClaimedRun.Stale"/>).</param>
/// <param name="Interrupted">Runs with a checkpoint in work/ and no claim, with where they stand.</param>
/// <param name="Skipped">Files in runs/ that are not run records.</param>
/// <param name="Workers">Workers that have left a log in workers/.</param>
public sealed record SweepStatus(int Completed, int Diverged, IReadOnlyList<ClaimedRun> Claimed, IReadOnlyList<InterruptedRun> Interrupted,
    IReadOnlyList<SkippedRecord> Skipped, int Workers)
{
    /// <summary>Reads the folder; a claim is stale when its heartbeat is older than <paramref name="claimTimeout"/>.</summary>
    public static SweepStatus Read(string resultsDir, TimeSpan claimTimeout)
    {
        var results = SweepResults.Read(resultsDir);
        var claimed = new List<ClaimedRun>();
        string claimsDir = Path.Combine(resultsDir, "claims"), workDir = Path.Combine(resultsDir, "work");
        var held = new HashSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(claimsDir))
        {
            foreach (var g in RunClaims.Files(claimsDir).GroupBy(f => f.Id, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                string path = g.MaxBy(f => f.Generation).Path;
                var (owner, heartbeat) = RunClaims.ReadClaim(path);
                var now = DateTime.UtcNow;
                var (age, trusted) = RunClaims.ClaimAge(path, heartbeat, now, claimTimeout / 6);
                string? note = heartbeat <= now + claimTimeout / 6 ? null
                    : trusted ? $"its heartbeat is {(heartbeat - now).TotalSeconds:F0} s in this machine's future; aged by its file time"
                    : $"its heartbeat and file time are in this machine's future; workers take it over once it has stayed unchanged for {claimTimeout.TotalSeconds:F0} s";
                held.Add(g.Key);
                var (at, described) = Where(workDir, g.Key);
                claimed.Add(new ClaimedRun(g.Key, owner, age < TimeSpan.Zero ? TimeSpan.Zero : age, trusted && age >= claimTimeout, at, note,
                    RunClaims.ReadDescription(path) ?? described));
            }
        }
        var interrupted = new List<InterruptedRun>();
        if (Directory.Exists(workDir))
            foreach (var d in Directory.EnumerateDirectories(workDir).Select(Path.GetFileName).Order(StringComparer.Ordinal))
                if (!held.Contains(d!) && Where(workDir, d!) is (string at, var described)) interrupted.Add(new InterruptedRun(d!, at, described));
        string workersDir = Path.Combine(resultsDir, "workers");
        int workers = Directory.Exists(workersDir) ? Directory.EnumerateFiles(workersDir, "*.log").Count() : 0;
        return new SweepStatus(results.Records.Count(r => r.Status == "completed"), results.Records.Count(r => r.Status == "diverged"),
            claimed, interrupted, results.Skipped, workers);
    }

    /// <summary>Where a run's checkpoint stands and what the run is (from the checkpoint's settings); nulls when it has none.</summary>
    private static (string? At, string? Description) Where(string workDir, string id)
    {
        string ckpt = Path.Combine(workDir, id, TrainingCheckpoint.FileName);
        if (!File.Exists(ckpt) || new FileInfo(ckpt).LinkTarget is not null) return (null, null);
        try
        {
            var (spec, done, batches, _) = TrainingCheckpoint.ReadHeader(ckpt);
            return (batches is int b ? $"epoch {done + 1}, batch {b}" : $"after epoch {done}", spec is null ? null : SweepRunner.Describe(spec));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or EndOfStreamException)
        {
            return ("unreadable checkpoint", null);
        }
    }
}
