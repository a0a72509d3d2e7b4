using System.Text.Json.Nodes;
using Xunit;

namespace FFLib.Tests;

/// <summary>The command-line tool, run in-process: train → run.json → eval agree; bad input gives one clear error.</summary>
[Collection("RealData")]
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliTestsAccess.Run(args);

    [Fact]
    public void NewcomerMistakesGetOneLineAnswersNamingTheOption()
    {
        // No .NET parameter names or "Actual value was" in a CLI error.
        var (code, _, err) = Run("train", "--lr", "-1", "--epochs", "1", "--no-download");
        Assert.Equal(2, code);
        Assert.Equal("error: --lr -1: The learning rate must be a positive finite number.", err.Trim());
        (code, _, err) = Run("train", "--epochs", "0", "--no-download");
        Assert.Equal(2, code);
        Assert.Contains("--epochs must be at least 1", err);
        string file = Path.GetTempFileName();
        try
        {
            (code, _, err) = Run("train", "--epochs", "1", "--out", file, "--no-download");
            Assert.Equal(2, code);
            Assert.Contains("--out must be a folder", err);
            string empty = Directory.CreateTempSubdirectory("fflib-cli-").FullName;
            (code, _, err) = Run("eval", "--model", empty);
            Assert.Equal(2, code);
            Assert.Contains("is a folder without model.safetensors", err);
            (code, _, err) = Run("report", "--results", Path.Combine(empty, "missing"));
            Assert.NotEqual(0, code);
            Assert.Contains("does not exist", err);
            Directory.Delete(empty);
        }
        finally { File.Delete(file); }
        Assert.All(new[] { err }, e => Assert.DoesNotContain("(Parameter '", e));
    }

    [Fact]
    public void TrainingDoesNotOverwriteAModelUnlessAsked()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-overwrite-").FullName;
        try
        {
            string[] run = ["train", "--layers", "20", "--epochs", "1", "--train-limit", "300", "--test-limit", "50", "--no-download", "--out", dir];
            Assert.Equal(0, Run(run).Code);
            var before = File.GetLastWriteTimeUtc(Path.Combine(dir, "model.safetensors"));
            var (code, _, err) = Run(run);
            Assert.Equal(2, code);
            Assert.Contains("already holds a model; pass --overwrite", err);
            Assert.Equal(before, File.GetLastWriteTimeUtc(Path.Combine(dir, "model.safetensors")));
            Assert.Equal(0, Run([.. run, "--overwrite"]).Code);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ProgressSaysWhatTheRunIsDoing()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-progress-").FullName;
        try
        {
            var (code, _, err) = Run("train", "--model", "ffc", "--layers", "20,20", "--epochs", "2", "--train-limit", "300", "--test-limit", "50", "--no-download", "--out", dir, "--overwrite");
            Assert.Equal(0, code);
            int data = err.IndexOf("data: ", StringComparison.Ordinal), epoch = err.IndexOf("epoch 1:", StringComparison.Ordinal), testing = err.IndexOf("testing on 50 images", StringComparison.Ordinal);
            Assert.True(data >= 0 && epoch > data && testing > epoch, err); // where the data came from before training, the test phase after
            Assert.Contains("loss L1 ", err);
            Assert.Contains("(through the classifier, which is trained in the second half: not yet)", err);
            (code, _, err) = Run("train", "--layers", "20", "--epochs", "1", "--train-limit", "300", "--test-limit", "50", "--no-download", "--out", dir, "--overwrite");
            Assert.Equal(0, code);
            Assert.Contains(" 1 epoch, ", err);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void DeviceOptionSaysWhatIsWrongInOneLine()
    {
        var (code, _, err) = Run("train", "--device", "tpu", "--epochs", "1", "--train-limit", "100", "--no-download");
        Assert.Equal(2, code);
        Assert.Contains("Unknown device 'tpu'. Known: cpu, cuda", err);
        Assert.DoesNotContain("   at ", err);
        foreach (var command in new[] { "train", "eval", "prune", "sweep", "reproduce", "visualize" })
            Assert.Contains("--device", Run(command, "--help").Out);
        try { using var cuda = Gpu.GpuBackend.CreateCuda(); }
        catch (Gpu.GpuUnavailableException)
        {
            // No GPU here: --device cuda is a usage error naming the reason, not a crash.
            var (c2, _, e2) = Run("train", "--device", "cuda", "--epochs", "1", "--train-limit", "100", "--no-download");
            Assert.Equal(2, c2);
            Assert.StartsWith("error: --device cuda: ", e2.Trim());
        }
    }

    [Fact]
    public void AGpuFailureIsOneLineAndExitCode7()
    {
        // What a cuBLAS error or a full GPU looks like to a user: one line, its own exit code, no stack.
        var (code, _, err) = CliTestsAccess.Capture(() => Cli.Cli.Run(() => Gpu.CuBlas.Check(13, "cublasSgemm")));
        Assert.Equal(Cli.Cli.GpuFailed, code);
        Assert.Equal("error: cublasSgemm failed: CUBLAS_STATUS_EXECUTION_FAILED", err.Trim());
        (code, _, err) = CliTestsAccess.Capture(() => Cli.Cli.Run(() => throw new ILGPU.Runtime.Cuda.CudaException("out of memory")));
        Assert.Equal(7, code);
        Assert.StartsWith("error: the GPU failed: ", err.Trim());
        Assert.DoesNotContain("   at ", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void StreamsNeedACudaDeviceAndASaneCount()
    {
        string results = Path.Combine(Path.GetTempPath(), "fflib-streams-" + Guid.NewGuid().ToString("N"));
        var (code, _, err) = Run("sweep", "--results", results, "--seeds", "1", "--epochs", "1", "--streams", "3");
        Assert.Equal(2, code);
        Assert.Equal("error: --streams 3 needs --device cuda; on --device cpu, start several sweep processes on the same results folder instead (they share the runs).", err.Trim());
        (code, _, err) = Run("reproduce", "table2", "--streams", "0");
        Assert.Equal(2, code);
        Assert.Equal("error: --streams must be between 1 and 32, not 0.", err.Trim());
        Assert.False(Directory.Exists(results));
        foreach (var command in new[] { "sweep", "reproduce" }) Assert.Contains("--streams", Run(command, "--help").Out);
    }

    [Fact]
    public void TrainThenEvalReportTheSameAccuracy()
    {
        string outDir = Path.Combine(_dir, "run");
        var (code, stdout, stderr) = Run("train", "--model", "ffnn", "--dataset", "mnist", "--layers", "64,32", "--epochs", "1",
            "--train-limit", "2000", "--test-limit", "500", "--seed", "3", "--out", outDir, "--no-download");
        Assert.True(code == 0, stderr);
        Assert.Contains("test accuracy:", stdout);
        Assert.Contains("epoch 1:", stderr);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        double trained = run["test_accuracy"]!.GetValue<double>();
        Assert.Equal(1800, run["data"]!["train_samples"]!.GetValue<int>());
        Assert.Equal(new[] { 64, 32 }, run["config"]!["layers"]!.AsArray().Select(x => x!.GetValue<int>()));

        var (code2, json, err2) = Run("eval", "--model", Path.Combine(outDir, "model.safetensors"), "--test-limit", "500", "--json", "--no-download");
        Assert.True(code2 == 0, err2);
        // The JSON object is the command's output; start at its brace, so that a line another in-process test
        // wrote to the shared console while stdout was captured cannot break the parse (seen once in CI, a line starting 'O').
        var ev = JsonNode.Parse(json[Math.Max(0, json.IndexOf('{'))..])!;
        Assert.Equal(trained, ev["test_accuracy"]!.GetValue<double>());
        Assert.Equal(500, ev["test_samples"]!.GetValue<int>());
        Assert.Equal("mnist", ev["dataset"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(2, "--layers", "0,5")]
    [InlineData(2, "--layers", "abc")]
    [InlineData(2, "--loss", "sideways")]
    [InlineData(2, "--dataset", "imagenet")]
    [InlineData(2, "--model", "transformer")]
    [InlineData(2, "--threads", "0")]
    [InlineData(2, "--batch-size", "0")]
    [InlineData(2, "--lr", "-1")]
    [InlineData(2, "--lr-schedule", "linear")]
    public void BadTrainOptionsGiveOneClearError(int expectedCode, string option, string value)
    {
        var (code, _, err) = Run("train", option, value, "--epochs", "1", "--out", Path.Combine(_dir, "x"), "--no-download");
        Assert.Equal(expectedCode, code);
        Assert.StartsWith("error: ", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }

    [Fact]
    public void EvalOfMissingOrCorruptModelFailsClearly()
    {
        var (code, _, err) = Run("eval", "--model", Path.Combine(_dir, "nope.safetensors"));
        Assert.Equal(3, code);
        Assert.Contains("nope.safetensors", err);
        string bad = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(bad, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        (code, _, err) = Run("eval", "--model", bad);
        Assert.Equal(3, code);
        Assert.Contains("not a valid safetensors file", err);
    }

    [Fact]
    public void MissingDataDirNamesTheFolder()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var (code, _, err) = Run("train", "--data-dir", empty, "--epochs", "1", "--out", Path.Combine(_dir, "y"));
        Assert.Equal(3, code);
        Assert.Contains(empty, err);
        Assert.Contains("train-images-idx3-ubyte", err);
        Assert.Contains("not found in the folder --data-dir names", err); // the library names DatasetLoadOptions.DataDirectory; the CLI the option
        var library = Assert.Throws<Data.DatasetNotFoundException>(() => Data.DatasetLocator.Locate(Data.DatasetKind.Mnist, new Data.DatasetLoadOptions { DataDirectory = empty, AllowDownload = false }));
        Assert.Contains("DatasetLoadOptions.DataDirectory", library.Message);
        Assert.DoesNotContain("--", library.Message);
    }
}

/// <summary>analyze, visualize and --track-sparsity on a model trained by the CLI itself (real MNIST).</summary>
[Collection("RealData")]
public sealed class CliAnalysisTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-cli-analysis-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("ffnn")]
    [InlineData("bpnn")]
    [InlineData("ffrnn")]
    public void TrainWithTrackingThenAnalyzeAndVisualize(string model)
    {
        string run = Path.Combine(_dir, model);
        string[] args = ["train", "--model", model, "--layers", "40,30", "--epochs", "1", "--train-limit", "1000",
            "--test-limit", "200", "--track-sparsity", "3", "--out", run, "--no-download", .. (model == "ffrnn" ? new[] { "--k-train", "2" } : [])];
        var (code, stdout, err) = CliTestsAccess.Run(args);
        Assert.True(code == 0, err);
        Assert.Contains("sparsity:", stdout);
        var csv = File.ReadAllLines(Path.Combine(run, "sparsity.csv"));
        Assert.True(csv.Length > 4, $"{csv.Length} lines");
        foreach (var metric in new[] { "l1_entropy", "l2_entropy", "hoyer", "gini" })
            Assert.True(new FileInfo(Path.Combine(run, $"sparsity_{metric}.png")).Length > 1000);

        var (code2, table, err2) = CliTestsAccess.Run("analyze", "--model", Path.Combine(run, "model.safetensors"));
        Assert.True(code2 == 0, err2);
        Assert.Contains("Hoyer", table);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "analysis.json")))!;
        Assert.Equal(model, json["architecture"]!.GetValue<string>());
        Assert.True(json["parameters"]!.AsArray().Count >= 4);

        string vis = Path.Combine(run, "vis");
        var (code3, _, err3) = CliTestsAccess.Run("visualize", "--model", Path.Combine(run, "model.safetensors"), "--sample", "2", "--batch", "100", "--out", vis, "--no-download");
        Assert.True(code3 == 0, err3);
        using var act = SkiaSharp.SKBitmap.Decode(Path.Combine(vis, "activation_maps.png"));
        using var hsv = SkiaSharp.SKBitmap.Decode(Path.Combine(vis, "hsv_map.png"));
        Assert.True(act.Width > 100 && act.Height > 100);
        Assert.True(hsv.Width > 100 && hsv.Height > 50);
        Assert.True(File.Exists(Path.Combine(vis, "visualize.json")));

        string prune = Path.Combine(run, "prune");
        var (code4, summary, err4) = CliTestsAccess.Run("prune", "--model", Path.Combine(run, "model.safetensors"), "--keep", "40,20,5", "--seeds", "2",
            "--test-limit", "100", "--out", prune, "--no-download");
        Assert.True(code4 == 0, err4);
        Assert.Contains("ratio", summary);
        var records = FFLib.Pruning.PruneExperiment.ReadCsv(Path.Combine(prune, "prune.csv"));
        Assert.Equal(6, records.Count);
        // Keeping every neuron: the same tensors and metadata plus a few bytes saying how it was pruned.
        Assert.All(records.Where(r => r.Keep == 40), r => Assert.InRange(r.CompressionRatio, 0.995, 1.0));
        Assert.True(records.Where(r => r.Keep == 5).All(r => r.CompressionRatio > 3));
        using var curve = SkiaSharp.SKBitmap.Decode(Path.Combine(prune, "prune.png"));
        Assert.Equal(900, curve.Width);
        string cmp = Path.Combine(run, "compare.png");
        Assert.False(Directory.Exists(Path.Combine(prune, "models")), "pruned model files are kept only with --save-models");
        var (code5, _, err5) = CliTestsAccess.Run("prune-compare", "--models", $"{prune},{Path.Combine(prune, "prune.csv")}", "--out", cmp);
        Assert.True(code5 == 0, err5);
        Assert.True(new FileInfo(cmp).Length > 1000);
    }
}

internal static class CliTestsAccess
{
    private static readonly object Gate = new();

    public static (int Code, string Out, string Err) Run(params string[] args) => Capture(() => Cli.Program.Main(args));

    /// <summary>Any command body through the CLI's error handling, with its output captured.</summary>
    public static (int Code, string Out, string Err) Capture(Func<int> body)
    {
        lock (Gate)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            var (o, e) = (new StringWriter(), new StringWriter());
            Console.SetOut(o);
            Console.SetError(e);
            try { return (body(), o.ToString(), e.ToString()); }
            finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
        }
    }
}
