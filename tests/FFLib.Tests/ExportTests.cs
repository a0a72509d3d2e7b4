using FFLib.Compute;
using FFLib.Export;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>Every architecture's inference graph, run by the plain interpreter, scores as the model itself does.</summary>
public sealed class ExportTests
{
    /// <summary>A small model of each architecture, trained a few batches on random data so its weights are not the initial ones.</summary>
    internal static IInferenceExportable SmallModel(string arch, LossDirection loss = LossDirection.Minimize, int seed = 3)
    {
        var a = ArchitectureRegistry.Get(arch);
        var settings = new ModelSettings { HiddenSizes = [12, 9], Threshold = 0.4f, Loss = loss, LearningRate = 0.01f, TrainFrames = 2, TestFrameLow = 1, TestFrameHigh = 4 };
        var random = new FFRandom(seed);
        var model = (ITrainableModel)a.Create(settings, 20, 4, random);
        var images = RandomImages(16, 20, seed + 1);
        var labels = Enumerable.Range(0, 16).Select(i => i % 4).ToArray();
        var negative = new Matrix(16, 4);
        for (int i = 0; i < 16; i++) negative.Data[i * 4 + (labels[i] + 1) % 4] = 1f;
        foreach (var phase in model.PlanEpochs(2))
            for (int step = 0; step < 3; step++) model.TrainBatch(images, labels, negative, phase);
        return (IInferenceExportable)model;
    }

    /// <summary>The model as its int8 file loads (the reference for int8 exports).</summary>
    internal static IClassifierModel Int8RoundTrip(IClassifierModel model, string dir)
    {
        string file = Path.Combine(dir, "model.int8.safetensors");
        IO.ModelCheckpoint.SaveInt8(file, model);
        return IO.ModelCheckpoint.Load(file).Model;
    }

    internal static Matrix RandomImages(int n, int features, int seed)
    {
        var r = new FFRandom(seed);
        var m = new Matrix(n, features);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = r.NextSingle();
        return m;
    }

    internal static Matrix ModelScores(IClassifierModel model, Matrix images) => model switch
    {
        ILabelScorer s => s.LabelScores(images),
        FFClassifierNetwork f => f.ClassScores(images),
        BackpropNetwork b => b.Logits(images),
        BackpropConvNetwork b => b.Logits(images),
        _ => throw new ArgumentException(model.GetType().Name),
    };

    /// <summary>
    /// Every score within <paramref name="relative"/> of the largest score of its image (a score that is
    /// a small difference of large terms, e.g. a classifier output near 0, has no tighter relative bound).
    /// </summary>
    internal static void AssertClose(Matrix expected, Matrix actual, double relative)
    {
        Assert.Equal(expected.Rows, actual.Rows);
        Assert.Equal(expected.Cols, actual.Cols);
        for (int i = 0; i < expected.Rows; i++)
        {
            double scale = Math.Max(1e-30, expected.Row(i).ToArray().Max(v => Math.Abs(v)));
            for (int j = 0; j < expected.Cols; j++)
            {
                double e = expected[i, j], a = actual[i, j];
                Assert.True(Math.Abs(e - a) <= relative * scale, $"image {i}, label {j}: expected {e:R}, got {a:R} (row scale {scale:G4})");
            }
        }
    }

    [Theory]
    [InlineData("ffnn", LossDirection.Minimize)]
    [InlineData("ffnn", LossDirection.Maximize)]
    [InlineData("ffc", LossDirection.Minimize)]
    [InlineData("ffrnn", LossDirection.Minimize)]
    [InlineData("ffrnn", LossDirection.Maximize)]
    [InlineData("bpnn", LossDirection.Minimize)]
    public void TheInterpretedGraphScoresAsTheModelDoes(string arch, LossDirection loss)
    {
        var model = SmallModel(arch, loss);
        var images = RandomImages(25, 20, 99);
        var graph = model.BuildInferenceGraph();
        Assert.Equal(4, graph.Width(graph.Scores));
        var expected = ModelScores(model, images);
        var actual = model.GraphScores(images);
        AssertClose(expected, actual, 1e-5);
        var predicted = LabelProbe.Predict(actual, graph.PredictLowest ? LossDirection.Minimize : LossDirection.Maximize);
        Assert.Equal(model.Predict(images), predicted);
    }
}

