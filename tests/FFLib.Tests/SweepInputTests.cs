using FFLib.Experiments;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// A sweep request is checked whole before the first run; a results folder with damaged, hostile or
/// foreign files is read without following links or loading giants, and every bad file is named.
/// </summary>
[Collection("RealData")]
public sealed class SweepInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-sweep-input-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliTestsAccess.Run(args);

    [Theory]
    [InlineData("--grid lr=", "--grid lr lists no values")]
    [InlineData("--grid lr=,,", "--grid lr lists no values")]
    [InlineData("--grid lr=0.1,,0.2", "--grid lr '0.1,,0.2' has an empty entry")]
    [InlineData("--grid lr=0.1 --grid lr=0.2", "--grid lr is given twice")]
    [InlineData("--grid lr=0.1,0.10", "--grid lists lr 0.1 twice")]
    [InlineData("--grid layers=2000x;500", "--grid layers: '2000x' is not a list of widths")]
    [InlineData("--grid layers=20x0", "'0' in '20x0' is not a width")]
    [InlineData("--grid lr=Infinity", "--grid lr: 'Infinity' is not a positive finite number")]
    [InlineData("--grid threshold=5,Infinity", "--grid threshold: 'Infinity': threshold must be a finite number")]
    [InlineData("--grid threshold=NaN", "'NaN': threshold must be a finite number")]
    [InlineData("--grid loss=min,minimum", "--grid loss: 'minimum' is not one of min, max")]
    [InlineData("--grid beta=0.5", "--grid varies beta, which none of its models (ffnn) has; it is a setting of ffrnn")]
    [InlineData("--grid k-train=0", "--grid k-train: '0': K_train must be at least 1")]
    [InlineData("--grid k_train=2 --grid k-train=3", "--grid k-train is given twice")]
    [InlineData("--grid dropout=0.1", "--grid: unknown parameter 'dropout' (lr, layers, threshold, loss, peer-norm, activity-l1, weight-decay, classifier-lr, beta, k-train, k-test-low, k-test-high, conv, label-encoding, goodness, head, objective, batch-norm)")]
    [InlineData("--model bpnn --grid peer-norm=0.1", "which none of its models (bpnn) has")]
    [InlineData("--grid depth=3", "unknown parameter 'depth'")]
    [InlineData("--batch-size 0", "--batch-size must be at least 1, not 0")]
    [InlineData("--train-limit 0", "--train-limit must be at least 1 image, not 0")]
    [InlineData("--test-limit -5", "--test-limit must be at least 1 image, not -5")]
    [InlineData("--epochs 0", "--epochs must be at least 1, not 0")]
    [InlineData("--seeds 0", "--seeds must be at least 1, not 0")]
    [InlineData("--grid layers=99999999x99999999", "more than one array can hold")]
    [InlineData("--seeds 1000000", "The grid holds 1,000,000 runs (more than 100,000); pass --yes")]
    [InlineData("--seeds 2147483647 --yes", "more than one sweep can hold")]
    [InlineData("--model ffnn,ffnn", "--model lists ffnn twice")]
    [InlineData("--model ffnn,", "--model 'ffnn,' has an empty entry")]
    [InlineData("--shards 4", "--shards 4 needs a shard index")]
    [InlineData("--shard 4/4", "--shard must be i/N with 0 ≤ i < N")]
    [InlineData("--claim-timeout 0", "--claim-timeout must be between 1 second and 7 days")]
    [InlineData("--checkpoint-every -1", "--checkpoint-every must be 0 (never) or a number of epochs")]
    [InlineData("--checkpoint-minutes 0", "--checkpoint-minutes must be a positive number of minutes")]
    public void EveryGridMistakeIsRefusedBeforeAnyRun(string options, string expected)
    {
        string results = Path.Combine(_dir, "never");
        var (code, _, err) = Run(["sweep", "--results", results, .. options.Split(' ')]);
        Assert.True(code == 2, $"exit {code}: {err}");
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n')); // one line
        Assert.DoesNotContain("(Parameter", err);
        Assert.False(Directory.Exists(results), "the results folder was created before the request was checked");
    }

    [Fact]
    public void AShardIndexFromTheEnvironmentIsCheckedStrictly()
    {
        string results = Path.Combine(_dir, "never");
        string? old = Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_ID");
        try
        {
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", "abc");
            var (code, _, err) = Run("sweep", "--results", results, "--shards", "4");
            Assert.Equal(2, code);
            Assert.Contains("SLURM_ARRAY_TASK_ID='abc' is not a shard index", err);
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", "4");
            (code, _, err) = Run("sweep", "--results", results, "--shards", "4");
            Assert.Equal(2, code);
            Assert.Contains("SLURM_ARRAY_TASK_ID=4 is not below 4", err);
            Assert.Contains("Leave out --shards", err);
            Assert.False(Directory.Exists(results));
        }
        finally { Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", old); }
    }

    [Fact]
    public void RunCountIsComputedWithoutBuildingTheGrid()
    {
        var spec = new SweepSpec { Models = [Architecture.Ffnn, Architecture.Bpnn], Thresholds = [1, 5, 20], LearningRates = [0.01f, 0.02f], Seeds = int.MaxValue };
        Assert.Equal((3L * 2 + 2) * int.MaxValue, spec.RunCount); // the BPNN ignores θ
        Assert.Throws<ArgumentOutOfRangeException>(spec.Validate);
        var small = spec with { Seeds = 3 };
        Assert.Equal(small.RunCount, small.Expand().Count);
    }

    /// <summary>A finished two-run sweep on synthetic data, then the files a damaged or hostile folder may hold.</summary>
    private string DamagedFolder(out string[] goodIds)
    {
        string data = SweepClusterTests.SyntheticMnist(Path.Combine(_dir, "data"), 200, 40);
        string results = Path.Combine(_dir, "results");
        var (code, _, err) = Run("sweep", "--grid", "layers=16x8", "--seeds", "2", "--epochs", "1", "--batch-size", "50", "--data-dir", data, "--results", results);
        Assert.True(code == 0, err);
        goodIds = SweepResults.Read(results).Records.Select(r => r.Id).ToArray();
        Assert.Equal(2, goodIds.Length);
        string runs = Path.Combine(results, "runs");
        File.WriteAllText(Path.Combine(runs, "0000000000000001.json"), "{ \"id\": "); // torn
        File.WriteAllText(Path.Combine(runs, "0000000000000002.json"), "{\"x\": 1}"); // valid JSON, wrong shape
        File.CreateSymbolicLink(Path.Combine(runs, "0000000000000003.json"), "/etc/passwd");
        File.Copy(Path.Combine(runs, goodIds[0] + ".json"), Path.Combine(runs, "copy of a record.json"));
        using (var big = File.Create(Path.Combine(runs, "0000000000000004.json"))) big.SetLength(17L << 20); // sparse: no disk used
        File.CreateSymbolicLink(Path.Combine(runs, "0000000000000005.json"), Path.Combine(_dir, "nowhere"));
        Directory.CreateDirectory(Path.Combine(runs, "0000000000000006.json"));
        return results;
    }

    [Fact]
    public void ReportSkipsEveryBadFileNamesItAndStillWritesTheReport()
    {
        string results = DamagedFolder(out var ids);
        var read = SweepResults.Read(results);
        Assert.Equal(ids.Order(), read.Records.Select(r => r.Id).Order());
        var reasons = read.Skipped.ToDictionary(s => Path.GetFileName(s.Path), s => s.Reason);
        Assert.Equal(7, reasons.Count);
        Assert.StartsWith("not a run record", reasons["0000000000000001.json"]);
        Assert.Equal("not a run record: 'id' is missing", reasons["0000000000000002.json"]);
        Assert.Contains("symbolic link (to /etc/passwd)", reasons["0000000000000003.json"]);
        Assert.Contains("is named copy of a record.json", reasons["copy of a record.json"]);
        Assert.Contains("17 MB", reasons["0000000000000004.json"]);
        Assert.Contains("symbolic link", reasons["0000000000000005.json"]);
        Assert.Contains("a folder", reasons["0000000000000006.json"]);

        var (code, md, err) = Run("report", "--results", results);
        Assert.Equal(6, code); // done, with warnings
        Assert.Contains("done with warnings: 7 file(s)", err);
        foreach (var name in reasons.Keys) Assert.Contains($"skipped {Path.Combine(results, "runs", name)}", err);
        Assert.Contains("## Files skipped", md);
        Assert.Contains("(n=2)", md); // the copy is not counted as a third seed
        Assert.DoesNotContain("root:", md);
        Assert.Equal(md.TrimEnd(), File.ReadAllText(Path.Combine(results, "report.md")).TrimEnd());
    }

    [Fact]
    public void SweepMovesAsideWhatSitsInARunsPlaceAndTrainsIt()
    {
        string results = DamagedFolder(out var ids);
        string runs = Path.Combine(results, "runs");
        // A dangling link and a torn file in the two runs' own record slots.
        File.Delete(Path.Combine(runs, ids[0] + ".json"));
        File.CreateSymbolicLink(Path.Combine(runs, ids[0] + ".json"), Path.Combine(_dir, "gone"));
        File.WriteAllText(Path.Combine(runs, ids[1] + ".json"), "{ torn");
        string data = Path.Combine(_dir, "data");
        var (code, _, err) = Run("sweep", "--grid", "layers=16x8", "--seeds", "2", "--epochs", "1", "--batch-size", "50", "--data-dir", data, "--results", results);
        Assert.True(code == 0, err);
        Assert.Contains("moved to", err);
        var read = SweepResults.Read(results);
        Assert.Equal(ids.Order(), read.Records.Select(r => r.Id).Order());
        Assert.All(read.Records, r => Assert.Equal("completed", r.Status));
        var aside = Directory.GetFileSystemEntries(Path.Combine(runs, "bad")).Select(Path.GetFileName).ToArray();
        Assert.Equal(2, aside.Length); // kept, not deleted
        Assert.Contains(aside, a => a!.StartsWith(ids[0] + ".json.", StringComparison.Ordinal));
        // Rerunning with everything done trains nothing and succeeds (array tasks are not marked failed).
        (code, var output, err) = Run("sweep", "--grid", "layers=16x8", "--seeds", "2", "--epochs", "1", "--batch-size", "50", "--data-dir", data, "--results", results);
        Assert.True(code == 0, err);
        Assert.Contains("trained 0", output);
    }
}
