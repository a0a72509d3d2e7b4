using FFLib.Compute;
using FFLib.Export;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The CNNs' inference graphs (convolution, per-channel bias, max-pooling, class goodness, colour
/// gather) score as the models do, in the plain interpreter, in ONNX Runtime and as compiled C.
/// </summary>
public sealed class CnnExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-cnn-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A small CNN of one variant, trained a few batches on random images so that no weight is its initial value.</summary>
    internal static IInferenceExportable SmallCnn(string variant, int seed = 3)
    {
        bool colour = variant.EndsWith("-colour", StringComparison.Ordinal);
        string kind = colour ? variant[..^"-colour".Length] : variant;
        var settings = new ModelSettings { HiddenSizes = [8, 6], Threshold = 0.4f, Loss = LossDirection.Minimize, LearningRate = 0.01f }
            .With(CnnSettings.Conv, colour ? "3p,3p" : "3p,3");
        settings = kind switch
        {
            "ffcnn-fourier" or "bpcnn" => settings,
            "ffcnn-maximize" => settings with { Loss = LossDirection.Maximize },
            "ffcnn-corner" => settings.With(CnnSettings.Labels, LabelEncoding.Corner),
            "ffcnn-competitive" => settings.With(CnnSettings.Objective, ConvObjective.Competitive),
            "ffcnn-competitive-bn" => settings.With(CnnSettings.Objective, ConvObjective.Competitive).With(CnnSettings.BatchNorm, true),
            "ffcnn-linear" => settings.With(CnnSettings.Head, ConvHead.Linear),
            "ffcnn-channels" => settings.With(CnnSettings.Labels, LabelEncoding.Channels),
            "ffcnn-position-channels" => settings.With(CnnSettings.Goodness, ConvGoodness.Position).With(CnnSettings.Labels, LabelEncoding.Channels),
            "ffcnn-channels-linear" => settings.With(CnnSettings.Labels, LabelEncoding.Channels).With(CnnSettings.Head, ConvHead.Linear),
            "ffcnn-position" => settings.With(CnnSettings.Goodness, ConvGoodness.Position),
            _ => throw new ArgumentException(variant),
        };
        int features = colour ? 3072 : 100, classes = 4;
        var model = (ITrainableModel)ArchitectureRegistry.Get(kind == "bpcnn" ? "bpcnn" : "ffcnn").Create(settings, features, classes, new FFRandom(seed));
        var images = ExportTests.RandomImages(12, features, seed + 1);
        var labels = Enumerable.Range(0, 12).Select(i => i % classes).ToArray();
        var negative = new Matrix(12, classes);
        for (int i = 0; i < 12; i++) negative.Data[i * classes + (labels[i] + 1) % classes] = 1f;
        foreach (var phase in model.PlanEpochs(2))
            for (int step = 0; step < 2; step++) model.TrainBatch(images, labels, negative, phase);
        return (IInferenceExportable)model;
    }

    private static Matrix Scores(IClassifierModel model, Matrix images) => model switch
    {
        FFConvNetwork f when f.Config.Head == ConvHead.Linear => f.Logits(images),
        ILabelScorer s => s.LabelScores(images),
        BackpropConvNetwork b => b.Logits(images),
        _ => throw new ArgumentException(model.GetType().Name),
    };

    private static int Features(string variant) => variant.EndsWith("-colour", StringComparison.Ordinal) ? 3072 : 100;

    [Theory]
    [InlineData("bpcnn")]
    [InlineData("bpcnn-colour")]
    [InlineData("ffcnn-fourier")]
    [InlineData("ffcnn-maximize")]
    [InlineData("ffcnn-corner")]
    [InlineData("ffcnn-competitive")]
    [InlineData("ffcnn-competitive-bn")]
    [InlineData("ffcnn-competitive-colour")]
    [InlineData("ffcnn-linear")]
    [InlineData("ffcnn-fourier-colour")]
    [InlineData("ffcnn-channels")]
    [InlineData("ffcnn-channels-linear")]
    [InlineData("ffcnn-position")]
    [InlineData("ffcnn-position-channels")]
    public void TheInterpretedGraphScoresAsTheCnnDoes(string variant)
    {
        var model = SmallCnn(variant);
        var images = ExportTests.RandomImages(6, Features(variant), 99);
        var graph = model.BuildInferenceGraph();
        Assert.Equal(4, graph.Width(graph.Scores));
        Assert.Contains(graph.Ops, o => o.Kind == InferenceOpKind.Conv2d);
        ExportTests.AssertClose(Scores(model, images), model.GraphScores(images), 2e-5);
        var predicted = LabelProbe.Predict(model.GraphScores(images), graph.PredictLowest ? LossDirection.Minimize : LossDirection.Maximize);
        Assert.Equal(model.Predict(images), predicted);
    }

    [Theory]
    [InlineData("bpcnn", false)]
    [InlineData("bpcnn-colour", true)]
    [InlineData("ffcnn-fourier", false)]
    [InlineData("ffcnn-competitive", true)]
    [InlineData("ffcnn-competitive-bn", false)]
    [InlineData("ffcnn-competitive-colour", false)]
    [InlineData("ffcnn-linear", true)]
    [InlineData("ffcnn-channels", true)]
    [InlineData("ffcnn-channels-linear", false)]
    [InlineData("ffcnn-position", false)]
    [InlineData("ffcnn-position-channels", true)]
    public void OnnxRuntimeRunsTheCnnAsTheModel(string variant, bool int8)
    {
        IClassifierModel model = SmallCnn(variant);
        if (int8) model = ExportTests.Int8RoundTrip(model, _dir);
        string onnx = Path.Combine(_dir, $"{variant}.onnx");
        OnnxExporter.Save(model, onnx, new ExportOptions { Int8 = int8 });
        var images = ExportTests.RandomImages(9, Features(variant), 7);
        var (classes, scores) = OnnxExportTests.RunOnnx(onnx, images);
        ExportTests.AssertClose(Scores(model, images), scores, 2e-5);
        Assert.Equal(model.Predict(images), classes.Select(c => (int)c).ToArray());
        Assert.Single(OnnxExportTests.RunOnnx(onnx, ExportTests.RandomImages(1, Features(variant), 8)).Classes);
    }

    [Theory]
    [InlineData("bpcnn", true)]
    [InlineData("bpcnn-colour", false)]
    [InlineData("ffcnn-fourier", true)]
    [InlineData("ffcnn-competitive", false)]
    [InlineData("ffcnn-competitive-bn", true)]
    [InlineData("ffcnn-competitive-colour", true)]
    [InlineData("ffcnn-linear", false)]
    [InlineData("ffcnn-channels", false)]
    [InlineData("ffcnn-channels-linear", true)]
    [InlineData("ffcnn-position", true)]
    [InlineData("ffcnn-position-channels", false)]
    public void CompiledCRunsTheCnnAsTheModel(string variant, bool int8)
    {
        IClassifierModel model = SmallCnn(variant);
        var result = CExporter.Save(model, _dir, new ExportOptions { Int8 = int8 });
        if (int8) model = ExportTests.Int8RoundTrip(model, _dir);
        var images = ExportTests.RandomImages(9, Features(variant), 11);
        var (classes, scores) = CExportTests.CompileAndRun(_dir, images);
        ExportTests.AssertClose(Scores(model, images), scores, 2e-5);
        Assert.Equal(model.Predict(images), classes);
        string source = File.ReadAllText(result.Source);
        Assert.DoesNotContain("malloc", source);
        // Label channels: every label's input is gathered the same way, so each layer's index table is stored once.
        if (variant == "ffcnn-channels") Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(source, @"static const int i\d+\[").Count);
    }
}
