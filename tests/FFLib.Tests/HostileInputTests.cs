using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Data;
using FFLib.Experiments;
using FFLib.Export;
using FFLib.IO;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The third reliability round (issue 22): what a hostile-input and fault probe found. Processes
/// racing for one folder, empty data, links planted in results and caches, non-finite weights,
/// forged records and claims, FIFOs where files belong, and messages that leaked .NET's words.
/// Each test failed before its fix.
/// </summary>
[Collection("RealData")]
public sealed class HostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-hostile-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Data(int train = 600, int test = 50) => SweepClusterTests.SyntheticMnist(Path.Combine(_dir, $"data-{train}-{test}"), train, test);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliTestsAccess.Run(args);

    // 1. Two processes, one --out: one model, and the other process says why it wrote nothing.
    [Fact]
    public void TwoTrainingsGivenOneFolderNeverBothSucceed()
    {
        string data = Data(1800, 100);
        string[] Args(int seed) => ["train", "--layers", "128,64", "--epochs", "25", "--batch-size", "50", "--seed", seed.ToString(), "--data-dir", data, "--no-download", "--out", "same"];
        var a = CliProcess.Start(_dir, Args(1));
        var b = CliProcess.Start(_dir, Args(2));
        var (ra, rb) = (CliProcess.Wait(a), CliProcess.Wait(b));
        var codes = new[] { ra.Code, rb.Code };
        Assert.Equal(1, codes.Count(c => c == 0)); // before: both 0, both "saved", one model gone
        var loser = ra.Code == 0 ? rb : ra;
        Assert.True(loser.Code is 5 or 2, loser.Err); // 5: in use right now; 2: it already holds the other's model
        Assert.Matches("in use by another process|already holds a model", loser.Err);
        Assert.DoesNotContain("saved:", loser.Out);
        int winnerSeed = ra.Code == 0 ? 1 : 2;
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "same", "run.json")))!;
        Assert.Equal(winnerSeed, run["config"]!["seed"]!.GetValue<int>());
        IO.ModelCheckpoint.Load(Path.Combine(_dir, "same", "model.safetensors"));
    }

    [Fact]
    public void AFolderLockIsExclusiveBetweenProcessesAndReentrantWithinOne()
    {
        string folder = Path.Combine(_dir, "locked");
        using (var first = FolderLock.Acquire(folder))
        using (var again = FolderLock.Acquire(folder)) // the same process: a command and the run it starts
            Assert.True(File.Exists(Path.Combine(folder, FolderLock.FileName)));
        // Held by another process (flock through a child `flock` would need util-linux: the CLI is that process).
        string data = Data(1200, 50);
        var p = CliProcess.Start(_dir, ["train", "--layers", "128,64", "--epochs", "60", "--batch-size", "50", "--data-dir", data, "--no-download", "--out", folder]);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            FolderLock? mine = null;
            // Wait until the child has locked it (it writes the lock file's lock, then trains for seconds).
            while (DateTime.UtcNow < deadline && (mine = FolderLock.TryAcquire(folder)) is not null) { mine.Dispose(); Thread.Sleep(50); }
            Assert.Null(mine);
            Assert.Throws<FolderInUseException>(() => FolderLock.Acquire(folder));
        }
        finally { p.Kill(entireProcessTree: true); p.WaitForExit(); }
        using var after = FolderLock.Acquire(folder); // a killed holder's lock goes with it
    }

    // 2. An empty test set is refused before training; an accuracy over nothing is never reported.
    [Fact]
    public void AnEmptyTestSetIsRefusedBeforeTrainingAndEvalSaysSo()
    {
        string data = Data(300, 1);
        File.WriteAllBytes(Path.Combine(data, "t10k-images-idx3-ubyte"), IdxReaderTests.Images(0, 28, 28));
        File.WriteAllBytes(Path.Combine(data, "t10k-labels-idx1-ubyte"), IdxReaderTests.Labels([]));
        string outDir = Path.Combine(_dir, "empty-test");
        var (code, _, err) = Run("train", "--layers", "20", "--epochs", "1", "--data-dir", data, "--no-download", "--out", outDir);
        Assert.Equal(3, code);
        Assert.Contains("holds no images", err);
        Assert.DoesNotContain("epoch 1:", err); // refused before training, not after
        Assert.False(File.Exists(Path.Combine(outDir, "model.safetensors")));

        var model = Path.Combine(_dir, "m.safetensors");
        ModelCheckpoint.Save(model, ExportTests.SmallModel("ffnn"), new JsonObject { ["dataset"] = "mnist" });
        (code, var output, err) = Run("eval", "--model", model, "--data-dir", data, "--no-download");
        Assert.NotEqual(0, code); // before: "NaN%" and exit 0
        Assert.DoesNotContain("NaN", output + err);
        Assert.Throws<ArgumentException>(() => Evaluation.Accuracy(ExportTests.SmallModel("ffnn"), new ImageDataset("none", 0, 20, 4, Array.Empty<byte>(), Array.Empty<byte>())));
    }

    [Fact]
    public void NonFiniteNumbersInARunRecordBecomeNullInsteadOfLosingTheModel()
    {
        var model = (Models.ITrainableModel)ExportTests.SmallModel("ffnn");
        var history = new[] { new EpochMetrics(1, Models.TrainingPhase.ForwardForward, ["layer 1"], [double.PositiveInfinity], double.NaN, 1, 0) };
        var result = new RunResult(model, history, double.NaN, 10, 0, 0, 1, 0, new DatasetLocation("x", "test", []), null, null, null);
        var json = TrainingRun.RunJson(new RunSpec(), result).ToJsonString(); // before: "… cannot be written as valid JSON"
        var parsed = JsonNode.Parse(json)!;
        Assert.Null(parsed["test_accuracy"]);
        Assert.Null(parsed["epochs"]![0]!["layer_losses"]![0]);
    }

    // 3. A link planted at work/ID is replaced, never written through.
    [Fact]
    public void ASweepNeverWritesThroughALinkInItsResultsFolder()
    {
        string data = Data();
        var run = new SweepSpec { Layers = [[16]], Seeds = 1, Epochs = 1, BatchSize = 50, Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false } }.Expand()[0];
        string results = Path.Combine(_dir, "results"), elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        Directory.CreateDirectory(Path.Combine(results, "work"));
        Directory.CreateSymbolicLink(Path.Combine(results, "work", SweepRunner.RunId(run)), elsewhere);
        var log = new List<string>();
        var outcome = SweepRunner.Run([run], results, new SweepWorkerOptions { Log = log.Add });
        Assert.Single(outcome.Written);
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere)); // before: checkpoint, model and run.json landed here
        Assert.Contains(log, l => l.Contains("was a symbolic link"));

        // The folder's own subfolders are never reached through a link either.
        string other = Path.Combine(_dir, "results2");
        Directory.CreateDirectory(other);
        Directory.CreateSymbolicLink(Path.Combine(other, "runs"), elsewhere);
        var e = Assert.Throws<IOException>(() => SweepRunner.Run([run], other));
        Assert.Contains("symbolic link", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
    }

    // 4. A link already in the dataset cache does not redirect an extraction.
    [Fact]
    public void ExtractionReplacesALinkInTheTargetInsteadOfFollowingIt()
    {
        string archive = Path.Combine(_dir, "a.tar.gz");
        CifarTests.WriteTarGz(archive, w => CifarTests.AddFile(w, "cifar-10-batches-bin/data_batch_1.bin", [1, 2, 3]));
        string cache = Directory.CreateDirectory(Path.Combine(_dir, "cache")).FullName;
        string elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(cache, "cifar-10-batches-bin"), elsewhere);
        ArchiveExtractor.ExtractTarGz(archive, cache);
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere)); // before: the file landed here
        var extracted = new DirectoryInfo(Path.Combine(cache, "cifar-10-batches-bin"));
        Assert.Null(extracted.LinkTarget);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(extracted.FullName, "data_batch_1.bin")));
        Assert.Equal(["cifar-10-batches-bin"], Directory.EnumerateFileSystemEntries(cache).Select(Path.GetFileName)); // no staging folder left
    }

    // 5. Non-finite weights: refused by every export, by int8 files and by prune, naming the tensor.
    [Fact]
    public void NonFiniteWeightsAreRefusedByExportsInt8AndPrune()
    {
        var model = ExportTests.SmallModel("ffnn");
        var weight = model.Parameters().First(p => p.IsMatrix);
        weight.Data[weight.Cols + 2] = float.NaN; // row 1
        string file = Path.Combine(_dir, "nan.safetensors");
        ModelCheckpoint.Save(file, model, new JsonObject { ["dataset"] = "mnist" });
        var onnx = Assert.Throws<InvalidDataException>(() => OnnxExporter.Save(model, Path.Combine(_dir, "x.onnx")));
        Assert.Contains($"tensor {weight.Name} holds NaN at [1, 2]", onnx.Message);
        Assert.Throws<InvalidDataException>(() => OnnxExporter.Save(model, Path.Combine(_dir, "x.onnx"), new ExportOptions { Int8 = true })); // before: the row quantised to zeros, scale 1
        Assert.Throws<InvalidDataException>(() => CExporter.Save(model, Path.Combine(_dir, "c")));
        Assert.Throws<InvalidDataException>(() => ModelCheckpoint.SaveInt8(Path.Combine(_dir, "q.safetensors"), model));
        Assert.False(File.Exists(Path.Combine(_dir, "x.onnx")));

        foreach (var args in new[] { new[] { "export", "--model", file, "--format", "onnx", "--out", Path.Combine(_dir, "y.onnx") },
                                     ["export", "--model", file, "--format", "c", "--int8", "--out", Path.Combine(_dir, "yc")],
                                     ["prune", "--model", file, "--keep", "4", "--out", Path.Combine(_dir, "pruned"), "--no-download"] })
        {
            var (code, _, err) = Run(args);
            Assert.Equal(3, code); // the exit code of every other bad model file (before: 0, or 2 for --format c)
            Assert.Contains($"{file}: tensor {weight.Name} holds NaN", err);
            Assert.Single(err.Trim().Split('\n'));
        }
        Assert.False(File.Exists(Path.Combine(_dir, "y.onnx")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "pruned")) && Directory.EnumerateFiles(Path.Combine(_dir, "pruned"), "*.csv").Any());
    }

    // 6. A record counts only when its id is the hash of its own settings.
    [Fact]
    public void ARecordWhoseIdIsNotItsSettingsHashIsNotCounted()
    {
        string data = Data();
        var runs = new SweepSpec { Layers = [[16]], Seeds = 1, Epochs = 1, BatchSize = 50, Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false } }.Expand();
        string results = Path.Combine(_dir, "results");
        SweepRunner.Run(runs, results);
        string good = SweepRunner.RecordPath(results, SweepRunner.RunId(runs[0]));
        var record = JsonNode.Parse(File.ReadAllText(good))!.AsObject();
        Assert.Equal(SweepRunner.RunId(runs[0]), SweepRunner.IdOf(record["Settings"]!.AsObject()));
        // A forged run: another seed and a made-up id, saved under that id (as a sweep names its files).
        record["Seed"] = 7;
        record["Id"] = "00000000deadbeef";
        File.WriteAllText(SweepRunner.RecordPath(results, "00000000deadbeef"), record.ToJsonString());
        var read = SweepResults.Read(results);
        Assert.Single(read.Records); // before: 2 records, n = 2 from one seed
        Assert.Contains("not the hash of its own settings", Assert.Single(read.Skipped).Reason);
    }

    // 7. A heartbeat from the future does not keep a claim alive for ever.
    [Fact]
    public void AClaimFromTheFutureIsJudgedByThisMachinesClock()
    {
        string results = Path.Combine(_dir, "results");
        var claims = new RunClaims(results, "me", TimeSpan.FromSeconds(1));
        Directory.CreateDirectory(Path.Combine(results, "runs"));
        string path = Path.Combine(results, "claims", "r1.g0.claim");
        string future = new DateTime(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc).ToString("o");
        File.WriteAllText(path, $"{{\"worker\": \"ghost\", \"heartbeat_utc\": \"{future}\"}}");
        // Its file time is this machine's (old): judged by that.
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(-5));
        using (var taken = claims.TryAcquire("r1", out _, out var from)) { Assert.NotNull(taken); Assert.Equal("ghost", from); } // before: held for ever

        // Heartbeat and file time both in the future: taken over once unchanged for the timeout as this worker sees it.
        string path2 = Path.Combine(results, "claims", "r2.g0.claim");
        File.WriteAllText(path2, $"{{\"worker\": \"ghost\", \"heartbeat_utc\": \"{future}\"}}");
        File.SetLastWriteTimeUtc(path2, DateTime.UtcNow.AddYears(50));
        Assert.Null(claims.TryAcquire("r2", out var holder, out _));
        Assert.Equal("ghost", holder);
        var st = SweepStatus.Read(results, TimeSpan.FromSeconds(1)).Claimed.Single(c => c.Id == "r2");
        Assert.Contains("future", st.ClockNote); // before: "heartbeat 0 s ago"
        Thread.Sleep(1300);
        using var later = claims.TryAcquire("r2", out _, out _);
        Assert.NotNull(later);
    }

    // 8. A FIFO where a model or data file belongs: refused at once, not waited on for ever.
    [Fact]
    public void AFifoGivenAsAModelOrDataFileIsRefusedWithoutHanging()
    {
        string fifo = Path.Combine(_dir, "model.safetensors");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [fifo])!) { mk.WaitForExit(); Assert.Equal(0, mk.ExitCode); }
        Assert.Equal("a named pipe (FIFO)", FileKind.Describe(fifo));
        foreach (var command in new[] { "eval", "analyze", "visualize", "prune", "export" })
        {
            string[] args = command == "export" ? [command, "--model", fifo, "--format", "onnx", "--out", Path.Combine(_dir, "o.onnx")] : [command, "--model", fifo, "--no-download"];
            if (command == "analyze") args = [command, "--model", fifo];
            var r = CliProcess.Wait(CliProcess.Start(_dir, args), seconds: 60); // before: hung here
            Assert.True(r.Code == 3, $"{command}: {r.Code} {r.Err}");
            Assert.Contains("is a named pipe (FIFO), not a regular file", r.Err);
        }
        string data = Data(300, 20);
        string images = Path.Combine(data, "train-images-idx3-ubyte");
        File.Delete(images);
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [images])!) mk.WaitForExit();
        var t = CliProcess.Wait(CliProcess.Start(_dir, ["train", "--layers", "8", "--epochs", "1", "--data-dir", data, "--no-download", "--out", "fifo-run"]), seconds: 60);
        Assert.Equal(3, t.Code);
        Assert.Contains("named pipe", t.Err);
    }

    // 9. Crashes that printed stack traces: one line and an exit code each.
    [Fact]
    public void AWrongTypeInTrainingMetadataIsABadModelFile()
    {
        var model = ExportTests.SmallModel("ffnn");
        string file = Path.Combine(_dir, "m.safetensors");
        ModelCheckpoint.Save(file, model, new JsonObject { ["dataset"] = 5 });
        var e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(file));
        Assert.Contains("training metadata 'dataset' is 5", e.Message);
        foreach (var command in new[] { "eval", "prune", "visualize" })
        {
            var (code, _, err) = Run(command, "--model", file, "--no-download");
            Assert.Equal(3, code); // before: InvalidOperationException and a stack trace
            Assert.Single(err.Trim().Split('\n'));
        }
    }

    [Fact]
    public void AGnuSparseArchiveMemberIsRefusedAsInvalidData()
    {
        string archive = Path.Combine(_dir, "sparse.tar.gz");
        using (var fs = File.Create(archive))
        using (var gz = new System.IO.Compression.GZipStream(fs, System.IO.Compression.CompressionLevel.Fastest))
        {
            var header = new byte[512];
            Encoding.ASCII.GetBytes("cifar-10-batches-bin/data_batch_1.bin").CopyTo(header, 0);
            Encoding.ASCII.GetBytes("0000644\0").CopyTo(header, 100);
            Encoding.ASCII.GetBytes("0000000\0").CopyTo(header, 108);
            Encoding.ASCII.GetBytes("0000000\0").CopyTo(header, 116);
            Encoding.ASCII.GetBytes("00000000000\0").CopyTo(header, 124);
            Encoding.ASCII.GetBytes("00000000000\0").CopyTo(header, 136);
            header[156] = (byte)'S'; // GNU sparse
            Encoding.ASCII.GetBytes("ustar  \0").CopyTo(header, 257);
            for (int i = 148; i < 156; i++) header[i] = (byte)' ';
            int sum = header.Sum(b => b);
            Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);
            gz.Write(header);
            gz.Write(new byte[1024]);
        }
        var e = Assert.Throws<InvalidDataException>(() => ArchiveExtractor.ExtractTarGz(archive, Path.Combine(_dir, "x"))); // before: NotSupportedException
        Assert.Contains(archive, e.Message);
    }

    [Fact]
    public void ALayerTooLargeForMemoryIsOneLineAndExitCode8()
    {
        string data = Data(300, 20);
        var p = CliProcess.Start(_dir, ["train", "--layers", "40000,40000", "--epochs", "1", "--data-dir", data, "--no-download", "--out", "huge"],
            new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" }); // 512 MiB: the 6.4 GB matrix cannot fit
        var r = CliProcess.Wait(p, seconds: 120);
        Assert.Equal(8, r.Code); // before: OutOfMemoryException and a stack trace
        Assert.StartsWith("error: not enough memory", r.Err.Split('\n').Last(l => l.Length > 0));
        Assert.DoesNotContain("   at ", r.Err);
    }

    // 10. Damaged claims: a folder in a claim's place, a generation at int.MaxValue.
    [Fact]
    public void AFolderOrAnOverflowingGenerationInClaimsIsADamagedClaim()
    {
        string results = Path.Combine(_dir, "results");
        var claims = new RunClaims(results, "me", TimeSpan.FromSeconds(1));
        var folder = Directory.CreateDirectory(Path.Combine(results, "claims", "r1.g0.claim"));
        folder.LastWriteTimeUtc = DateTime.UtcNow.AddMinutes(-5);
        using (var c = claims.TryAcquire("r1", out _, out _)) // before: "The file … already exists" in every worker
        {
            Assert.NotNull(c);
            Assert.Equal(1, c!.Generation);
        }
        File.WriteAllText(Path.Combine(results, "claims", $"r2.g{int.MaxValue}.claim"), "{}");
        using var d = claims.TryAcquire("r2", out _, out _); // before: generation -2147483648
        Assert.NotNull(d);
        Assert.InRange(d!.Generation, 0, 1_000_001);
    }

    // 11. Messages in the user's words, never .NET's.
    [Fact]
    public void MessagesNameTheOptionAndTheFileNotDotNetInternals()
    {
        string data = Data(300, 20);
        var cases = new (string[] Args, string Expected)[]
        {
            (["train", "--lr", "abc"], "--lr: 'abc' is not a number."),
            (["train", "--layers", "30,,30"], "--layers '30,,30' has an empty entry"),
            (["train", "--test-limit", "0", "--data-dir", data, "--no-download"], "--test-limit must be at least 1, not 0."),
            (["train", "--batch-size", "0", "--data-dir", data, "--no-download"], "--batch-size must be at least 1, not 0."),
            (["train", "--layers", "30000,100000", "--data-dir", data, "--no-download"], "--layers 30000,100000: layer 1 would need a 30000×100794 weight matrix"),
        };
        foreach (var (args, expected) in cases)
        {
            var (code, _, err) = Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: {code} {err}");
            Assert.Contains(expected, err);
            Assert.DoesNotContain("System.", err);
            Assert.DoesNotContain("(Parameter '", err);
            Assert.DoesNotContain("TestLimit", err);
        }
    }

    [Fact]
    public void AnInconsistentConfigIsReportedWithoutDotNetParameterNames()
    {
        string file = Path.Combine(_dir, "one-class.safetensors");
        ModelCheckpoint.Save(file, ExportTests.SmallModel("ffnn"), new JsonObject { ["dataset"] = "mnist" });
        var raw = SafeTensors.Read(file);
        var meta = raw.Metadata.ToDictionary(p => p.Key, p => p.Value);
        var config = JsonNode.Parse(meta["config"])!.AsObject();
        config["classes"] = 1;
        meta["config"] = config.ToJsonString();
        SafeTensors.Write(file, raw.Tensors, meta);
        var (code, _, err) = Run("eval", "--model", file, "--no-download");
        Assert.Equal(3, code);
        Assert.Contains("config is incomplete or inconsistent: A classifier needs at least 2 classes", err);
        Assert.DoesNotContain("(Parameter '", err); // before: "(Parameter 'Classes')"
    }

    [Fact]
    public void ARepeatedHeaderKeyIsReportedWithTheFileName()
    {
        string file = Path.Combine(_dir, "dup.safetensors");
        byte[] header = Encoding.UTF8.GetBytes("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}");
        using (var fs = File.Create(file))
        {
            fs.Write(BitConverter.GetBytes((ulong)header.Length));
            fs.Write(header);
            fs.Write(new byte[4]);
        }
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(file)); // before: ArgumentException "An item with the same key has already been added"
        Assert.Contains(file, e.Message);
        Assert.Contains("same key twice", e.Message);
    }

    [Fact]
    public void ACExportIntoAFolderWhoseModelCIsAFolderWritesNothing()
    {
        string outDir = Directory.CreateDirectory(Path.Combine(_dir, "c")).FullName;
        Directory.CreateDirectory(Path.Combine(outDir, "model.c"));
        var e = Assert.Throws<IOException>(() => CExporter.Save(ExportTests.SmallModel("ffnn"), outDir));
        Assert.Contains("model.c is a folder", e.Message);
        Assert.False(File.Exists(Path.Combine(outDir, "model.h"))); // before: a new model.h without its model.c
        Assert.Empty(Directory.GetFiles(outDir)); // no temporaries left
    }

    [Fact]
    public void AResumedRunSaysWhereItResumesInsteadOfAnInflatedSpeed()
    {
        string data = Data(600, 20);
        string outDir = Path.Combine(_dir, "resumable");
        var spec = new RunSpec
        {
            Model = new Models.ModelSettings { HiddenSizes = [16] }, Training = new TrainingOptions { Epochs = 3, BatchSize = 50 },
            Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false }, OutputDirectory = outDir, CheckpointEvery = 1,
        };
        using (var cts = new CancellationTokenSource())
            Assert.ThrowsAny<OperationCanceledException>(() => TrainingRun.Execute(spec, new CancelAfter(cts, 14), cancellationToken: cts.Token));
        var (code, _, err) = Run("train", "--resume", outDir);
        Assert.True(code == 0, err);
        Assert.Contains("resuming after epoch 1, batch 3 of epoch 2", err);
        Assert.DoesNotContain("169,344", err);
    }
}
