using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary><c>fflib eval</c>: reload a saved model and measure its test accuracy.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model", "-m") { Description = "A model file (model.safetensors) or a run folder written by fflib train.", Required = true };
        var dataset = new Option<string?>("--dataset") { Description = "Dataset (default: the one the model was trained on)." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Evaluate on only the first N test images." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON on stdout." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files (IDX, raw or .gz)." };
        var noDownload = new Option<bool>("--no-download") { Description = "Never download; fail if no local copy is found." };
        var device = Cli.DeviceOption();
        var precision = Cli.PrecisionOption();
        var cmd = new Command("eval", "Evaluate a saved model on a dataset's test set.") { modelPath, dataset, testLimit, json, threads, dataDir, noDownload, device, precision };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            int nThreads = pr.GetValue(threads);
            if (nThreads < 1) throw new UsageException($"--threads must be at least 1, not {nThreads}.");
            ComputeSettings.Threads = nThreads;
            string path = Cli.ModelFile(pr.GetValue(modelPath)!);
            var backend = Cli.OpenDevice(pr.GetValue(device)!, pr.GetValue(precision)!);
            var loaded = ModelCheckpoint.Load(path);
            if (loaded.Model is Modules.ComputeModule computing) computing.Backend = backend;
            string? dsName = pr.GetValue(dataset) ?? loaded.Dataset;
            if (dsName is null) throw new UsageException($"{path} does not record its dataset; pass --dataset.");
            var kind = Cli.ParseDataset(dsName);
            if (loaded.Dataset is string trainedOn && Cli.ParseDataset(trainedOn) != kind)
                Console.Error.WriteLine($"warning: {path} was trained on {trainedOn}; evaluating it on {DatasetCatalog.IdOf(kind)}.");
            int? limit = pr.GetValue(testLimit);
            if (limit is < 1) throw new UsageException("--test-limit must be at least 1.");
            var data = DatasetLoader.Load(kind, Cli.DataOptions(pr.GetValue(dataDir), pr.GetValue(noDownload)));
            var test = limit is int l ? data.Test.Take(l) : data.Test;
            var sw = Stopwatch.StartNew();
            double acc = Evaluation.Accuracy(loaded.Model, test);
            double seconds = sw.Elapsed.TotalSeconds;
            if (pr.GetValue(json))
            {
                var o = new JsonObject
                {
                    ["model"] = path,
                    ["architecture"] = ModelCheckpoint.ArchitectureId(loaded.Architecture),
                    ["dataset"] = DatasetCatalog.IdOf(kind),
                    ["test_samples"] = test.Count,
                    ["test_accuracy"] = acc,
                    ["seconds"] = seconds,
                    ["device"] = backend.Name,
                    ["precision"] = backend.Precision,
                };
                Console.WriteLine(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                Console.WriteLine($"{path}: {ModelCheckpoint.ArchitectureId(loaded.Architecture)}, {DatasetCatalog.IdOf(kind)} test accuracy {acc * 100:F2}% ({test.Count} images, {seconds:F1} s)");
            }
            return 0;
        }));
        return cmd;
    }
}
