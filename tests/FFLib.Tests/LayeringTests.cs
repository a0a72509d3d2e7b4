using System.Diagnostics;
using Xunit;

namespace FFLib.Tests;

/// <summary>The library's namespaces stay layers: scripts/namespace-deps.py finds no cycle among them.</summary>
public sealed class LayeringTests
{
    [Fact]
    public void NoNamespaceOfTheLibraryDependsOnOneThatDependsOnIt()
    {
        string root = TestUtil.RepoRoot();
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(root, "scripts", "namespace-deps.py"));
        psi.ArgumentList.Add(Path.Combine(root, "src", "FFLib"));
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        Assert.Contains("Models -> Compute", output); // it saw the library's edges
        Assert.Contains("0 two-way pair(s): none", output);
        Assert.Contains("0 group(s) of namespaces that depend on each other in a cycle: none", output);
    }
}
