using FFLib.Compute;
using FFLib.Data;
using FFLib.Export;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Exports of models trained on real MNIST, checked on all 10,000 test images: ONNX Runtime gives
/// the model's predictions, the compiled C gives the int8 model file's; and the CLI's export
/// refuses bad input with one clear line.
/// </summary>
[Collection("RealData")]
public sealed class ExportRealDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-export-real-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => CliTestsAccess.Run(args);

    [Theory]
    [InlineData("ffnn")]
    [InlineData("bpnn")]
    public void OnnxAndCAgreeWithTheModelOnTheWholeTestSet(string arch)
    {
        string run = Path.Combine(_dir, arch);
        var result = TrainingRun.Execute(new RunSpec
        {
            Architecture = ArchitectureRegistry.Get(arch),
            Model = new ModelSettings { HiddenSizes = [100, 60], LearningRate = arch == "bpnn" ? 1e-3f : null },
            // FF training has a slow start (EndToEndTests): the FFNN needs a few full passes.
            Training = new TrainingOptions { Epochs = arch == "bpnn" ? 2 : 4 },
            TrainLimit = arch == "bpnn" ? 12000 : null,
            Data = new DatasetLoadOptions { AllowDownload = false },
            OutputDirectory = run,
        });
        var test = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false }).Test;
        var images = new Matrix(test.Count, test.Features);
        test.CopyImages(Enumerable.Range(0, test.Count).ToArray(), images.Data);
        var model = ModelCheckpoint.Load(Path.Combine(run, "model.safetensors")).Model;
        var expected = model.Predict(images);
        // Far from converged (the point is agreement), but a real model: above chance, every class predicted.
        Assert.InRange(expected.Zip(Enumerable.Range(0, test.Count)).Count(p => p.First == test.Label(p.Second)) / (double)test.Count, 0.15, 1.0);
        Assert.Equal(10, expected.Distinct().Count());

        ExportAndCompare(arch, run, model, images);
    }

    /// <summary>
    /// ONNX through the CLI from the float model, run in ONNX Runtime against the model; C through the CLI
    /// from its int8 file (int8 weights by default), compiled and run against the int8 model as the library loads it.
    /// Returns the int8 file.
    /// </summary>
    private string ExportAndCompare(string name, string run, IClassifierModel model, Matrix images)
    {
        string onnx = Path.Combine(_dir, name + ".onnx");
        var (code, output, err) = Cli("export", "--model", run, "--format", "onnx", "--out", onnx);
        Assert.True(code == 0, err);
        Assert.Contains("written:", output);
        var (classes, scores) = OnnxExportTests.RunOnnx(onnx, images);
        Assert.Equal(model.Predict(images), classes.Select(c => (int)c).ToArray());
        ExportTests.AssertClose(ExportTests.ModelScores(model, images), scores, 1e-5);

        string int8File = Path.Combine(_dir, name + ".int8.safetensors");
        ModelCheckpoint.SaveInt8(int8File, model);
        var int8Model = ModelCheckpoint.Load(int8File).Model;
        string cDir = Path.Combine(_dir, name + "-c");
        (code, output, err) = Cli("export", "--model", int8File, "--format", "c", "--out", cDir);
        Assert.True(code == 0, err);
        Assert.Contains("int8 weights", output);
        var (cClasses, cScores) = CExportTests.CompileAndRun(cDir, images);
        Assert.Equal(int8Model.Predict(images), cClasses);
        ExportTests.AssertClose(ExportTests.ModelScores(int8Model, images), cScores, 1e-5);
        return int8File;
    }

    [Theory]
    [InlineData("ffcnn")]
    [InlineData("bpcnn")]
    public void CnnExportsAgreeWithTheModelOnRealImages(string arch)
    {
        // The competitive FF CNN (the one the prunability study prunes) and the backprop CNN, small and briefly trained.
        string run = Path.Combine(_dir, arch);
        TrainingRun.Execute(new RunSpec
        {
            Architecture = ArchitectureRegistry.Get(arch),
            Model = new ModelSettings { HiddenSizes = [20, 40], LearningRate = arch == "bpcnn" ? 1e-3f : 3e-3f }
                .With(CnnSettings.Conv, "5p,3p").With(CnnSettings.Objective, ConvObjective.Competitive),
            Training = new TrainingOptions { Epochs = 1, BatchSize = 64 },
            TrainLimit = 6000,
            TestLimit = 500,
            Data = new DatasetLoadOptions { AllowDownload = false },
            OutputDirectory = run,
        });
        var test = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false }).Test.Take(2000);
        var images = new Matrix(test.Count, test.Features);
        test.CopyImages(Enumerable.Range(0, test.Count).ToArray(), images.Data);
        var model = ModelCheckpoint.Load(Path.Combine(run, "model.safetensors")).Model;
        var expected = model.Predict(images);
        // Far from converged (the competitive FF CNN is near 40 % after these 94 batches; the point is agreement), but a real model.
        double accuracy = expected.Zip(Enumerable.Range(0, test.Count)).Count(p => p.First == test.Label(p.Second)) / (double)test.Count;
        Assert.True(accuracy > 0.25 && expected.Distinct().Count() >= 5, $"accuracy {accuracy:P1}, {expected.Distinct().Count()} classes predicted");

        // C from the int8 file: the kernels are int8 too, one scale per output channel.
        string int8File = ExportAndCompare(arch, run, model, images);
        Assert.True(new FileInfo(int8File).Length < new FileInfo(Path.Combine(run, "model.safetensors")).Length / 3, "the CNN's kernels are stored as int8");
    }

    [Fact]
    public void ExportRefusesBadInputWithOneLine()
    {
        string notAModel = Path.Combine(_dir, "notes.safetensors");
        File.WriteAllText(notAModel, "this is not a model");
        var (code, _, err) = Cli("export", "--model", notAModel, "--format", "onnx", "--out", Path.Combine(_dir, "x.onnx"));
        Assert.Equal(3, code);
        Assert.Contains(notAModel, err);

        string model = Path.Combine(_dir, "m.safetensors");
        ModelCheckpoint.Save(model, new FFNetwork(new FFNetworkConfig { ImageFeatures = 6, Classes = 3, HiddenSizes = [4] }, new FFRandom(1)));
        (code, _, err) = Cli("export", "--model", model, "--format", "tflite", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Contains("--format must be onnx or c, not 'tflite'", err);
        (code, _, err) = Cli("export", "--model", model, "--format", "onnx", "--out", _dir);
        Assert.Equal(2, code);
        Assert.Contains("is a folder; the ONNX export is one file", err);
        (code, _, err) = Cli("export", "--model", model, "--format", "c", "--out", model);
        Assert.Equal(2, code);
        Assert.Contains("is a file; the C export writes model.h and model.c into a folder", err);
        (code, _, err) = Cli("export", "--model", Path.Combine(_dir, "missing.safetensors"), "--format", "c", "--out", Path.Combine(_dir, "c"));
        Assert.Equal(3, code);
        Assert.All(new[] { err }, e => Assert.Single(e.Trim().Split('\n')));
        Assert.False(Directory.Exists(Path.Combine(_dir, "c")));
    }
}

