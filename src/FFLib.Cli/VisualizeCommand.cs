using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Analysis;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Plotting;

namespace FFLib.Cli;

/// <summary><c>fflib visualize</c>: activation maps of one test sample and the HSV functional-sparsity map.</summary>
internal static class VisualizeCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model", "-m") { Description = "A model file (model.safetensors) or a run folder written by fflib train.", Required = true };
        var dataset = new Option<string?>("--dataset") { Description = "Dataset (default: the one the model was trained on)." };
        var sample = new Option<int>("--sample") { Description = "Index of the test image for the activation maps.", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch") { Description = "Test images averaged in the HSV map.", DefaultValueFactory = _ => 1000 };
        var method = new Option<string>("--hsv-method") { Description = "How the HSV map is made: ours (each image fed its true label; mean activation per class) or authors (the original scripts: no label fed, summed |activation| per class, brightness over the whole layer).", DefaultValueFactory = _ => "ours" };
        var outDir = new Option<string?>("--out", "-o") { Description = "Output folder (activation_maps.png, hsv_map.png, visualize.json); default: a new runs/TIME-visualize-MODEL." };
        var overwrite = Cli.OverwriteOption();
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files." };
        var noDownload = new Option<bool>("--no-download") { Description = "Never download; fail if no local copy is found." };
        var device = Cli.DeviceOption();
        var precision = Cli.PrecisionOption();
        var cmd = new Command("visualize", "Draw activation maps of one test sample (positive and negative label) and the HSV functional-sparsity map of every layer.")
        {
            modelPath, dataset, sample, batch, method, outDir, overwrite, dataDir, noDownload, device, precision,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string hsvMethod = pr.GetValue(method)!.Trim().ToLowerInvariant();
            if (hsvMethod is not ("ours" or "authors")) throw new UsageException($"--hsv-method must be ours or authors, not '{hsvMethod}'.");
            string path = Cli.ModelFile(pr.GetValue(modelPath)!);
            var backend = Cli.OpenDevice(pr.GetValue(device)!, pr.GetValue(precision)!);
            var loaded = ModelCheckpoint.Load(path);
            if (loaded.Model is Modules.ComputeModule computing) computing.Backend = backend;
            if (loaded.Model is not IActivationSource source) throw new UsageException($"{path}: this model type has no activation maps.");
            string? dsName = pr.GetValue(dataset) ?? loaded.Dataset;
            if (dsName is null) throw new UsageException($"{path} does not record its dataset; pass --dataset.");
            var kind = Cli.ParseDataset(dsName);
            var data = DatasetLoader.Load(kind, Cli.DataOptions(pr.GetValue(dataDir), pr.GetValue(noDownload)));
            int index = pr.GetValue(sample), count = Math.Min(pr.GetValue(batch), data.Test.Count);
            if (index < 0 || index >= data.Test.Count) throw new UsageException($"--sample {index} is outside the {data.Test.Count} test images.");
            if (count < 1) throw new UsageException("--batch must be at least 1.");
            if (data.Test.Features != loaded.Model.ImageFeatures)
                throw new UsageException($"{dsName} images have {data.Test.Features} values but the model expects {loaded.Model.ImageFeatures}.");
            string arch = ModelCheckpoint.ArchitectureId(loaded.Architecture);
            var (dir, hold) = Cli.ClaimOutput(pr.GetValue(outDir), $"visualize-{arch}", pr.GetValue(overwrite), "visualize.json", "activation_maps.png", "hsv_map.png");
            using var held = hold;

            int label = data.Test.Label(index);
            var summary = new JsonObject { ["model"] = path, ["sample"] = index, ["label"] = label };
            var layersJson = new JsonArray();
            string actPath = Path.Combine(dir, "activation_maps.png");
            foreach (var (kindOfInput, acts) in ModelFigures.ActivationMaps(actPath, source, data.Test, index, loaded.Model.Classes,
                         $"{arch}: activations per layer (normalised per layer; black = lowest, white = highest)"))
                AddActivationSparsity(layersJson, kindOfInput, acts);
            summary["activation_sparsity"] = layersJson;
            string hsvPath = Path.Combine(dir, "hsv_map.png");
            var hsv = ModelFigures.HsvMap(hsvPath, source, data.Test, count, kind, loaded.Model.Classes, authors: hsvMethod == "authors",
                $"{arch}: functional sparsity over {count} test images ({(hsvMethod == "authors" ? "the authors' method" : "our method")}: hue = preferred class, saturation = selectivity, value = strength)");
            summary["hsv_method"] = hsvMethod;
            summary["hsv_mean_saturation"] = new JsonArray(hsv.Select(l => (JsonNode)l.Neurons.Average(n => n.Saturation)).ToArray());
            AtomicFile.WriteAllText(Path.Combine(dir, "visualize.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            Console.WriteLine($"written: {actPath}, {hsvPath}, {Path.Combine(dir, "visualize.json")}");
            for (int l = 0; l < hsv.Count; l++)
                Console.WriteLine($"{hsv[l].Layer}: mean selectivity (saturation) {hsv[l].Neurons.Average(n => n.Saturation):F3}, silent neurons {hsv[l].Neurons.Count(n => n.Saturation == 0)}");
            return 0;
        }));
        return cmd;
    }

    private static void AddActivationSparsity(JsonArray into, string kind, Matrix[] acts)
    {
        for (int l = 0; l < acts.Length; l++)
            into.Add(new JsonObject { ["layer"] = l + 1, ["input"] = kind, ["hoyer"] = Sparsity.Hoyer(acts[l].Data), ["active_fraction"] = acts[l].Data.Count(v => v > 0) / (double)acts[l].Length });
    }
}
