using System.Text.Json.Nodes;
using FFLib.Data;
using FFLib.Experiments;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>Settings declared once per architecture: ids, records, grids, options and checkpoints derived from the declarations.</summary>
public sealed class SettingsTests
{
    private static readonly ModelSettings Everything = new()
    {
        HiddenSizes = [40, 30], Threshold = 5f, Loss = LossDirection.Maximize, LearningRate = 0.01f, ClassifierLearningRate = 1e-3f,
        Beta = 0.5f, TrainFrames = 3, TestFrameLow = 1, TestFrameHigh = 4,
    };

    private static RunSpec Run(Architecture a, ModelSettings m) =>
        new() { Architecture = a, Dataset = DatasetKind.FashionMnist, Model = m, Seed = 3, TrainLimit = 1000, Training = new TrainingOptions { Epochs = 2, BatchSize = 50 } };

    [Theory]
    // Ids computed by the build before settings were declared per architecture (commit b3b08bc): every id ever written still names its run.
    [InlineData("ffnn", "54237d231754e37d", "1cc41d23d286f3e7")]
    [InlineData("ffc", "daaf3bbba54f8b63", "9a567dd68fc600c7")]
    [InlineData("ffrnn", "1d1e12241884c869", "a5ff99bc2ae1a07a")]
    [InlineData("bpnn", "72c136f417204d4c", "37f8ee73d1a6d172")]
    public void RunIdsAreThoseOfEarlierVersions(string arch, string everySettingSet, string defaults)
    {
        var a = ArchitectureRegistry.Get(arch);
        Assert.Equal(everySettingSet, SweepRunner.RunId(Run(a, Everything)));
        Assert.Equal(defaults, SweepRunner.RunId(new RunSpec { Architecture = a }));
    }

    [Fact]
    public void GridIdsAreThoseOfEarlierVersions()
    {
        string[] before = ["04ccba718c730f44","f2f5813eb7fa4386","f22bfe42166c17da","17e3189fdc0c9300","9177a92f07bac54d","a78981415e6d42ef","806529bcd73cc3ef","982c8b01c75cb34f","3618cb32f12d1818","de8dedaffa06e836","c240240d95e67b23","181c54a0318717c5","b77577c622d4adfd","9c208562f26ebab7","04636796b3cceb36","e6cf565378c89dc4","9b1d0b7d08e16250","8c0de4ae83774677","34bd0fcdec5c8b5c","a2facee34fd406e7","e3689e7fb3322a51","487d057fed73afeb","57f63b6e6c3ad816","96d42b5e74e92818","e3a94c1099cec5c8","e9509c72fec5df8b",];
        var spec = new SweepSpec
        {
            Models = [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn, Architecture.Bpnn], Thresholds = [1, 5],
            Losses = [LossDirection.Minimize, LossDirection.Maximize], LearningRates = [0.01f, 0.02f], Seeds = 1,
        };
        Assert.Equal(before.Length, spec.RunCount);
        Assert.Equal(before.Order(), spec.Expand().Select(SweepRunner.RunId).Order());
    }

    [Fact]
    public void ASettingAtItsDefaultChangesNoIdAndAnyOtherValueDoes()
    {
        var run = Run(Architecture.Ffrnn, Everything);
        var atDefault = run with { Model = run.Model.With(FFRecurrentSettings.Beta, 0.7f) };
        var unchanged = run with { Model = Everything with { Beta = 0.7f } };
        Assert.Equal(SweepRunner.RunId(atDefault), SweepRunner.RunId(unchanged));
        Assert.NotEqual(SweepRunner.RunId(run), SweepRunner.RunId(atDefault));
        // A setting the architecture does not declare never enters its id.
        var ffnn = Run(Architecture.Ffnn, Everything);
        Assert.Equal(SweepRunner.RunId(ffnn), SweepRunner.RunId(ffnn with { Model = Everything.With(FFRecurrentSettings.TrainFrames, 7) }));
    }