/// <summary><c>prune --flash</c>: the largest kept count whose exported int8 C fits a flash size.</summary>
[Collection("RealData")]
public sealed class FlashBudgetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-flash-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void PruneFindsTheLargestKeptCountThatFits()
    {
        string run = Path.Combine(_dir, "m");
        var (code, _, err) = CliTestsAccess.Run("train", "--layers", "64,64", "--epochs", "1", "--train-limit", "3000", "--test-limit", "200", "--no-download", "--out", run);
        Assert.True(code == 0, err);
        // int8 C constants: keep 64 ≈ 64·794 + 64·64 bytes + scales and biases ≈ 56 KB; keep 32 ≈ 27 KB.
        (code, var output, err) = CliTestsAccess.Run("prune", "--model", run, "--keep", "64,32,16", "--seeds", "1", "--test-limit", "300", "--no-download", "--flash", "40K", "--out", Path.Combine(_dir, "p"));
        Assert.True(code == 0, err);
        Assert.Contains("flash budget 40K (40,960 bytes)", output);
        Assert.Matches(FFLib.Export.CortexM.IsAvailable ? "largest kept count that fits 40K: 32: [0-9,]+ bytes of flash on a Cortex-M4F" : "largest kept count whose weights fit 40K: 32", output);
        (code, _, err) = CliTestsAccess.Run("prune", "--model", run, "--keep", "16", "--flash", "12Q", "--out", Path.Combine(_dir, "q"));
        Assert.Equal(2, code);
        Assert.Contains("--flash must be a size like 256K, 1M or 262144, not '12Q'", err);
    }
}
