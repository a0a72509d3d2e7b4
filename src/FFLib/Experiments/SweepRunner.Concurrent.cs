using System.Runtime.ExceptionServices;
using FFLib.Compute;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>Several workers in one process (its own file: the single worker stays readable).</summary>
public static partial class SweepRunner
{
    /// <summary>
    /// Runs one worker per backend at once, each on its own thread, claiming runs from the same list
    /// exactly as separate worker processes would (named NAME.1, NAME.2, …). Meant for the streams of
    /// one GPU (<c>GpuBackend.CreateStream</c>): at the paper's batch size one training keeps a GPU
    /// waiting for kernel launches, and several fill it. A run's result does not depend on which
    /// worker trains it or what runs beside it. The first failure cancels the other workers (each
    /// checkpoints its run and releases its claim) and is rethrown; cancelling stops them all.
    /// </summary>
    public static SweepOutcome RunConcurrently(IReadOnlyList<RunSpec> runs, string resultsDir, IReadOnlyList<ComputeBackend> backends,
        SweepWorkerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(backends);
        if (backends.Count == 0) throw new ArgumentException("At least one backend is needed.", nameof(backends));
        if (backends.Distinct().Count() != backends.Count)
            throw new ArgumentException("Each concurrent worker needs a backend of its own (e.g. one stream of the GPU each); a backend appears twice.", nameof(backends));
        options ??= new SweepWorkerOptions();
        string name = options.Worker ?? RunClaims.NewWorkerName();
        if (backends.Count == 1) return Run(On(runs, backends[0]), resultsDir, options with { Worker = name }, cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var outcomes = new SweepOutcome?[backends.Count];
        var failures = new Exception?[backends.Count];
        var threads = backends.Select((backend, i) => new Thread(() =>
        {
            try { outcomes[i] = Run(On(runs, backend), resultsDir, options with { Worker = $"{name}.{i + 1}" }, stop.Token); }
            catch (Exception e)
            {
                failures[i] = e;
                stop.Cancel();
            }
        })
        { IsBackground = true, Name = $"sweep worker {name}.{i + 1}" }).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        cancellationToken.ThrowIfCancellationRequested();
        if (failures.FirstOrDefault(e => e is not null and not OperationCanceledException) is { } failure) ExceptionDispatchInfo.Throw(failure);
        var done = outcomes.OfType<SweepOutcome>().ToArray();
        // Runs a worker saw held by a sibling are finished by now; count what is left in the folder.
        int unfinished = runs.Select(RunId).Distinct().Count(id => !IsFinished(resultsDir, id, retryFailed: false, out _));
        return new SweepOutcome(done.SelectMany(o => o.Written).ToArray(), unfinished, done.SelectMany(o => o.Warnings).ToArray(), name);
    }

    private static RunSpec[] On(IReadOnlyList<RunSpec> runs, ComputeBackend backend) => runs.Select(r => r with { Backend = backend }).ToArray();
}
