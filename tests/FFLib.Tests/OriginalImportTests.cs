using System.Text;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.IO.Torch;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// <c>fflib import</c> against files written by the original PyTorch FFLib (Fixtures/original/, made by
/// tests/reference/original_fflib_fixtures.py with the original's own classes and suites): the same predictions and
/// scores on the first 1,000 MNIST test images; and the pickle reader on malformed input.
/// </summary>
public sealed class OriginalImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-import-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Original(string name) => TestUtil.Fixture(Path.Combine("original", name));

    public static TheoryData<string, string> Models => new() { { "ffnn", "ffnn" }, { "ffc", "ffc" }, { "ffrnn", "ffrnn" }, { "bpnn", "bpnn" } };

    [Theory]
    [MemberData(nameof(Models))]
    public void ImportedModelsPredictAsTheOriginalDid(string file, string architecture)
    {
        var imported = OriginalModelImport.Import(Original(file + ".pt"));
        Assert.Equal(architecture, imported.Model.Architecture.Id);
        Assert.Equal([16, 16], imported.Settings.HiddenSizes);
        var expected = SafeTensors.Read(Original("expected.safetensors"));
        var test = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false }).Test.Take(1000);
        var images = test.ToMatrix(0, 1000);
        if (imported.Model is FFRecurrentNetwork rnn)
        {
            // The original's FFRNN draws fresh uniform states for every pass: start ours from the draws the fixture recorded.
            var initial = expected.Get("ffrnn.initial"); // [label, layer, unit]
            int layers = initial.Shape[1], width = initial.Shape[2];
            rnn.PredictionInitialRowsOverride = Enumerable.Range(0, 11).Select(c => Enumerable.Range(0, layers)
                .Select(l => c < 10 ? initial.Data.AsSpan((c * layers + l) * width, width).ToArray() : new float[width]).ToArray()).ToArray();
        }
        var predictions = imported.Model.Predict(images);
        Assert.Equal(expected.Get($"{file}.predictions").Data.Select(v => (int)v).ToArray(), predictions);
        // Scores within float tolerance: the label scores the probe compares (FF), the outputs the argmax takes (FFNN+C, BPNN).
        var scores = imported.Model is ILabelScorer scorer ? scorer.LabelScores(images) : ((IInferenceExportable)imported.Model).GraphScores(images);
        var wantScores = expected.Get($"{file}.scores").Data;
        Assert.Equal(10000, wantScores.Length);
        double worst = 0;
        for (int i = 0; i < wantScores.Length; i++) worst = Math.Max(worst, Math.Abs(scores.Data[i] - wantScores[i]) / (1 + Math.Abs(wantScores[i])));
        Assert.True(worst < 1e-4, $"{file}: largest relative score difference {worst:G3}");
        // And it saves as ours, loads back, and predicts the same.
        string path = Path.Combine(_dir, file + ".safetensors");
        ModelCheckpoint.Save(path, imported.Model, imported.Training);
        var reloaded = ModelCheckpoint.Load(path).Model;
        if (reloaded is FFRecurrentNetwork r2) r2.PredictionInitialRowsOverride = ((FFRecurrentNetwork)imported.Model).PredictionInitialRowsOverride;
        Assert.Equal(predictions, reloaded.Predict(images));
    }

    [Fact]
    public void ImportReadsTheSettingsTheOriginalTrainedWith()
    {
        var ffnn = OriginalModelImport.Import(Original("ffnn.pt"));
        Assert.Equal(2f, ffnn.Settings.Get(FFSettings.Threshold));
        Assert.Equal(FFLib.Layers.LossDirection.Minimize, ffnn.Settings.Get(FFSettings.Loss));
        Assert.Equal(0.02f, ffnn.Settings.LearningRate);
        Assert.Equal("fflib.nn.ff_net.FFNet", ffnn.SourceClass);
        Assert.Equal(0.001f, OriginalModelImport.Import(Original("ffc.pt")).Settings.Get(FFClassifierSettings.ClassifierLearningRate));
        var rnn = OriginalModelImport.Import(Original("ffrnn.pt"));
        Assert.Equal((10, 3, 8, 0.7f), (rnn.Settings.Get(FFRecurrentSettings.TrainFrames), rnn.Settings.Get(FFRecurrentSettings.TestFrameLow), rnn.Settings.Get(FFRecurrentSettings.TestFrameHigh), rnn.Settings.Get(FFRecurrentSettings.Beta)));
        Assert.Equal("__main__.BPDenseNet", OriginalModelImport.Import(Original("bpnn.pt")).SourceClass);
        Assert.Contains("fflib.nn.ff_net.FFNet → ffnn, layers 16,16, θ 2, loss min", OriginalModelImport.Summary(ffnn));
    }

    [Fact]
    public void MalformedFilesAreOneClearError()
    {
        string notZip = Path.Combine(_dir, "a.pt");
        File.WriteAllText(notZip, "hello");
        Assert.Contains("is not a torch zip file", Assert.Throws<InvalidDataException>(() => OriginalModelImport.Import(notZip)).Message);
        // A truncated copy of a real file: its zip directory is gone.
        string cut = Path.Combine(_dir, "cut.pt");
        var bytes = File.ReadAllBytes(Original("ffnn.pt"));
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        Assert.Throws<InvalidDataException>(() => OriginalModelImport.Import(cut));
        // A zip without data.pkl.
        string zip = Path.Combine(_dir, "z.pt");
        using (var z = System.IO.Compression.ZipFile.Open(zip, System.IO.Compression.ZipArchiveMode.Create)) z.CreateEntry("x/other.txt");
        Assert.Contains("has no data.pkl", Assert.Throws<InvalidDataException>(() => OriginalModelImport.Import(zip)).Message);
        Assert.Throws<FileNotFoundException>(() => OriginalModelImport.Import(Path.Combine(_dir, "missing.pt")));
    }

    [Fact]
    public void ImportCommandWritesOurCheckpointAndRefusesBadInputInOneLine()
    {
        string outDir = Path.Combine(_dir, "out");
        var (code, stdout, err) = CliTestsAccess.Run("import", Original("bpnn.pt"), "--out", outDir);
        Assert.True(code == 0, err);
        Assert.Contains("__main__.BPDenseNet → bpnn, layers 16,16", stdout);
        var loaded = ModelCheckpoint.Load(Path.Combine(outDir, "model.safetensors"));
        Assert.Equal("mnist", loaded.Dataset);
        Assert.EndsWith("bpnn.pt", loaded.Training["imported_from"]!.GetValue<string>());
        // Again without --overwrite: refused, the first import kept.
        (code, _, err) = CliTestsAccess.Run("import", Original("bpnn.pt"), "--out", outDir);
        Assert.Equal(2, code);
        string notTorch = Path.Combine(_dir, "x.pt");
        File.WriteAllText(notTorch, "not a model");
        (code, _, err) = CliTestsAccess.Run("import", notTorch);
        Assert.Equal(2, code);
        Assert.Equal($"error: {notTorch} is not a torch zip file (PyTorch 1.6 or later writes one; files of older versions are not read).", err.Trim());
        (code, _, err) = CliTestsAccess.Run("import", Original("ffnn.pt"), "--dataset", "cifar10", "--out", Path.Combine(_dir, "c"));
        Assert.Equal(2, code);
        Assert.Contains("--dataset cifar10 has 3072 values per image but the model", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "c")));
    }

    [Fact]
    public void PickleReaderBuildsDataAndRefusesWhatItDoesNotKnow()
    {
        // {'a': [1, 2.5, 'x'], 'b': (True, None)} at protocol 2, the bytes Python's pickle.dumps writes.
        var reader = new PickleReader();
        var read = reader.Read(Convert.FromHexString("80027d71002858010000006171015d7102284b014740040000000000005801000000787103655801000000627104884e867105752e"));
        var dict = Assert.IsType<Dictionary<object, object?>>(read);
        Assert.Equal(new object?[] { 1L, 2.5, "x" }, Assert.IsType<List<object?>>(dict["a"]));
        Assert.Equal(new object?[] { true, null }, Assert.IsType<object?[]>(dict["b"]));
        // A class is data, never run: os.system('x') comes back as an object naming it.
        var evil = reader.Read(Encoding.Latin1.GetBytes("cos\nsystem\n(X\u0001\u0000\u0000\u0000xtR."));
        Assert.Equal("os.system", Assert.IsType<PyObject>(evil).Type.FullName);
        Assert.Contains("opcode 0xff", Assert.Throws<InvalidDataException>(() => reader.Read([0x80, 0x02, 0xff])).Message);
        Assert.Contains("ends early", Assert.Throws<InvalidDataException>(() => reader.Read([0x80, 0x02, (byte)'X', 9, 0, 0, 0, (byte)'a'])).Message);
        Assert.Contains("empty stack", Assert.Throws<InvalidDataException>(() => reader.Read([(byte)'.'])).Message);
        Assert.Contains("persistent id", Assert.Throws<InvalidDataException>(() => reader.Read(Encoding.Latin1.GetBytes("X\u0001\u0000\u0000\u0000aQ."))).Message);
    }
}
