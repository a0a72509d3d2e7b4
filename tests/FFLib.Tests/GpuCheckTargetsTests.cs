using System.Diagnostics;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The GPU check's closing table (bench/gpu/targets.py) on known output: the H200 run recorded in
/// docs/measurements (run 8), and a machine without a GPU. Each verdict follows from the figures.
/// </summary>
public sealed class GpuCheckTargetsTests
{
    private static string[] Targets(string check, string torch)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(TestUtil.RepoRoot(), "bench", "gpu", "targets.py"), check, torch }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"targets.py failed ({p.ExitCode}): {err.Result}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string Row(string[] table, string figure) => Assert.Single(table, l => l.StartsWith(figure + " ", StringComparison.Ordinal));

    [Fact]
    public void TheH200RunIsJudgedFigureByFigure()
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gpu-check");
        var table = Targets(Path.Combine(fixtures, "h200-run8-check.txt"), Path.Combine(fixtures, "h200-run8-torch.txt"));
        // Epochs 0.304, 0.314, 0.296 s: median 0.304 > 0.25. PyTorch 1.765, 1.602: median 1.6835 (printed 1.683), 5.54× slower.
        Assert.Matches(@"0\.304 s +≤ 0\.25 s +MISSED", Row(table, "FFNN 2×2000 epoch (median)"));
        Assert.Matches(@"5\.54× faster \(1\.683 s\) +≥ 2× +met", Row(table, "FFNN epoch vs PyTorch, same GPU"));
        Assert.Matches(@"0\.035 s \(first 0\.080 s\) +≤ 0\.05 s +met", Row(table, "FFNN predict 10,000 (second call)"));
        Assert.Matches(@"17\.3 s, 98\.11 % +≤ 30 s, 98\.0–98\.3 % +met", Row(table, "paper FFNN, 60 epochs"));
        Assert.Matches(@"0\.454 s +≤ 0\.25 s +MISSED", Row(table, "BPNN epoch"));
        Assert.Matches(@"0\.304 s +≤ 0\.25 s +MISSED", Row(table, "FFNN+C FF epoch"));
        Assert.Matches(@"0\.195 s +≤ 0\.25 s +met", Row(table, "FFNN+C classifier epoch"));
        Assert.Matches(@"3\.06 s +≤ 5 s +met", Row(table, "FFRNN epoch"));
        Assert.Matches(@"0\.51 s +≤ 1 s +met", Row(table, "FFRNN predict 10,000"));
        Assert.Matches(@"– +≥ 10× +not run", Row(table, "runs per hour, four streams vs PyTorch one after another"));
        Assert.Equal("targets: 6 met, 3 missed, 1 not run", table[^1]);
    }

    [Fact]
    public void NoGpuMeansEveryTargetNotRunNoneEstimated()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-targets-").FullName;
        try
        {
            string check = Path.Combine(dir, "check.txt");
            File.WriteAllText(check, "machine: 2 cores\nno GPU: no CUDA device was found (is the NVIDIA driver installed and a GPU visible?)\n");
            var table = Targets(check, Path.Combine(dir, "missing-torch-output.txt"));
            Assert.Equal("targets: 0 met, 0 missed, 10 not run", table[^1]);
            Assert.All(table[1..^1], row => Assert.EndsWith("not run", row));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
