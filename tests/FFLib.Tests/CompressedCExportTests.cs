using FFLib.Export;
using FFLib.IO;
using FFLib.Layers;
using FFLib.ModelCompression;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The C export of a compressed model file keeps its forms (bit-packed codes with row scales, minima or a
/// codebook, outlier columns in float, low-rank factors) and decodes them at inference: compiled, it
/// predicts as the model loaded from the file, and its constant data is the smaller for it; ONNX Runtime
/// (decoded floats) predicts the same.
/// </summary>
public sealed class CompressedCExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-c-compressed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("ffnn", "int4", 0)]
    [InlineData("ffnn", "int3-asym", 0)]
    [InlineData("ffnn", "kmeans16+outliers", 0)]
    [InlineData("ffnn", "fp32", 4)]
    [InlineData("ffnn", "int4", 4)]
    [InlineData("ffc", "int2", 0)]
    [InlineData("bpnn", "kmeans8", 5)]
    public void CompiledCOfACompressedFilePredictsAsTheFileLoads(string arch, string format, int rank)
    {
        var model = ExportTests.SmallModel(arch, LossDirection.Minimize);
        var weightFormat = WeightFormat.TryParse(format, out var problem) ?? throw new ArgumentException(problem);
        IReadOnlyList<LowRankMatrix> factors = rank > 0 ? LowRank.Factor(model, rank) : [];
        if (rank > 0) Assert.NotEmpty(factors);
        var packed = WeightQuantizer.Pack(model, factors.ToList(), weightFormat);
        string file = Path.Combine(_dir, "model.safetensors");
        CompressedWeights.Save(file, model, packed, entropyCoded: true, lowRank: factors.ToList());
        var loaded = ModelCheckpoint.Load(file).Model; // the reference: the weights the file decodes to
        var options = new ExportOptions { Packed = CompressedWeights.ReadPacked(file), LowRank = CompressedWeights.ReadLowRank(file) };
        Assert.Equal(packed.Count, options.Packed.Count);
        Assert.Equal(factors.Count, options.LowRank.Count);

        string folder = Path.Combine(_dir, "c");
        var result = CExporter.Save(loaded, folder, options);
        var images = ExportTests.RandomImages(40, 20, 11);
        var (classes, scores) = CExportTests.CompileAndRun(folder, images);
        ExportTests.AssertClose(ExportTests.ModelScores(loaded, images), scores, 1e-5);
        Assert.Equal(loaded.Predict(images), classes);
        string source = File.ReadAllText(result.Source);
        if (weightFormat.Scheme is not null) Assert.Contains("_codes[", source);
        if (rank > 0) Assert.Contains("_t[", source);
        // Smaller than the same model's float32 C (at this toy size per-row scales and outlier columns weigh much;
        // docs/compression.md has the sizes of real models).
        var dense = CExporter.Measure(loaded, new ExportOptions());
        Assert.True(result.WeightBytes < dense.WeightBytes, $"{result.WeightBytes} bytes against float32's {dense.WeightBytes}");
        Assert.Equal(result.WeightBytes, CExporter.Measure(loaded, options).WeightBytes);

        // ONNX stores the decoded floats: ONNX Runtime predicts as the file loads too.
        string onnx = Path.Combine(_dir, "model.onnx");
        OnnxExporter.Save(loaded, onnx, options);
        var (onnxClasses, onnxScores) = OnnxExportTests.RunOnnx(onnx, images);
        ExportTests.AssertClose(ExportTests.ModelScores(loaded, images), onnxScores, 1e-5);
        Assert.Equal(loaded.Predict(images), onnxClasses.Select(c => (int)c).ToArray());
    }

    [Theory]
    [InlineData("ffcnn-competitive", "int4", false)]
    [InlineData("ffcnn-fourier", "kmeans16+outliers", true)]
    [InlineData("bpcnn", "int3-asym+outliers", true)]
    public void CompiledCOfACompressedCnnDecodesItsKernelsAsTheFileLoads(string variant, string format, bool outlier)
    {
        var model = (IClassifierModel)CnnExportTests.SmallCnn(variant);
        var kernel = model.Parameters().First(p => p.Shape.Length == 4 && p.Shape[3] > 1);
        if (outlier)
            // One tap (ky, kx, channel) far larger than the rest in every output channel: an outlier column whose correction the C applies at the map's edges too.
            for (int r = 0; r < kernel.Rows; r++) kernel.Data[r * kernel.Cols + kernel.Cols - 2] *= 60;
        var packed = WeightQuantizer.Pack(model, WeightFormat.TryParse(format, out var problem) ?? throw new ArgumentException(problem));
        Assert.Equal(outlier, packed.Single(m => m.Name == kernel.Name).OutlierColumns is { Length: > 0 });
        string file = Path.Combine(_dir, "cnn.safetensors");
        CompressedWeights.Save(file, model, packed, entropyCoded: true);
        var loaded = ModelCheckpoint.Load(file).Model;
        var options = new ExportOptions { Packed = CompressedWeights.ReadPacked(file) };
        string folder = Path.Combine(_dir, "cnn-c");
        var result = CExporter.Save(loaded, folder, options);
        string source = File.ReadAllText(result.Source);
        Assert.Contains("conv2d_p(", source[source.IndexOf("int fflib_predict", StringComparison.Ordinal)..]);
        Assert.DoesNotContain("conv2d_f(", source[source.IndexOf("int fflib_predict", StringComparison.Ordinal)..]);
        var images = ExportTests.RandomImages(12, 100, 7);
        var (classes, scores) = CExportTests.CompileAndRun(folder, images);
        ExportTests.AssertClose(ExportTests.ModelScores(loaded, images), scores, 2e-5);
        Assert.Equal(loaded.Predict(images), classes);
        Assert.True(result.WeightBytes < CExporter.Measure(loaded, new ExportOptions()).WeightBytes);
        Assert.Equal(result.WeightBytes, CExporter.Measure(loaded, options).WeightBytes);
    }
}
