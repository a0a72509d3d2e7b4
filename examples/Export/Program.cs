using FFLib.Compute;
using FFLib.Export;
using FFLib.IO;
using FFLib.Pruning;

// `dotnet run -c Release -- runs/latest`: a trained model (file or run folder) to ONNX and to C for a
// microcontroller, pruned to 128 neurons per layer and quantised to int8 for the C.
string path = args.Length > 0 ? args[0] : "runs/latest";
if (Directory.Exists(path)) path = Path.Combine(path, "model.safetensors");
var model = ModelCheckpoint.Load(path).Model;

OnnxExporter.Save(model, "model.onnx");                        // input "images" [N, 784]; outputs "class", "scores"
var small = NeuronPruning.Prune(model, NeuronPruning.RandomRanking(model, new FFRandom(0)), keep: 128);
var c = CExporter.Save(small, "model-c", new ExportOptions { Int8 = true });
Console.WriteLine($"{c.Source}: {c.WeightBytes:N0} bytes of weights, {c.ScratchBytes:N0} bytes of scratch RAM");
if (CortexM.IsAvailable)                                       // Debian: gcc-arm-none-eabi
    Console.WriteLine($"Cortex-M4F: {CortexM.Measure("model-c").Flash:N0} bytes of flash");
