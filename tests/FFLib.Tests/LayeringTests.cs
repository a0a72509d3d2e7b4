using System.Diagnostics;
using Xunit;

namespace FFLib.Tests;

/// <summary>The library's namespaces stay layers: scripts/namespace-deps.py finds no cycle among them.</summary>
public sealed class LayeringTests
{
    /// <summary>The library speaks in API terms; only the command line names its options (Cli.InOptionTerms maps the few a message needs).</summary>
    [Fact]
    public void NoLibraryMessageNamesACommandLineOption()
    {
        string src = Path.Combine(TestUtil.RepoRoot(), "src", "FFLib");
        // A string literal holding --word: an option of fflib's (npm's --prefix in an install hint is another program's).
        var literal = new System.Text.RegularExpressions.Regex(@"\$?""[^""\n]*(?<![\w-])--(?!prefix\b)[a-z][a-z-]+[^""\n]*""");
        var found = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => !x.line.TrimStart().StartsWith("//", StringComparison.Ordinal) && literal.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToArray();
        // Known and kept: the sweep report's Table 5 note (its text is part of the reproduced reports, which stay byte-identical).
        Assert.Equal(["Experiments/SweepReport.cs"], found.Select(f => f.Split(':')[0]).Distinct());
    }

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
