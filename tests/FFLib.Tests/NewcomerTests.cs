using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FFLib.Experiments;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// A newcomer's second hour (issue 23): nothing overwritten, estimates from this machine, a run
/// folder wherever a model is asked for, one-line parse errors, one spelling per setting.
/// </summary>
[Collection("RealData")]
public sealed class NewcomerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-newcomer-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Data(int train = 600, int test = 50) => SweepClusterTests.SyntheticMnist(Path.Combine(_dir, $"data-{train}-{test}"), train, test);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliTestsAccess.Run(args);

    /// <summary>A small trained run folder (train's default layout) under the test folder.</summary>
    private string TrainedFolder(string name = "run")
    {
        string outDir = Path.Combine(_dir, name);
        var (code, _, err) = Run("train", "--layers", "16,12", "--epochs", "1", "--data-dir", Data(), "--no-download", "--out", outDir);
        Assert.True(code == 0, err);
        return outDir;
    }

    // 1. Two trainings started in the same second each get a folder of their own.
    [Fact]
    public void TwoTrainingsStartedTogetherGetTwoFolders()
    {
        string data = Data(600, 50);
        string[] Args(int seed) => ["train", "--layers", "50", "--epochs", "1", "--seed", seed.ToString(), "--data-dir", data, "--no-download"];
        var a = CliProcess.Start(_dir, Args(1));
        var b = CliProcess.Start(_dir, Args(2));
        var (ra, rb) = (CliProcess.Wait(a), CliProcess.Wait(b));
        Assert.True(ra.Code == 0, ra.Err);
        Assert.True(rb.Code == 0, rb.Err);
        var folders = Directory.GetDirectories(Path.Combine(_dir, "runs")).Where(d => new DirectoryInfo(d).LinkTarget is null).ToArray();
        Assert.Equal(2, folders.Length); // before: one folder, one model lost
        var seeds = folders.Select(f => JsonNode.Parse(File.ReadAllText(Path.Combine(f, "run.json")))!["config"]!["seed"]!.GetValue<int>()).Order();
        Assert.Equal([1, 2], seeds);
    }

    // 2. Nothing that is not ours is replaced without --overwrite; prune and visualize get folders of their own.
    [Fact]
    public void ExportPruneAndVisualizeNeverReplaceWhatIsNotTheirs()
    {
        string run = TrainedFolder();
        string notes = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(notes, "my notes");
        var (code, _, err) = Run("export", "--model", run, "--format", "onnx", "--out", notes);
        Assert.Equal(2, code); // before: replaced, exit 0
        Assert.Contains("already exists; pass --overwrite", err);
        Assert.Equal("my notes", File.ReadAllText(notes));
        Assert.Equal(0, Run("export", "--model", run, "--format", "onnx", "--out", notes, "--overwrite").Code);

        string cwd = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _dir;
        try
        {
            string[] prune = ["prune", "--model", run, "--keep", "8", "--seeds", "1", "--no-int8", "--data-dir", Data(), "--no-download"];
            Assert.Equal(0, Run(prune).Code);
            Assert.Equal(0, Run(prune).Code);
            var pruneFolders = Directory.GetDirectories(Path.Combine(_dir, "runs"), "*-prune-ffnn*");
            Assert.Equal(2, pruneFolders.Length); // before: both wrote runs/prune/prune.csv
            Assert.All(pruneFolders, f => Assert.True(File.Exists(Path.Combine(f, "prune.csv"))));
            (code, _, err) = Run([.. prune, "--out", pruneFolders[0]]);
            Assert.Equal(2, code);
            Assert.Contains("already holds prune.csv; pass --overwrite", err);

            File.WriteAllText(Path.Combine(_dir, "README.md"), "mine");
            (code, _, err) = Run("visualize", "--model", run, "--batch", "20", "--out", "README.md", "--data-dir", Data(), "--no-download");
            Assert.Equal(2, code); // before: .NET's "The file … already exists."
            Assert.Contains("--out README.md is a file", err);
            Assert.Equal("mine", File.ReadAllText(Path.Combine(_dir, "README.md")));
        }
        finally { Environment.CurrentDirectory = cwd; }
    }

    // 3. Estimates come from this machine's measured speed.
    [Fact]
    public void EstimatesScaleWithThisMachinesMeasuredSpeedWhichIsCached()
    {
        var runs = new SweepSpec { Layers = [[200, 200]], Seeds = 2, Epochs = 3 }.Expand();
        double reference = Reproduction.EstimateSeconds(runs);
        var twiceAsSlow = new SpeedCalibration(2 * MachineSpeed.ReferenceSecondsPerWeightImage, 2, "x", DateTime.UtcNow);
        Assert.Equal(2 * reference, Reproduction.EstimateSeconds(runs, twiceAsSlow), 6);
        Assert.Equal("45 s to 90 s", Reproduction.Range(60));
        Assert.Equal("30 min to 60 min", Reproduction.Range(2400));

        string cache = Path.Combine(_dir, "cache");
        var measured = MachineSpeed.Current(cache);
        Assert.InRange(measured.SecondsPerWeightImage, 1e-13, 1e-8);
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(cache, "speed.json")))!.AsObject();
        Assert.Equal(measured.SecondsPerWeightImage, file[MachineSpeed.CacheKey]!["seconds_per_weight_image"]!.GetValue<double>());
        // A cached figure for this machine is used as it is (a second cache folder, written by hand).
        string other = Directory.CreateDirectory(Path.Combine(_dir, "cache2")).FullName;
        File.WriteAllText(Path.Combine(other, "speed.json"), new JsonObject
        {
            [MachineSpeed.CacheKey] = new JsonObject { ["seconds_per_weight_image"] = 7e-11, ["measured_utc"] = DateTime.UtcNow.AddHours(-1).ToString("o") },
        }.ToJsonString());
        Assert.Equal(7e-11, MachineSpeed.Current(other).SecondsPerWeightImage);
        Assert.Equal(3.5, MachineSpeed.Current(other).RelativeToReference, 6);

        // A run's observed speed replaces the cached one, unless it is 10× off the reference machine
        // (another job on the cores, a misjudged relative cost): then it says nothing about the machine.
        MachineSpeed.Observe(100 * MachineSpeed.ReferenceSecondsPerWeightImage, other);
        Assert.Equal(7e-11, JsonNode.Parse(File.ReadAllText(Path.Combine(other, "speed.json")))![MachineSpeed.CacheKey]!["seconds_per_weight_image"]!.GetValue<double>());
        MachineSpeed.Observe(3e-11, other);
        Assert.Equal(3e-11, JsonNode.Parse(File.ReadAllText(Path.Combine(other, "speed.json")))![MachineSpeed.CacheKey]!["seconds_per_weight_image"]!.GetValue<double>());
    }

    [Fact]
    public void TrainAndSweepPrintTheirEstimateForThisMachine()
    {
        string data = Data();
        var (code, _, err) = Run("train", "--layers", "16", "--epochs", "1", "--data-dir", data, "--no-download", "--out", Path.Combine(_dir, "t"));
        Assert.True(code == 0, err);
        Assert.Matches(@"estimated time: \d+ s to \d+ s on this machine", err);
        (code, _, err) = Run("sweep", "--grid", "layers=16", "--seeds", "1", "--epochs", "1", "--data-dir", data, "--results", Path.Combine(_dir, "sweep"));
        Assert.True(code == 0, err);
        Assert.Contains("1 run(s) to train, estimated at", err);
        Assert.Contains("speed measured", err);
        (code, _, err) = Run("sweep", "--grid", "layers=16", "--seeds", "1", "--epochs", "1", "--data-dir", data, "--results", Path.Combine(_dir, "sweep"));
        Assert.Contains("every run is finished already", err);
    }

    // 4. Every command that takes a model takes a run folder.
    [Fact]
    public void AnalyzeAndVisualizeTakeARunFolder()
    {
        string run = TrainedFolder();
        var (code, output, err) = Run("analyze", "--model", run);
        Assert.True(code == 0, err); // before: "Model file not found"
        Assert.Contains("written:", output);
        (code, _, err) = Run("visualize", "--model", run, "--batch", "20", "--out", Path.Combine(_dir, "vis"), "--data-dir", Data(), "--no-download");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(_dir, "vis", "hsv_map.png")));
    }

    // 5. Typos: exit 2, one line, the nearest option, where the help is.
    [Fact]
    public void AnUnknownOptionIsOneLineWithASuggestionAndExitCode2()
    {
        var (code, output, err) = Run("train", "--epoch", "3");
        Assert.Equal(2, code); // before: 1 and 40+ lines of help
        Assert.Equal(["error: fflib train has no option --epoch (did you mean --epochs?)", "see fflib train --help"], err.Trim().Split('\n').Select(l => l.Trim()));
        Assert.Empty(output);
        (code, _, err) = Run("trian");
        Assert.Equal(2, code);
        Assert.StartsWith("error: unknown command 'trian' (did you mean train?)", err);
        (code, _, err) = Run("eval");
        Assert.Equal(2, code);
        Assert.StartsWith("error: fflib eval needs --model.", err);
        Assert.Equal(" (did you mean --threshold?)", Cli.ParseErrors.Suggest("--treshold", ["--threshold", "--threads"]));
        Assert.Equal("", Cli.ParseErrors.Suggest("--zzz", ["--threshold", "--threads"]));
        Assert.Equal(3, Cli.ParseErrors.Distance("kitten", "sitting"));
    }

    // 6. An unoptimised build says so.
    [Fact]
    public void TheLibraryKnowsWhetherItRunsUnoptimised()
    {
        // The tests and the library are built in the same configuration: the library's answer must match ours.
        bool testsUnoptimised = typeof(NewcomerTests).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true;
        Assert.Equal(testsUnoptimised, Compute.BuildCheck.Unoptimised);
    }

    // 7. A folder that is not a results folder: say what one is; exit 2, not the I/O code.
    [Fact]
    public void StatusAndReportOnATrainingFolderExplainWhatAResultsFolderIs()
    {
        string run = TrainedFolder(Path.Combine("runs", "20260101-000000-ffnn-mnist"));
        foreach (var command in new[] { "status", "report" })
        {
            var (code, _, err) = Run(command, "--results", Path.Combine(_dir, "runs"));
            Assert.Equal(2, code); // before: 5
            Assert.Contains("holds single training runs", err);
            Assert.Contains("fflib sweep --results DIR", err);
            (code, _, err) = Run(command, "--results", run);
            Assert.Equal(2, code);
        }
    }

    // 8. One spelling per setting: the option's.
    [Fact]
    public void SettingsAreSpelledAsTheirOptionsEverywhere()
    {
        string data = Data();
        string outDir = Path.Combine(_dir, "names");
        var (code, _, err) = Run("train", "--layers", "16,12", "--epochs", "1", "--data-dir", data, "--no-download", "--out", outDir);
        Assert.True(code == 0, err);
        string header = err.Split('\n').First(l => l.StartsWith("fflib train:", StringComparison.Ordinal));
        Assert.Contains("layers 16,12", header); // before: "ffnn 16×12"
        Assert.Contains("threshold 20, loss min, negatives random", header);
        Assert.DoesNotContain("θ", header);
        Assert.DoesNotContain("L−", header);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.Equal("random", run["config"]!["negatives"]!.GetValue<string>()); // before: "Random"
        Assert.Equal("min", run["config"]!["loss"]!.GetValue<string>());

        (code, _, err) = Run("train", "--model", "bpnn", "--layers", "16", "--epochs", "1", "--data-dir", data, "--no-download", "--out", Path.Combine(_dir, "bp"));
        Assert.True(code == 0, err);
        header = err.Split('\n').First(l => l.StartsWith("fflib train:", StringComparison.Ordinal));
        Assert.DoesNotContain("threshold", header); // before: "θ 20 Minimize" on BPNN runs
        Assert.Contains("loss cross-entropy", header);

        var bpnn = new SweepSpec { Models = [Models.Architecture.Bpnn], Layers = [[16]] }.Expand()[0];
        Assert.Equal("bpnn mnist layers 16 lr 0.0001 seed 0", SweepRunner.Describe(bpnn));
        var ffnn = new SweepSpec { Layers = [[2000, 2000]] }.Expand()[0];
        Assert.Equal("ffnn mnist layers 2000,2000 lr 0.02 threshold 20 loss min seed 0", SweepRunner.Describe(ffnn));
    }

    // 10. Quiet stretches and misleading colours.
    [Fact]
    public void ASweepReportsEveryEpochOfItsRuns()
    {
        var runs = new SweepSpec { Layers = [[16]], Seeds = 1, Epochs = 2, BatchSize = 50, Data = new FFLib.Data.DatasetLoadOptions { DataDirectory = Data(), AllowDownload = false } }.Expand();
        var log = new List<string>();
        SweepRunner.Run(runs, Path.Combine(_dir, "results"), new SweepWorkerOptions { Log = log.Add });
        Assert.Contains(log, l => Regex.IsMatch(l, @"^\s+epoch 1: validation accuracy [\d.]+%, [\d.]+ s$"));
        Assert.Contains(log, l => Regex.IsMatch(l, @"^\s+epoch 2: validation accuracy"));
    }

    [Fact]
    public void HeatmapColoursDoNotPaintNoiseAtChanceAsADifference()
    {
        var (low, high, note) = Plotting.Plots.HeatmapScale([8.8, 9.6, 9.1], hoyer: false, classes: 10);
        Assert.Equal((0.0, 100.0), (low, high)); // before: 8.8–9.6, two chance-level runs in different colours
        Assert.Equal("all at chance level (10 %)", note);
        (low, high, note) = Plotting.Plots.HeatmapScale([97.9, 98.1], hoyer: false, classes: 10);
        Assert.Equal((96.1, 98.1), (Math.Round(low, 6), high)); // at least 2 points wide
        Assert.Null(note);
        (low, high, _) = Plotting.Plots.HeatmapScale([60, 98], hoyer: false, classes: 10);
        Assert.Equal((60.0, 98.0), (low, high));
        (low, high, _) = Plotting.Plots.HeatmapScale([0.30, 0.31], hoyer: true, classes: 10);
        Assert.Equal(0.26, low, 6);
    }

    // 9. The README lists every package its samples need.
    [Fact]
    public void TheReadmeNamesEveryProjectTheExamplesReference()
    {
        string root = TestUtil.RepoRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string installing = readme[readme.IndexOf("## Installing", StringComparison.Ordinal)..];
        installing = installing[..installing.IndexOf("\n## ", 5, StringComparison.Ordinal)];
        var referenced = Directory.GetFiles(Path.Combine(root, "examples"), "*.csproj", SearchOption.AllDirectories)
            .SelectMany(p => Regex.Matches(File.ReadAllText(p), @"ProjectReference Include=""[^""]*[/\\](src[/\\][^""]+\.csproj)""").Select(m => m.Groups[1].Value.Replace('\\', '/')))
            .Distinct().ToArray();
        Assert.NotEmpty(referenced);
        foreach (var project in referenced) Assert.Contains(project, installing);
        // One figure for the test suite's time: the first lines and the Tests section agree.
        var times = readme.Split('\n').Where(l => l.Contains("dotnet test FFLib.slnx", StringComparison.Ordinal))
            .SelectMany(l => Regex.Matches(l, @"\d+(?:[–-]\d+)? minutes?").Select(m => m.Value)).Distinct().ToArray();
        Assert.True(times.Length == 1, "the README gives the tests' time as " + string.Join(" and ", times));
    }
}