    [Fact]
    public void EveryBuiltInSettingHasOneKeyAndItsOwnersAreTheArchitecturesThatDeclareIt()
    {
        var keys = ArchitectureRegistry.Settings.Select(s => s.Key).ToArray();
        Assert.Equal(keys.Distinct().Count(), keys.Length);
        Assert.Subset(keys.ToHashSet(), new HashSet<string> { "threshold", "loss", "classifier_lr", "beta", "k_train", "k_test_low", "k_test_high" });
        Assert.Same(FFRecurrentSettings.TrainFrames, ArchitectureRegistry.FindSetting("k-train"));
        Assert.Same(FFRecurrentSettings.TrainFrames, ArchitectureRegistry.FindSetting("TrainFrames")); // older checkpoints' spelling
        Assert.Equal(["ffrnn"], ArchitectureRegistry.UsersOf(FFRecurrentSettings.Beta).Select(a => a.Id));
        Assert.Equal(["ffnn", "ffc", "ffrnn"], ArchitectureRegistry.UsersOf(FFSettings.Threshold).Select(a => a.Id).Take(3));
        Assert.Empty(Architecture.Bpnn.Settings);
    }

    [Fact]
    public void ParsingAndValidationNameTheSettingNotAProperty()
    {
        Assert.Equal(LossDirection.Maximize, FFSettings.Loss.Parse("L+"));
        Assert.Equal("max", FFSettings.Loss.Format(LossDirection.Maximize));
        Assert.Contains("not one of min, max", Assert.Throws<FormatException>(() => FFSettings.Loss.Parse("sideways")).Message);
        Assert.Contains("not a whole number", Assert.Throws<FormatException>(() => FFRecurrentSettings.TrainFrames.Parse("2.5")).Message);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Architecture.Ffrnn.ValidateSettings(new ModelSettings { TestFrameLow = 5, TestFrameHigh = 6 }));
        Assert.Equal("k_test_high", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Architecture.Ffnn.ValidateSettings(new ModelSettings { Threshold = float.NaN }));
        Assert.Equal("threshold", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Architecture.Ffc.ValidateSettings(new ModelSettings { ClassifierLearningRate = 0 }));
        Assert.Equal("classifier_lr", e.ParamName);
        Assert.Throws<ArgumentException>(() => new ModelSettings().With(FFRecurrentSettings.TrainFrames, 2.5f));
    }

    [Fact]
    public void ASecondDeclarationOfAKnownKeyIsRefused()
    {
        var clash = new DeclaringArchitecture("test-clash", ModelSetting.Number("threshold", 1f, "another θ"));
        Assert.Contains("reuse that declaration", Assert.Throws<ArgumentException>(() => ArchitectureRegistry.Register(clash)).Message);
        var reserved = new DeclaringArchitecture("test-reserved", ModelSetting.Number("lr", 1f, "a second learning rate"));
        Assert.Contains("already", Assert.Throws<ArgumentException>(() => ArchitectureRegistry.Register(reserved)).Message);
        Assert.Null(ArchitectureRegistry.Find("test-clash"));
    }

    [Fact]
    public void CheckpointSettingsOfEarlierVersionsAndOfThisOneReadBack()
    {
        // The form the build before wrote (property names, enum names, every value).
        const string before = """{"Architecture":"ffrnn","Dataset":"Mnist","Model":{"HiddenSizes":[16,12],"LearningRate":null,"Threshold":0.5,"Loss":"Maximize","ClassifierLearningRate":0.001,"Beta":0.6,"TrainFrames":2,"TestFrameLow":1,"TestFrameHigh":3},"Seed":7}""";
        var old = TrainingCheckpoint.ReadSpec(before)!;
        Assert.Equal(new ModelSettings { HiddenSizes = [16, 12], Threshold = 0.5f, Loss = LossDirection.Maximize, ClassifierLearningRate = 1e-3f, Beta = 0.6f, TrainFrames = 2, TestFrameLow = 1, TestFrameHigh = 3 }, old.Model);
        string now = System.Text.Json.JsonSerializer.Serialize(old, TrainingCheckpoint.Json);
        var model = JsonNode.Parse(now)!["Model"]!.AsObject();
        Assert.Equal(["layers", "lr", "beta", "classifier_lr", "k_test_high", "k_test_low", "k_train", "loss", "threshold"], model.Select(p => p.Key));
        Assert.Equal("max", model["loss"]!.GetValue<string>());
        Assert.Equal(old.Model, TrainingCheckpoint.ReadSpec(now)!.Model);
        Assert.Equal(SweepRunner.RunId(old), SweepRunner.RunId(TrainingCheckpoint.ReadSpec(now)!));
        var bad = before.Replace("\"TrainFrames\":2", "\"TrainFrames\":\"two\"");
        Assert.Contains("TrainFrames", Assert.Throws<System.Text.Json.JsonException>(() => TrainingCheckpoint.ReadSpec(bad)).Message);
    }

    [Fact]
    public void AGridVariesAnyDeclaredSettingAndOnlyForTheArchitecturesThatDeclareIt()
    {
        var spec = new SweepSpec { Models = [Architecture.Ffnn, Architecture.Ffrnn], Layers = [[10]], Seeds = 2 }
            .WithGrid(FFRecurrentSettings.TrainFrames, [2, 3, 4]);
        spec.Validate();
        var runs = spec.Expand();
        Assert.Equal(2 + 3 * 2, runs.Count); // the FFNN runs once for K_train
        Assert.Equal(spec.RunCount, runs.Count);
        Assert.Equal([2, 3, 4], runs.Where(r => r.Architecture == Architecture.Ffrnn).Select(r => r.Model.TrainFrames).Distinct());
        Assert.Contains(" k-train 3 ", SweepRunner.Describe(runs.First(r => r.Model.TrainFrames == 3 && r.Architecture == Architecture.Ffrnn)));
        var e = Assert.Throws<ArgumentException>(() => (spec with { Models = [Architecture.Ffnn] }).Validate());
        Assert.Contains("none of its models (ffnn) has; it is a setting of ffrnn", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => spec.WithGrid(FFRecurrentSettings.TrainFrames, [0]).Validate());
        Assert.Contains("K_train must be at least 1", e.Message);
    }

    [Fact]
    public void TrainRefusesASettingItsModelDoesNotHaveAndNamesTheOption()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-settings-").FullName;
        try
        {
            var r = CliProcess.Run(dir, "train", "--model", "ffnn", "--beta", "0.5", "--no-download");
            Assert.Equal(2, r.Code);
            Assert.Contains("--beta is a setting of ffrnn; ffnn has no such setting (its settings: --threshold, --loss, --peer-norm, --activity-l1, --weight-decay)", r.Err);
            r = CliProcess.Run(dir, "train", "--model", "ffrnn", "--k-test-low", "5", "--k-test-high", "6", "--no-download");
            Assert.Equal(2, r.Code);
            Assert.Contains("--k-test-high 6: K_testhigh (6) must exceed K_testlow + 1 (6)", r.Err);
            r = CliProcess.Run(dir, "train", "--model", "ffrnn", "--k-train", "two", "--no-download");
            Assert.Equal(2, r.Code);
            Assert.Contains("--k-train: 'two' is not a whole number", r.Err);
            r = CliProcess.Run(dir, "train", "--help");
            Assert.Equal(0, r.Code);
            foreach (var s in ArchitectureRegistry.Settings) Assert.Contains("--" + s.OptionName, r.Out);
            r = CliProcess.Run(dir, "train", "--resume", "nothing-here");
            Assert.Equal(3, r.Code);
            Assert.Contains("resume needs a run started with --checkpoint-every set", r.Err); // the library says RunSpec.CheckpointEvery
            Assert.Empty(Directory.EnumerateFileSystemEntries(dir)); // refused before anything was written
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private sealed class DeclaringArchitecture(string id, ModelSetting setting) : Architecture
    {
        public override string Id => id;
        public override string DisplayName => id;
        public override string Description => "a test architecture";
        public override IReadOnlyList<ModelSetting> Settings => [FFSettings.Threshold, setting];
        public override IClassifierModel FromConfig(JsonObject config) => throw new NotSupportedException();
        public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, Compute.FFRandom random) => throw new NotSupportedException();
    }
}

