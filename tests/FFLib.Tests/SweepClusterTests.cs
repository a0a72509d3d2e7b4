using System.Diagnostics;
using FFLib.Experiments;
using FFLib.IO;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Sweeps shared by many workers: real CLI processes on one results folder train each run once, a
/// killed worker's run is taken over after the claim timeout and ends bit-identical to an
/// uninterrupted one, SIGTERM leaves a checkpoint and a released claim. Synthetic MNIST-shaped
/// data keeps every run under a second or two.
/// </summary>
public sealed class SweepClusterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-cluster-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Random 28×28 images with labels i mod 10 in IDX form (train and t10k files) in <paramref name="dir"/>.</summary>
    internal static string SyntheticMnist(string dir, int train, int test)
    {
        Directory.CreateDirectory(dir);
        var r = new Compute.FFRandom(1);
        byte[] Images(int n) { var b = IdxReaderTests.Images(n, 28, 28); for (int i = 16; i < b.Length; i++) b[i] = (byte)r.NextInt(256); return b; }
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), Images(train));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), IdxReaderTests.Labels(Enumerable.Range(0, train).Select(i => (byte)(i % 10)).ToArray()));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), Images(test));
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), IdxReaderTests.Labels(Enumerable.Range(0, test).Select(i => (byte)(i % 10)).ToArray()));
        return dir;
    }

    private static Process StartCli(string args)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "FFLib.Cli.dll");
        Assert.True(File.Exists(cli), cli);
        var psi = new ProcessStartInfo("dotnet", $"\"{cli}\" {args}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        return Process.Start(psi)!;
    }

    private sealed record Finished(int Code, string Out, string Err);

    private static Finished Wait(Process p, Task<string> err, int seconds = 120)
    {
        string o = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(seconds * 1000)) { p.Kill(entireProcessTree: true); Assert.Fail("the worker did not finish"); }
        return new Finished(p.ExitCode, o, err.Result);
    }

    /// <summary>Lines "TIME VERB ID …" of every worker's log.</summary>
    private static string[][] WorkerLines(string results) =>
        Directory.GetFiles(Path.Combine(results, "workers"), "*.log").SelectMany(File.ReadAllLines).Select(l => l.Split(' ')).ToArray();

    [Fact]
    public void ConcurrentWorkerProcessesTrainEachRunExactlyOnce()
    {
        string data = SyntheticMnist(Path.Combine(_dir, "data"), 300, 50);
        string results = Path.Combine(_dir, "shared");
        // ffnn: 2 lr × 2 θ × 3 seeds = 12; bpnn: 2 lr × 3 seeds = 6.
        string args = $"sweep --model ffnn,bpnn --grid lr=0.01,0.02 --grid threshold=1,5 --grid layers=24x12 --seeds 3 --epochs 3 --batch-size 50 --threads 1 --data-dir \"{data}\" --results \"{results}\"";
        var workers = Enumerable.Range(0, 4).Select(_ => StartCli(args)).ToArray();
        var errs = workers.Select(w => w.StandardError.ReadToEndAsync()).ToArray();
        var done = workers.Select((w, i) => Wait(w, errs[i])).ToArray();
        Assert.All(done, d => Assert.True(d.Code == 0, d.Err));

        var records = SweepResults.Read(results);
        Assert.Empty(records.Skipped);
        Assert.Equal(18, records.Records.Count);
        var lines = WorkerLines(results);
        var started = lines.Where(l => l[1] == "started").Select(l => l[2]).ToArray();
        // Every run was trained once: one start and one completion per id, across all workers.
        Assert.Equal(18, started.Length);
        Assert.Equal(records.Records.Select(r => r.Id).Order(), started.Order());
        Assert.Equal(18, lines.Count(l => l[1] == "completed"));
        Assert.True(lines.Select(l => l[0]).Any(), "no worker log lines");
        Assert.Empty(Directory.GetFiles(Path.Combine(results, "claims"))); // every claim released
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(results, "work"))); // no checkpoint left behind

        // The same grid in one process gives the same report.
        string single = Path.Combine(_dir, "single");
        var one = StartCli(args.Replace(results, single));
        var alone = Wait(one, one.StandardError.ReadToEndAsync());
        Assert.True(alone.Code == 0, alone.Err);
        Assert.Equal(SweepReport.Markdown(SweepResults.Read(single).Records, out _, out _, out _),
            SweepReport.Markdown(records.Records, out _, out _, out _));
    }

    [Fact]
    public void AKilledWorkersRunIsTakenOverAndEndsBitIdentical()
    {
        string data = SyntheticMnist(Path.Combine(_dir, "data"), 2000, 50);
        // One run long enough to be killed in the middle (~40 epochs of a 256×128 net on 1,800 images).
        string Args(string results, double timeout) =>
            $"sweep --grid layers=256x128 --seeds 1 --epochs 40 --batch-size 100 --threads 1 --save-models --claim-timeout {timeout} --data-dir \"{data}\" --results \"{results}\"";
        string reference = Path.Combine(_dir, "reference");
        var r = StartCli(Args(reference, 300));
        var refRun = Wait(r, r.StandardError.ReadToEndAsync());
        Assert.True(refRun.Code == 0, refRun.Err);
        string id = Assert.Single(SweepResults.Read(reference).Records).Id;

        // Worker A is killed (SIGKILL: no chance to release anything) once it has checkpointed a few epochs.
        string shared = Path.Combine(_dir, "taken-over");
        var a = StartCli(Args(shared, 3));
        var aErr = a.StandardError.ReadToEndAsync();
        string checkpoint = Path.Combine(shared, "work", id, TrainingCheckpoint.FileName);
        Assert.True(WaitFor(() => File.Exists(checkpoint) && TrainingCheckpoint.ReadHeader(checkpoint).EpochsDone >= 3, 90), "worker A never checkpointed");
        a.Kill(entireProcessTree: true);
        a.WaitForExit();
        Assert.False(File.Exists(SweepRunner.RecordPath(shared, id)), "A finished before it was killed: the run is too short for this test");
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(shared, "claims"))); // A's claim is still there, its heartbeat aging

        // Worker B waits for A's claim to expire, takes the run over and continues from A's checkpoint.
        var b = StartCli(Args(shared, 3));
        var bDone = Wait(b, b.StandardError.ReadToEndAsync());
        Assert.True(bDone.Code == 0, bDone.Err);
        Assert.Contains("taking over from", bDone.Err);
        Assert.Contains("resuming after epoch", bDone.Err);
        var lines = WorkerLines(shared);
        Assert.Equal(1, lines.Count(l => l[1] == "started" && l[2] == id));
        Assert.Equal(1, lines.Count(l => l[1] == "resumed" && l[2] == id));
        AssertSameTensors(Path.Combine(reference, "models", id + ".safetensors"), Path.Combine(shared, "models", id + ".safetensors"));
        Assert.Equal(SweepResults.Read(reference).Records[0].TestAccuracy, SweepResults.Read(shared).Records[0].TestAccuracy);

        // SIGTERM (Slurm preemption): the worker stops at a batch, keeps its checkpoint, releases its claim, exits 143;
        // running the command again continues the run to the same weights.
        string preempted = Path.Combine(_dir, "preempted");
        var c = StartCli(Args(preempted, 300));
        var cErr = c.StandardError.ReadToEndAsync();
        string cCheckpoint = Path.Combine(preempted, "work", id, TrainingCheckpoint.FileName);
        Assert.True(WaitFor(() => File.Exists(cCheckpoint) && TrainingCheckpoint.ReadHeader(cCheckpoint).EpochsDone >= 2, 90), "worker C never checkpointed");
        using (var kill = Process.Start("kill", ["-TERM", c.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        var cDone = Wait(c, cErr, 60);
        Assert.True(cDone.Code == 143, $"exit {cDone.Code}: {cDone.Err}");
        Assert.Contains("SIGTERM received", cDone.Err);
        Assert.True(File.Exists(cCheckpoint));
        Assert.Empty(Directory.GetFiles(Path.Combine(preempted, "claims")));
        Assert.Contains(WorkerLines(preempted), l => l[1] == "interrupted" && l[2] == id);
        var again = StartCli(Args(preempted, 300));
        var againDone = Wait(again, again.StandardError.ReadToEndAsync());
        Assert.True(againDone.Code == 0, againDone.Err);
        Assert.Contains("resuming after epoch", againDone.Err);
        Assert.DoesNotContain("taking over", againDone.Err); // released, so no timeout to wait out
        AssertSameTensors(Path.Combine(reference, "models", id + ".safetensors"), Path.Combine(preempted, "models", id + ".safetensors"));
    }

    private static bool WaitFor(Func<bool> condition, int seconds)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            try { if (condition()) return true; }
            catch (IOException) { } // caught mid-rename
            catch (InvalidDataException) { }
            Thread.Sleep(50);
        }
        return false;
    }

    private static void AssertSameTensors(string expectedPath, string actualPath)
    {
        var expected = SafeTensors.Read(expectedPath);
        var actual = SafeTensors.Read(actualPath);
        Assert.Equal(expected.Tensors.Select(t => t.Name).Order(), actual.Tensors.Select(t => t.Name).Order());
        foreach (var t in expected.Tensors)
            Assert.True(t.Data.AsSpan().SequenceEqual(actual.Get(t.Name).Data), $"{t.Name} differs");
    }

    [Fact]
    public void ClaimsAreExclusiveAndAStaleOneIsTakenOverOnce()
    {
        string results = Path.Combine(_dir, "claims-test");
        var a = new RunClaims(results, "worker-a", TimeSpan.FromSeconds(60));
        using var ca = a.TryAcquire("run1", out var h0, out var t0);
        Assert.NotNull(ca);
        Assert.Null(h0);
        Assert.Null(t0);
        var b = new RunClaims(results, "worker-b", TimeSpan.FromSeconds(60));
        Assert.Null(b.TryAcquire("run1", out var holder, out _));
        Assert.Equal("worker-a", holder);

        // A worker with a short timeout finds A's heartbeat stale, takes over with generation 1; A learns it lost.
        var impatient = new RunClaims(results, "worker-c", TimeSpan.FromMilliseconds(200));
        Thread.Sleep(400);
        using var cc = impatient.TryAcquire("run1", out _, out var replaced);
        Assert.NotNull(cc);
        Assert.Equal(1, cc!.Generation);
        Assert.Equal("worker-a", replaced);
        Assert.False(ca!.Renew());
        Assert.True(ca.Lost.IsCancellationRequested);
        Assert.Equal("worker-c", ca.LostTo);
        Assert.True(cc.Renew());
        cc.Dispose();
        ca.Dispose();
        Assert.Empty(Directory.GetFiles(Path.Combine(results, "claims")));

        // Many workers racing for the same fresh runs: exactly one wins each.
        for (int run = 0; run < 20; run++)
        {
            var contenders = Enumerable.Range(0, 8).Select(i => new RunClaims(results, $"w{i}", TimeSpan.FromSeconds(60))).ToArray();
            var (won, _) = Race(contenders, $"race{run}");
            Assert.Single(won, w => w is not null);
            foreach (var w in won) w?.Dispose();
        }

        // Many workers finding the same stale claim at once: exactly one takes it over.
        for (int run = 0; run < 20; run++)
        {
            string id = $"stale{run}";
            var dead = new RunClaims(results, "dead", TimeSpan.FromSeconds(60)).TryAcquire(id, out _, out _)!;
            var contenders = Enumerable.Range(0, 8).Select(i => new RunClaims(results, $"t{i}", TimeSpan.FromMilliseconds(50))).ToArray();
            Thread.Sleep(100); // the dead worker's heartbeat ages past the contenders' timeout
            var (won, previous) = Race(contenders, id);
            int winner = Assert.Single(Enumerable.Range(0, won.Length), i => won[i] is not null);
            Assert.Equal("dead", previous[winner]);
            Assert.Equal(1, won[winner]!.Generation);
            Assert.False(dead.Renew());
            foreach (var w in won) w?.Dispose();
            dead.Dispose();
        }
    }

    private static void FailingWrite(string path)
    {
        using var fs = File.Create(path);
        fs.WriteByte(1);
        throw new IOException("No space left on device"); // the second file's write fails
    }

    /// <summary>Every contender tries to claim <paramref name="id"/> at the same moment, each on its own thread.</summary>
    private static (RunClaim?[] Won, string?[] TakenOver) Race(RunClaims[] contenders, string id)
    {
        using var barrier = new Barrier(contenders.Length);
        var won = new RunClaim?[contenders.Length];
        var previous = new string?[contenders.Length];
        var threads = contenders.Select((c, i) => new Thread(() =>
        {
            barrier.SignalAndWait();
            won[i] = c.TryAcquire(id, out _, out previous[i]);
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        return (won, previous);
    }

    [Fact]
    public void AFailedWriteInAFileSetReplacesNothing()
    {
        string dir = Path.Combine(_dir, "set");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "a.csv"), "old a");
        File.WriteAllText(Path.Combine(dir, "b.md"), "old b");
        using (var set = new FileSet())
        {
            set.WriteAllText(Path.Combine(dir, "a.csv"), "new a");
            Assert.Throws<IOException>(() => FailingWrite(set.Stage(Path.Combine(dir, "b.md"))));
        }
        Assert.Equal("old a", File.ReadAllText(Path.Combine(dir, "a.csv")));
        Assert.Equal("old b", File.ReadAllText(Path.Combine(dir, "b.md")));
        Assert.Equal(2, Directory.GetFiles(dir).Length); // temporaries removed
        using (var set = new FileSet())
        {
            set.WriteAllText(Path.Combine(dir, "a.csv"), "new a");
            // A writer that is itself atomic writes a staged file in place (no temporary of a temporary).
            AtomicFile.WriteAllText(set.Stage(Path.Combine(dir, "b.md")), "new b");
            Assert.Equal(4, Directory.GetFiles(dir).Length); // two targets, two staged files
            set.Commit();
        }
        Assert.Equal("new a", File.ReadAllText(Path.Combine(dir, "a.csv")));
        Assert.Equal("new b", File.ReadAllText(Path.Combine(dir, "b.md")));
        Assert.Equal(2, Directory.GetFiles(dir).Length);
    }
}

