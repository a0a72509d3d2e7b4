// Deployment figures of trained models (issue #14's README table): for each model and kept
// width, the test accuracy of the pruned float and int8 models, the ONNX file sizes, the flash and
// RAM of the exported int8 C for an ARM Cortex-M4F (arm-none-eabi-gcc -Os, arm-none-eabi-size),
// and microseconds per image for the C code (gcc -O2 on this machine) and for ONNX Runtime (one
// batch of 10,000, and one image at a time). Checks on the way that the compiled C predicts as the
// int8 model and ONNX Runtime as the float model, on all 10,000 test images.
// Usage: FFLib.ExportBench [--keep 2000,1024,512,256,128] [--out DIR] MODEL...
using System.Diagnostics;
using System.Globalization;
using FFLib.Compute;
using FFLib.Data;
using FFLib.Export;
using FFLib.IO;
using FFLib.Pruning;
using FFLib.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

var inv = CultureInfo.InvariantCulture;
var keeps = new[] { 2000, 1024, 512, 256, 128 };
string outDir = Path.Combine(Path.GetTempPath(), "fflib-export-bench");
var models = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--keep") keeps = args[++i].Split(',').Select(s => int.Parse(s, inv)).ToArray();
    else if (args[i] == "--out") outDir = args[++i];
    else models.Add(args[i]);
}
if (models.Count == 0) { Console.Error.WriteLine("usage: FFLib.ExportBench [--keep 2000,1024,...] [--out DIR] MODEL..."); return 2; }
Directory.CreateDirectory(outDir);

var test = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false }).Test;
var images = new Matrix(test.Count, test.Features);
test.CopyImages(Enumerable.Range(0, test.Count).ToArray(), images.Data);
string imagesFile = Path.Combine(outDir, "test.f32");
File.WriteAllBytes(imagesFile, System.Runtime.InteropServices.MemoryMarshal.AsBytes(images.Data.AsSpan()).ToArray());
double Accuracy(int[] predicted) => predicted.Where((p, i) => p == test.Label(i)).Count() / (double)test.Count;

Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; {Run("gcc", "--version").Split('\n')[0]}; {Run("arm-none-eabi-gcc", "--version").Split('\n')[0]}; ONNX Runtime 1.31.1");
Console.WriteLine("| model | keep | accuracy float | accuracy int8 | ONNX float | ONNX int8 | C flash (Cortex-M4F) | C RAM | C µs/image (x86) | ORT µs/image (batch 10,000) | ORT µs/image (one at a time) |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
var csv = new List<string> { "model,keep,acc_float,acc_int8,onnx_float_bytes,onnx_int8_bytes,c_text,c_rodata,c_data,c_bss,c_flash,c_ram,c_us,ort_batch_us,ort_single_us,c_mismatches,onnx_mismatches" };
foreach (var path in models)
{
    var model = ModelCheckpoint.Load(path).Model;
    string name = model.Architecture.Id;
    int width = NeuronPruning.HiddenWidths(model).Max();
    var ranking = NeuronPruning.RandomRanking(model, new FFRandom(0)); // the paper's random order, seed 0
    foreach (int keep in keeps.Where(k => k <= width))
    {
        var pruned = keep == width ? model : NeuronPruning.Prune(model, ranking, keep);
        var floatPred = pruned.Predict(images);
        string int8File = Path.Combine(outDir, $"{name}-{keep}.int8.safetensors");
        ModelCheckpoint.SaveInt8(int8File, pruned);
        var int8Model = ModelCheckpoint.Load(int8File).Model;
        var int8Pred = int8Model.Predict(images);

        string onnxFloat = Path.Combine(outDir, $"{name}-{keep}.onnx"), onnxInt8 = Path.Combine(outDir, $"{name}-{keep}.int8.onnx");
        OnnxExporter.Save(pruned, onnxFloat);
        OnnxExporter.Save(pruned, onnxInt8, new ExportOptions { Int8 = true });
        var (ortPred, batchUs, singleUs) = TimeOnnx(onnxFloat, images);
        int onnxMismatch = ortPred.Where((p, i) => p != floatPred[i]).Count();

        string cDir = Path.Combine(outDir, $"{name}-{keep}-c");
        CExporter.Save(pruned, cDir, new ExportOptions { Int8 = true });
        string exe = Path.Combine(cDir, "timing");
        Run("gcc", $"-std=c99 -O2 -march=native -I \"{cDir}\" \"{Path.Combine(cDir, "model.c")}\" \"{Path.Combine(AppContext.BaseDirectory, "timing_driver.c")}\" -o \"{exe}\" -lm");
        var (cOut, cErr) = RunBoth(exe, $"\"{imagesFile}\" {test.Count}");
        var cPred = cOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, inv)).ToArray();
        int cMismatch = cPred.Where((p, i) => p != int8Pred[i]).Count();
        double cUs = double.Parse(cErr.Split(' ')[1], inv);

        var mcu = CortexM.Measure(cDir);
        long flash = mcu.Flash, ram = mcu.Ram;
        long onnxF = new FileInfo(onnxFloat).Length, onnxQ = new FileInfo(onnxInt8).Length;
        Console.WriteLine(string.Create(inv, $"| {name} | {keep} | {Accuracy(floatPred) * 100:F2}% | {Accuracy(int8Pred) * 100:F2}% | {Kb(onnxF)} | {Kb(onnxQ)} | {Kb(flash)} | {Kb(ram)} | {cUs:F1} | {batchUs:F2} | {singleUs:F1} |"));
        if (cMismatch + onnxMismatch > 0) Console.WriteLine($"  (mismatches: C vs int8 model {cMismatch}, ONNX vs float model {onnxMismatch})");
        csv.Add(string.Create(inv, $"{name},{keep},{Accuracy(floatPred):F4},{Accuracy(int8Pred):F4},{onnxF},{onnxQ},{mcu.Text},{mcu.ReadOnlyData},{mcu.Data},{mcu.Bss},{flash},{ram},{cUs:F3},{batchUs:F3},{singleUs:F3},{cMismatch},{onnxMismatch}"));
        File.WriteAllLines(Path.Combine(outDir, "export-bench.csv"), csv);
    }
}
return 0;

static string Kb(long bytes) => bytes >= 1 << 20 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F2} MB") : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KB");

static (int[] Predictions, double BatchUs, double SingleUs) TimeOnnx(string path, Matrix images)
{
    using var session = new InferenceSession(path);
    long[] Predict(float[] data, int rows)
    {
        var t = new DenseTensor<float>(data, [rows, images.Cols]);
        using var r = session.Run([NamedOnnxValue.CreateFromTensor("images", t)]);
        return r.First(x => x.Name == "class").AsTensor<long>().ToArray();
    }
    Predict(images.Data, images.Rows); // warm-up
    var sw = Stopwatch.StartNew();
    var all = Predict(images.Data, images.Rows);
    double batchUs = sw.Elapsed.TotalMicroseconds / images.Rows;
    int singles = Math.Min(1000, images.Rows);
    sw.Restart();
    for (int i = 0; i < singles; i++) Predict(images.Row(i).ToArray(), 1);
    double singleUs = sw.Elapsed.TotalMicroseconds / singles;
    return (all.Select(c => (int)c).ToArray(), batchUs, singleUs);
}

static string Run(string file, string args) => RunBoth(file, args).Out;

static (string Out, string Err) RunBoth(string file, string args)
{
    var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
    using var p = Process.Start(psi)!;
    var err = p.StandardError.ReadToEndAsync();
    string o = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args}: exit {p.ExitCode}: {err.Result}");
    return (o, err.Result);
}
