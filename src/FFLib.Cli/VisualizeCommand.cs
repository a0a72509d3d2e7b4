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
    private static readonly string[] FashionNames = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"];
    private static readonly string[] CifarNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    public static Command Create()
    {
        var modelPath = new Option<string>("--model", "-m") { Description = "A model file (model.safetensors) or a run folder written by fflib train.", Required = true };
        var dataset = new Option<string?>("--dataset") { Description = "Dataset (default: the one the model was trained on)." };
        var sample = new Option<int>("--sample") { Description = "Index of the test image for the activation maps.", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch") { Description = "Test images averaged in the HSV map.", DefaultValueFactory = _ => 1000 };
        var outDir = new Option<string?>("--out", "-o") { Description = "Output folder (activation_maps.png, hsv_map.png, visualize.json); default: a new runs/TIME-visualize-MODEL." };
        var overwrite = Cli.OverwriteOption();
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files." };
        var noDownload = new Option<bool>("--no-download") { Description = "Never download; fail if no local copy is found." };
        var device = Cli.DeviceOption();
        var precision = Cli.PrecisionOption();
        var cmd = new Command("visualize", "Draw activation maps of one test sample (positive and negative label) and the HSV functional-sparsity map of every layer.")
        {
            modelPath, dataset, sample, batch, outDir, overwrite, dataDir, noDownload, device, precision,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
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

            var image = data.Test.ToMatrix(index, 1);
            int label = data.Test.Label(index), wrong = (label + 1) % loaded.Model.Classes;
            var rows = new List<Plots.ActivationRow>();
            var summary = new JsonObject { ["model"] = path, ["sample"] = index, ["label"] = label };
            var layersJson = new JsonArray();
            if (!source.ActivationsDependOnLabel)
            {
                var acts = source.LayerActivations(image, null);
                rows.Add(new($"sample {index}, class {label}", acts.Select(a => a.Data).ToArray()));
                AddActivationSparsity(layersJson, "activations", acts);
            }
            else
            {
                var pos = source.LayerActivations(image, label);
                var neg = source.LayerActivations(image, wrong);
                rows.Add(new($"positive: sample {index} with its label {label}", pos.Select(a => a.Data).ToArray()));
                rows.Add(new($"negative: sample {index} with wrong label {wrong}", neg.Select(a => a.Data).ToArray()));
                AddActivationSparsity(layersJson, "positive", pos);
                AddActivationSparsity(layersJson, "negative", neg);
            }
            summary["activation_sparsity"] = layersJson;
            bool colour = data.Test.Features == 3072;
            var input = new Plots.InputImage(image.Data, colour ? 32 : 28, colour ? 32 : 28, colour ? 3 : 1);
            string actPath = Path.Combine(dir, "activation_maps.png");
            // A CNN's layers are feature maps: one small image per channel reads better than a grid of units.
            IReadOnlyList<(int, int, string)>? panels = null;
            if (source is IFeatureMapSource maps)
            {
                var tiled = rows.Select(r => new Plots.ActivationRow(r.Caption, r.Layers.Select((a, l) => { var (c, h, w) = maps.MapShape(l); return Plots.TileChannels(a, c, h, w).Values; }).ToArray())).ToList();
                panels = Enumerable.Range(0, rows[0].Layers.Count).Select(l =>
                {
                    var (c, h, w) = maps.MapShape(l);
                    var t = Plots.TileChannels(new float[c * h * w], c, h, w);
                    return (t.Width, t.Height, $"{c} channels of {h}×{w}");
                }).ToArray();
                rows = tiled;
            }
            Plots.ActivationMaps(actPath, input, rows, $"{arch}: activations per layer (normalised per layer; black = lowest, white = highest)", panels: panels);

            var images = data.Test.ToMatrix(0, count);
            var labels = Enumerable.Range(0, count).Select(data.Test.Label).ToArray();
            var hsv = FunctionalMaps.Hsv(source, images, labels, loaded.Model.Classes);
            string[] names = kind switch
            {
                DatasetKind.FashionMnist => FashionNames,
                DatasetKind.Cifar10 => CifarNames,
                _ => Enumerable.Range(0, loaded.Model.Classes).Select(c => c.ToString()).ToArray(),
            };
            string hsvPath = Path.Combine(dir, "hsv_map.png");
            Plots.HsvMaps(hsvPath, hsv, names, $"{arch}: functional sparsity over {count} test images (hue = preferred class, saturation = selectivity, value = strength)");
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
