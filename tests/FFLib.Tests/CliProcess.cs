using System.Diagnostics;
using Xunit;

namespace FFLib.Tests;

/// <summary>The CLI as a real process (for what only processes can show: locks, FIFOs, memory limits, exit codes).</summary>
internal static class CliProcess
{
    public sealed record Finished(int Code, string Out, string Err);

    /// <summary>Starts <c>dotnet FFLib.Cli.dll args…</c> in <paramref name="workingDirectory"/>, output captured.</summary>
    public static Process Start(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "FFLib.Cli.dll");
        Assert.True(File.Exists(cli), cli);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        psi.ArgumentList.Add(cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    /// <summary>Waits for a started process; a process still running after <paramref name="seconds"/> is killed and the test fails.</summary>
    public static Finished Wait(Process p, int seconds = 120)
    {
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"the process did not finish within {seconds} s (it hangs)");
        }
        p.WaitForExit();
        return new Finished(p.ExitCode, output.Result, error.Result);
    }

    /// <summary>Runs the CLI to completion.</summary>
    public static Finished Run(string workingDirectory, params string[] args) => Wait(Start(workingDirectory, args));
}