/// <summary><c>fflib status</c>: what a folder says about a sweep in progress.</summary>
public sealed class SweepStatusTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-status-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void StatusShowsFinishedRunningAndInterruptedRuns()
    {
        string data = SweepClusterTests.SyntheticMnist(Path.Combine(_dir, "data"), 600, 50);
        string results = Path.Combine(_dir, "results");
        var runs = new SweepSpec
        {
            Layers = [[16, 8]], Seeds = 3, Epochs = 3, BatchSize = 50,
            Data = new FFLib.Data.DatasetLoadOptions { DataDirectory = data, AllowDownload = false },
        }.Expand();
        // One run finished; the next stopped in its second epoch (a SIGTERM); a third claimed by a live worker.
        SweepRunner.Run([runs[0]], results);
        using (var cts = new CancellationTokenSource())
            Assert.ThrowsAny<OperationCanceledException>(() => TrainingRun.Execute(runs[1] with { OutputDirectory = Path.Combine(results, "work", SweepRunner.RunId(runs[1])), CheckpointEvery = 1 },
                new CancelAfter(cts, 14), cancellationToken: cts.Token));
        using var claim = new RunClaims(results, "worker-x", TimeSpan.FromMinutes(5)).TryAcquire(SweepRunner.RunId(runs[2]), out _, out _);
        Assert.NotNull(claim);

        var st = SweepStatus.Read(results, TimeSpan.FromMinutes(5));
        Assert.Equal(1, st.Completed);
        var running = Assert.Single(st.Claimed);
        Assert.Equal((SweepRunner.RunId(runs[2]), "worker-x", false), (running.Id, running.Worker, running.Stale));
        var (id, at, described) = Assert.Single(st.Interrupted);
        Assert.Equal(SweepRunner.RunId(runs[1]), id);
        Assert.Equal("epoch 2, batch 3", at); // 11 batches per epoch: the 14th batch of the run is the 3rd of epoch 2
        Assert.Equal(SweepRunner.Describe(runs[1]), described); // what the run is, not only its hash
        Assert.StartsWith("ffnn mnist layers ", described);

        var (code, output, err) = CliTestsAccess.Run("status", "--results", results);
        Assert.True(code == 0, err);
        Assert.Contains("1 completed, 0 diverged; 1 being trained; 1 interrupted", output);
        Assert.Contains("worker-x", output);
        Assert.Contains("checkpoint epoch 2, batch 3; the next worker continues it", output);
        Assert.Contains($"{SweepRunner.RunId(runs[1])}  {SweepRunner.Describe(runs[1])}  checkpoint", output);
        Assert.True(SweepStatus.Read(results, TimeSpan.FromTicks(1)).Claimed.Single().Stale);
    }
}
