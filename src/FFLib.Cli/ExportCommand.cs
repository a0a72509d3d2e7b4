using System.CommandLine;
using FFLib.Export;
using FFLib.IO;

namespace FFLib.Cli;

/// <summary><c>fflib export</c>: a trained model as an ONNX graph or as C99 source for a microcontroller.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "A model file (float or int8) or a run folder.", Required = true };
        var format = new Option<string>("--format") { Description = "onnx (a .onnx file) or c (a folder with model.h and model.c).", Required = true };
        var output = new Option<string>("--out") { Description = "The .onnx file, or the folder for the C files.", Required = true };
        var int8 = new Option<bool>("--int8") { Description = "int8 weights with one float scale per row (the default for an int8 model file)." };
        var overwrite = Cli.OverwriteOption();
        var cmd = new Command("export", "Export a trained model's prediction: ONNX (any ONNX runtime) or dependency-free C99 (microcontrollers).") { model, format, output, int8, overwrite };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string path = Cli.ModelFile(pr.GetValue(model)!);
            string fmt = pr.GetValue(format)!.Trim().ToLowerInvariant();
            if (fmt is not ("onnx" or "c")) throw new UsageException($"--format must be onnx or c, not '{pr.GetValue(format)}'.");
            string outPath = pr.GetValue(output)!;
            if (fmt == "onnx" && Directory.Exists(outPath)) throw new UsageException($"--out {outPath} is a folder; the ONNX export is one file, e.g. --out {Path.Combine(outPath, "model.onnx")}.");
            if (fmt == "c" && File.Exists(outPath)) throw new UsageException($"--out {outPath} is a file; the C export writes model.h and model.c into a folder.");
            // Nothing that is already there is replaced without --overwrite (an unrelated file given as --out by mistake least of all).
            if (fmt == "onnx") Cli.RefuseOverwrite(outPath, pr.GetValue(overwrite));
            else if (!pr.GetValue(overwrite) && new[] { "model.h", "model.c" }.FirstOrDefault(f => File.Exists(Path.Combine(outPath, f)) || Directory.Exists(Path.Combine(outPath, f))) is string there)
                throw new UsageException($"--out {outPath} already holds {there}; pass --overwrite to replace model.h and model.c, or choose another folder.");
            var loaded = ModelCheckpoint.Load(path);
            ModelCheckpoint.RequireFinite(loaded.Model, path);
            bool quantized = pr.GetValue(int8) || (loaded.Metadata.TryGetValue("quantization", out var q) && q == ModelCheckpoint.Int8PerRow);
            var options = new ExportOptions { Int8 = quantized };
            // A compressed file (fflib compress): the C keeps its packed codes and low-rank factors and decodes them at inference.
            bool compressed = loaded.Metadata.ContainsKey(CompressedWeights.MetadataKey);
            if (compressed) options = options with { Packed = CompressedWeights.ReadPacked(path), LowRank = CompressedWeights.ReadLowRank(path) };
            string Stored() => compressed
                ? $"{options.Packed!.Count} matri{(options.Packed!.Count == 1 ? "x" : "ces")} as packed codes, {options.LowRank!.Count} as low-rank factors, the rest {(quantized ? "int8" : "float32")}"
                : quantized ? "int8" : "float32";
            try
            {
                if (fmt == "onnx")
                {
                    OnnxExporter.Save(loaded.Model, outPath, options);
                    Console.WriteLine($"written: {outPath} ({new FileInfo(outPath).Length:N0} bytes; {(quantized ? "int8" : "float32")} weights; input 'images' [N, {loaded.Model.ImageFeatures}], outputs 'class' [N] and 'scores' [N, {loaded.Model.Classes}])");
                }
                else
                {
                    var r = CExporter.Save(loaded.Model, outPath, options);
                    Console.WriteLine($"written: {r.Header}, {r.Source} ({Stored()} weights: {r.WeightBytes:N0} bytes of constant data; scratch {r.ScratchBytes:N0} bytes)");
                }
            }
            catch (NotSupportedException e) { throw new UsageException($"--model {path}: {e.Message}"); }
            return 0;
        }));
        return cmd;
    }
}