/// <summary>Optimiser state in training checkpoints, saved under the parameters' names.</summary>
public sealed class OptimizerStateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-adam-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ITrainableModel Trained(string arch)
    {
        var random = new Compute.FFRandom(4);
        var model = (ITrainableModel)ArchitectureRegistry.Get(arch).Create(new ModelSettings { HiddenSizes = [9, 7], TrainFrames = 2, TestFrameLow = 1, TestFrameHigh = 3 }, 12, 3, random);
        var images = new Compute.Matrix(6, 12);
        for (int i = 0; i < images.Data.Length; i++) images.Data[i] = (i * 7 % 11) / 11f;
        int[] labels = [0, 1, 2, 0, 1, 2];
        foreach (var phase in model.PlanEpochs(2)) model.TrainBatch(images, labels, NegativeControl.OneHot([1, 2, 0, 2, 0, 1], 3), phase);
        return model;
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffc")]
    [InlineData("ffrnn")]
    [InlineData("bpnn")]
    public void MomentsAreSavedUnderTheParameterNameAndFilesOfEarlierVersionsLoad(string arch)
    {
        var model = Trained(arch);
        string path = Path.Combine(_dir, arch + ".safetensors");
        TrainingCheckpoint.Save(path, model, new Compute.FFRandom(1), 1, [], new RunSpec { Architecture = model.Architecture });
        var file = IO.SafeTensors.Read(path);
        // Every optimiser array is a parameter, saved as NAME.adam_m / NAME.adam_v in the parameter's shape.
        var parameters = model.Parameters().ToDictionary(p => p.Name);
        var groups = JsonNode.Parse(file.Metadata["optimizer_parameters"])!.AsArray().Select(g => g!.AsArray().Select(n => n!.GetValue<string>()).ToArray()).ToArray();
        Assert.Equal(model.AllOptimizers.Count, groups.Length);
        Assert.All(groups.SelectMany(g => g), name => Assert.True(parameters.ContainsKey(name), $"{name} is no parameter"));
        Assert.Equal(parameters["layers.0.weight".Replace("weight", arch == "ffrnn" ? "forward_weight" : "weight")].Shape, file.Get(groups[0][0] + ".adam_m").Shape);
        Assert.DoesNotContain(file.Tensors, t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal));
        var state = TrainingCheckpoint.Load(path).Model;
        AssertSameMoments(model, state);

        // The same state as an earlier version wrote it: optimizer.{i}.m.{j}, no optimizer_parameters.
        var old = file.Tensors.Select(t =>
        {
            foreach (var (g, i) in groups.Select((g, i) => (g, i)))
                for (int j = 0; j < g.Length; j++)
                {
                    if (t.Name == g[j] + ".adam_m") return t with { Name = $"optimizer.{i}.m.{j}", Shape = [t.Data.Length] };
                    if (t.Name == g[j] + ".adam_v") return t with { Name = $"optimizer.{i}.v.{j}", Shape = [t.Data.Length] };
                }
            return t;
        }).ToArray();
        var meta = file.Metadata.Where(p => p.Key != "optimizer_parameters").ToDictionary(p => p.Key, p => p.Value);
        string oldPath = Path.Combine(_dir, arch + "-old.safetensors");
        IO.SafeTensors.Write(oldPath, old, meta);
        AssertSameMoments(model, TrainingCheckpoint.Load(oldPath).Model);
    }

    private static void AssertSameMoments(ITrainableModel expected, ITrainableModel actual)
    {
        Assert.Equal(expected.AllOptimizers.Count, actual.AllOptimizers.Count);
        for (int i = 0; i < expected.AllOptimizers.Count; i++)
        {
            var (e, a) = (expected.AllOptimizers[i], actual.AllOptimizers[i]);
            Assert.Equal(e.StepCount, a.StepCount);
            Assert.True(e.StepCount > 0 || i > 0, "the first optimiser took steps");
            for (int j = 0; j < e.ParameterCount; j++)
            {
                Assert.Equal(e.FirstMoments[j], a.FirstMoments[j]);
                Assert.Equal(e.SecondMoments[j], a.SecondMoments[j]);
            }
        }
    }
}
