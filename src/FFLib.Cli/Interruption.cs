using System.Runtime.InteropServices;

namespace FFLib.Cli;

/// <summary>
/// SIGTERM (Slurm preemption or time limit, Kubernetes eviction, kill) and SIGINT (Ctrl+C) as a
/// cancellation: the work stops at its next batch, keeps its last checkpoint, releases what it
/// holds, and the process exits with 128 + the signal's number (143, 130).
/// </summary>
internal sealed class Interruption : IDisposable
{
    private static int _exitCode = 1;
    private static string _hint = "run the same command again to continue where it stopped";
    private readonly CancellationTokenSource _cts = new();
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _int;

    /// <param name="hint">What the user can do next, printed with the "interrupted" error.</param>
    public Interruption(string? hint = null)
    {
        if (hint is not null) Volatile.Write(ref _hint, hint);
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => Stop(c, 143, "SIGTERM"));
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => Stop(c, 130, "SIGINT"));
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>The exit code for the signal received.</summary>
    public static int ExitCode => Volatile.Read(ref _exitCode);

    /// <summary>What to do after an interruption.</summary>
    public static string Hint => Volatile.Read(ref _hint);

    private void Stop(PosixSignalContext context, int code, string name)
    {
        // A second Ctrl+C ends the process at once; a repeated SIGTERM is expected (Slurm signals the
        // job's processes and the batch script forwards it too) and changes nothing.
        if (_cts.IsCancellationRequested && name == "SIGINT") return;
        context.Cancel = true;
        if (_cts.IsCancellationRequested) return;
        Volatile.Write(ref _exitCode, code);
        Console.Error.WriteLine($"fflib: {name} received; stopping after the current batch (Ctrl+C again stops at once)");
        _cts.Cancel();
    }

    public void Dispose()
    {
        _term.Dispose();
        _int.Dispose();
        _cts.Dispose();
    }
}