/// <summary>Exported ONNX graphs run in ONNX Runtime and agree with the models.</summary>
public sealed class OnnxExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-onnx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (long[] Classes, Matrix Scores) RunOnnx(string path, Matrix images)
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path); // default options, as a user would run it
        var input = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(images.Data, [images.Rows, images.Cols]);
        using var results = session.Run([Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("images", input)]);
        var classes = results.First(r => r.Name == "class").AsTensor<long>().ToArray();
        var scores = results.First(r => r.Name == "scores").AsTensor<float>().ToArray();
        return (classes, new Matrix(images.Rows, scores.Length / images.Rows, scores));
    }

    [Theory]
    [InlineData("ffnn", LossDirection.Minimize, false)]
    [InlineData("ffnn", LossDirection.Maximize, true)]
    [InlineData("ffc", LossDirection.Minimize, false)]
    [InlineData("ffc", LossDirection.Minimize, true)]
    [InlineData("ffrnn", LossDirection.Minimize, false)]
    [InlineData("ffrnn", LossDirection.Maximize, true)]
    [InlineData("bpnn", LossDirection.Minimize, false)]
    [InlineData("bpnn", LossDirection.Minimize, true)]
    public void OnnxRuntimeGivesTheModelsPredictionsAndScores(string arch, LossDirection loss, bool int8)
    {
        IClassifierModel model = ExportTests.SmallModel(arch, loss);
        if (int8) model = ExportTests.Int8RoundTrip(model, _dir); // the reference is the int8 model file as the library loads it
        string onnx = Path.Combine(_dir, $"{arch}.onnx");
        OnnxExporter.Save(model, onnx, new ExportOptions { Int8 = int8 });
        var images = ExportTests.RandomImages(40, 20, 7);
        var (classes, scores) = RunOnnx(onnx, images);
        ExportTests.AssertClose(ExportTests.ModelScores(model, images), scores, 1e-5);
        Assert.Equal(model.Predict(images), classes.Select(c => (int)c).ToArray());
        // One image, then a batch of another size: the batch dimension is dynamic.
        Assert.Single(RunOnnx(onnx, ExportTests.RandomImages(1, 20, 8)).Classes);
    }
}

/// <summary>Exported C compiles warning-free as C99 and predicts as the model (int8: as the int8 model file).</summary>
public sealed class CExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-c-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Compiles model.c with the driver (gcc -std=c99 -Wall -Wextra -Werror -O2) and runs it on the images.</summary>
    internal static (int[] Classes, Matrix Scores) CompileAndRun(string folder, Matrix images)
    {
        string exe = Path.Combine(folder, "driver");
        string driver = TestUtil.Fixture("c_driver.c");
        Run("gcc", $"-std=c99 -pedantic -Wall -Wextra -Werror -O2 -I \"{folder}\" \"{Path.Combine(folder, "model.c")}\" \"{driver}\" -o \"{exe}\" -lm", out _);
        string bin = Path.Combine(folder, "images.f32");
        File.WriteAllBytes(bin, System.Runtime.InteropServices.MemoryMarshal.AsBytes(images.Data.AsSpan()).ToArray());
        Run(exe, $"\"{bin}\"", out string output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(images.Rows, lines.Length);
        var classes = new int[lines.Length];
        Matrix? scores = null;
        for (int i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split(' ');
            scores ??= new Matrix(lines.Length, parts.Length - 1);
            classes[i] = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            for (int j = 1; j < parts.Length; j++) scores[i, j - 1] = float.Parse(parts[j], System.Globalization.CultureInfo.InvariantCulture);
        }
        return (classes, scores!);
    }

    private static void Run(string file, string args, out string stdout)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{Path.GetFileName(file)} failed ({p.ExitCode}): {err.Result}");
    }

    [Theory]
    [InlineData("ffnn", LossDirection.Minimize, true)]
    [InlineData("ffnn", LossDirection.Maximize, false)]
    [InlineData("ffc", LossDirection.Minimize, true)]
    [InlineData("ffrnn", LossDirection.Minimize, true)]
    [InlineData("bpnn", LossDirection.Minimize, true)]
    [InlineData("bpnn", LossDirection.Minimize, false)]
    public void CompiledCPredictsAsTheModel(string arch, LossDirection loss, bool int8)
    {
        IClassifierModel model = ExportTests.SmallModel(arch, loss);
        var result = CExporter.Save(model, _dir, new ExportOptions { Int8 = int8 });
        if (int8) model = ExportTests.Int8RoundTrip(model, _dir);
        var images = ExportTests.RandomImages(50, 20, 11);
        var (classes, scores) = CompileAndRun(_dir, images);
        ExportTests.AssertClose(ExportTests.ModelScores(model, images), scores, 1e-5);
        Assert.Equal(model.Predict(images), classes);
        Assert.True(result.ScratchBytes > 0 && result.WeightBytes > 0);
        Assert.DoesNotContain("malloc", File.ReadAllText(result.Source));
    }
}
