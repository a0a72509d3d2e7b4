using System.CommandLine;
using System.Globalization;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Plotting;
using FFLib.Pruning;

namespace FFLib.Cli;

/// <summary><c>fflib prune</c> and <c>fflib prune-compare</c>: prunability curves (Figure 19).</summary>
internal static class PruneCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model", "-m") { Description = "A model file (model.safetensors) or a run folder written by fflib train.", Required = true };
        var keep = new Option<string?>("--keep") { Description = "Kept neurons (channels for a CNN) per hidden layer, comma-separated. Default: the model's widest layer, then those of 1500,1024,512,256,128,64,32,16,8,4,2 below it." };
        var method = new Option<string>("--method") { Description = "random (the paper), activation, activation-minus-negative, weight-norm, or magnitude (unstructured: keep t/width of each matrix's largest weights).", DefaultValueFactory = _ => "random" };
        var seeds = new Option<int>("--seeds") { Description = "Random permutations per kept count (random method).", DefaultValueFactory = _ => 10 };
        var dataset = new Option<string?>("--dataset") { Description = "Dataset (default: the one the model was trained on)." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Evaluate on only the first N test images." };
        var finetune = new Option<int>("--finetune-epochs") { Description = "Retrain each pruned model for N epochs with its own rule and report the accuracy after.", DefaultValueFactory = _ => 0 };
        var finetuneLr = new Option<float?>("--finetune-lr") { Description = "Learning rate for fine-tuning (default: the model's own; a fresh Adam at 0.02 moves every weight by ±0.02 in its first steps)." };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Fine-tune / rank on only the first N training images." };
        var noInt8 = new Option<bool>("--no-int8") { Description = "Skip the int8-quantised variant." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Output folder (prune.csv, prune.png; pruned models in models/ with --save-models); default: a new runs/TIME-prune-MODEL." };
        var overwrite = Cli.OverwriteOption();
        var saveModels = new Option<bool>("--save-models") { Description = "Keep every pruned model file in models/ (they are written to measure their sizes, then deleted)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files." };
        var noDownload = new Option<bool>("--no-download") { Description = "Never download." };
        var device = Cli.DeviceOption();
        var precision = Cli.PrecisionOption();
        var flash = new Option<string?>("--flash") { Description = "A flash size (e.g. 256K, 1M): also show, per kept count, the flash the exported int8 C needs, and the largest kept count that fits." };
        var cmd = new Command("prune", "Prune a saved model at several kept counts and seeds; write prune.csv (sizes, compression ratios, accuracies) and an accuracy-vs-compression plot.")
        {
            modelPath, keep, method, seeds, dataset, testLimit, finetune, finetuneLr, trainLimit, noInt8, outDir, overwrite, saveModels, threads, dataDir, noDownload, device, precision, flash,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            int nThreads = pr.GetValue(threads);
            if (nThreads < 1) throw new UsageException($"--threads must be at least 1, not {nThreads}.");
            Compute.ComputeSettings.Threads = nThreads;
            string path = Cli.ModelFile(pr.GetValue(modelPath)!);
            var loaded = ModelCheckpoint.Load(path);
            ModelCheckpoint.RequireFinite(loaded.Model, path);
            // The paper's ladder below the model's widest layer (a CNN's 32 channels as well as an FFNN's 2000 neurons).
            int[] ladder = [1500, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2];
            var keeps = pr.GetValue(keep) is { } keepText ? TrainCommand.ParseLayers(keepText, "--keep")
                : loaded.Model is INeuronPrunable prunable && prunable.HiddenWidths.Count > 0
                    ? [prunable.HiddenWidths.Max(), .. ladder.Where(k => k < prunable.HiddenWidths.Max())]
                    : [2000, .. ladder];
            long? flashBudget = pr.GetValue(flash) is string fb ? ParseSize(fb, "--flash") : null;
            if (flashBudget is not null && loaded.Model is not (INeuronPrunable and IInferenceExportable))
                throw new UsageException($"--flash: {ModelCheckpoint.ArchitectureId(loaded.Architecture)} models cannot be pruned by neurons and exported to C.");
            if (pr.GetValue(method)!.Trim().ToLowerInvariant() != "magnitude" && loaded.Model is INeuronPrunable)
            {
                int widest = FFLib.Pruning.NeuronPruning.HiddenWidths(loaded.Model).Max();
                if (keeps.FirstOrDefault(k => k > widest) is int tooMany and > 0)
                    throw new UsageException($"--keep {tooMany} exceeds the widest hidden layer of {path} ({widest} neurons); use counts up to {widest}.");
            }
            string m = pr.GetValue(method)!.Trim().ToLowerInvariant();
            var options = new PruneOptions
            {
                Backend = Cli.OpenDevice(pr.GetValue(device)!, pr.GetValue(precision)!),
                Keep = keeps,
                Method = m switch { "random" => PruneMethod.Random, "activation" or "activation-minus-negative" => PruneMethod.Activation, "weight-norm" => PruneMethod.WeightNorm, "magnitude" => PruneMethod.Random, _ => throw new UsageException($"--method must be random, activation, activation-minus-negative, weight-norm or magnitude, not '{m}'.") },
                SubtractNegative = m == "activation-minus-negative",
                Magnitude = m == "magnitude",
                Seeds = pr.GetValue(seeds) is var s && s >= 1 ? s : throw new UsageException("--seeds must be at least 1."),
                Int8 = !pr.GetValue(noInt8),
                FinetuneEpochs = pr.GetValue(finetune) is var f && f >= 0 ? f : throw new UsageException("--finetune-epochs must be non-negative."),
                FinetuneLearningRate = pr.GetValue(finetuneLr) is float fl ? (fl > 0 ? fl : throw new UsageException("--finetune-lr must be positive.")) : null,
            };
            string? dsName = pr.GetValue(dataset) ?? loaded.Dataset;
            if (dsName is null) throw new UsageException($"{path} does not record its dataset; pass --dataset.");
            var data = DatasetLoader.Load(Cli.ParseDataset(dsName), Cli.DataOptions(pr.GetValue(dataDir), pr.GetValue(noDownload)));
            var test = pr.GetValue(testLimit) is int tl ? data.Test.Take(tl) : data.Test;
            var train = pr.GetValue(trainLimit) is int trl ? data.Train.Take(trl) : data.Train;
            string arch = ModelCheckpoint.ArchitectureId(loaded.Architecture);
            var (dir, hold) = Cli.ClaimOutput(pr.GetValue(outDir), $"prune-{arch}", pr.GetValue(overwrite), "prune.csv", "prune.png");
            using var held = hold;
            Console.Error.WriteLine($"fflib prune: {arch}, layers {string.Join(",", NeuronPruning.HiddenWidths(loaded.Model))}, method {m}, keep {string.Join(",", keeps)}, {(m == "random" ? options.Seeds : 1)} seed(s), {test.Count} test images");
            var records = PruneExperiment.Run(loaded.Model, path, test, options, Path.Combine(dir, "models"), train, options.FinetuneEpochs > 0 ? train : null,
                r => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"seed {r.Seed} keep {r.Keep,5}: {r.Bytes,10} bytes, ratio {r.CompressionRatio,8:F2}×, accuracy {r.Accuracy * 100:F2}%{(r.Int8Accuracy is double q ? $", int8 {r.Int8Bytes} bytes {q * 100:F2}%" : "")}{(r.FinetunedAccuracy is double t ? $", fine-tuned {t * 100:F2}%" : "")}")),
                loaded.Training);
            // The pruned files were written to measure real sizes; they stay only when asked for.
            string modelsDir = Path.Combine(dir, "models");
            if (!pr.GetValue(saveModels) && Directory.Exists(modelsDir)) Directory.Delete(modelsDir, recursive: true);
            string csv = Path.Combine(dir, "prune.csv");
            PruneExperiment.WriteCsv(csv, records);
            string png = Path.Combine(dir, "prune.png");
            Plots.Prunability(png, [($"{arch} ({m})", records)], $"{arch} on {dsName}: accuracy vs compression");
            PrintSummary(records);
            if (flashBudget is long budget) FlashView(loaded.Model, keeps, records, budget, pr.GetValue(flash)!);
            Console.WriteLine($"written: {csv}, {png}");
            return 0;
        }));
        return cmd;
    }

    public static Command CreateCompare()
    {
        var models = new Option<string>("--models") { Description = "Comma-separated prune.csv files (or folders holding one).", Required = true };
        var outPath = new Option<string>("--out", "-o") { Description = "Output PNG.", DefaultValueFactory = _ => "runs/prune-compare.png" };
        var title = new Option<string>("--title") { Description = "Plot title.", DefaultValueFactory = _ => "Prunability: accuracy vs compression" };
        var pool = new Option<bool>("--pool") { Description = "Pool the files of the same architecture and method into one curve (several trained models: their training-seed variance joins the bands)." };
        var overwrite = Cli.OverwriteOption();
        var cmd = new Command("prune-compare", "Overlay the prunability curves of several prune.csv files in one plot (Figure 19).") { models, outPath, title, pool, overwrite };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            var series = new List<(string, IReadOnlyList<PruneRecord>)>();
            foreach (var item in pr.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string csv = Directory.Exists(item) ? Path.Combine(item, "prune.csv") : item;
                var records = PruneExperiment.ReadCsv(csv);
                if (records.Count == 0) throw new InvalidDataException($"{csv}: no records.");
                series.Add(($"{records[0].Architecture} ({records[0].Method})", records));
            }
            if (pr.GetValue(pool))
                series = series.GroupBy(x => x.Item1)
                    .Select(g => ($"{g.Key}{(g.Count() > 1 ? $", {g.Count()} models" : "")}", (IReadOnlyList<PruneRecord>)g.SelectMany(x => x.Item2).ToList())).ToList();
            string png = pr.GetValue(outPath)!;
            Cli.RefuseOverwrite(png, pr.GetValue(overwrite));
            foreach (var (label, records) in series) Console.WriteLine($"{label}: {records.Count} records");
            Plots.Prunability(png, series, pr.GetValue(title)!);
            Console.WriteLine($"written: {png}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>"256K", "1M", "262144" (bytes; K = 1024).</summary>
    internal static long ParseSize(string text, string option)
    {
        string t = text.Trim().ToUpperInvariant().TrimEnd('B');
        long unit = t.EndsWith('K') ? 1024 : t.EndsWith('M') ? 1024 * 1024 : 1;
        if (unit > 1) t = t[..^1];
        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n < 1 || n > (1L << 40) / unit)
            throw new UsageException($"{option} must be a size like 256K, 1M or 262144, not '{text}'.");
        return n * unit;
    }

    /// <summary>
    /// The flash view: per kept count, the constant data of the exported int8 C (exact; the same for
    /// any ranking) and the mean int8 accuracy prune measured; the largest count that fits the budget
    /// is built for a Cortex-M4F when arm-none-eabi-gcc is installed, so that its code is counted too.
    /// </summary>
    private static void FlashView(IClassifierModel model, int[] keeps, IReadOnlyList<PruneRecord> records, long budget, string budgetText)
    {
        var int8 = new FFLib.Export.ExportOptions { Int8 = true };
        var ranking = NeuronPruning.WeightNormRanking(model);
        int widest = NeuronPruning.HiddenWidths(model).Max();
        Console.WriteLine($"flash budget {budgetText} ({budget:N0} bytes), int8 C export:");
        Console.WriteLine($"{"keep",6} {"weights+consts",15} {"scratch RAM",12} {"int8 acc",9}  fits");
        var rows = new List<(int Keep, IClassifierModel Pruned, long Bytes, double? Accuracy)>();
        foreach (int k in keeps.Distinct().OrderByDescending(k => k))
        {
            var pruned = k >= widest ? model : NeuronPruning.Prune(model, ranking, k);
            var (bytes, scratch) = FFLib.Export.CExporter.Measure(pruned, int8);
            var g = records.Where(r => r.Keep == k).ToArray();
            double? acc = g.Length == 0 ? null : g.Average(r => r.Int8Accuracy ?? r.Accuracy);
            rows.Add((k, pruned, bytes, acc));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{k,6} {bytes,15:N0} {scratch,12:N0} {(acc is double a ? $"{a * 100:F2}%" : "—"),9}  {(bytes <= budget ? "yes (data)" : "no")}"));
        }
        foreach (var (k, pruned, bytes, acc) in rows.Where(r => r.Bytes <= budget))
        {
            string accuracy = acc is double measured ? string.Create(CultureInfo.InvariantCulture, $"{measured * 100:F2}%") : "not measured";
            if (!FFLib.Export.CortexM.IsAvailable)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"largest kept count whose weights fit {budgetText}: {k} ({bytes:N0} bytes of constant data; install gcc-arm-none-eabi to count the code too), int8 accuracy {accuracy}"));
                return;
            }
            var size = FFLib.Export.CortexM.Measure(pruned, int8);
            if (size.Flash > budget) { Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"keep {k}: {size.Flash:N0} bytes with its code on a Cortex-M4F: over the budget")); continue; }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"largest kept count that fits {budgetText}: {k}: {size.Flash:N0} bytes of flash on a Cortex-M4F (code {size.Text:N0}, constants {size.ReadOnlyData:N0}), {size.Ram:N0} bytes of RAM; int8 accuracy {accuracy}"));
            return;
        }
        Console.WriteLine($"no kept count of {string.Join(",", keeps)} fits {budgetText}; try smaller --keep values.");
    }

    private static void PrintSummary(IReadOnlyList<PruneRecord> records)
    {
        Console.WriteLine($"{"keep",6} {"ratio",8} {"mean acc",9} {"std",6} {"min",7} {"max",7} {"brotli",10} {"int8",10} {"int8 acc",9}");
        foreach (var g in records.GroupBy(r => r.Keep))
        {
            var acc = g.Select(r => r.Accuracy * 100).ToArray();
            double mean = acc.Average(), std = acc.Length > 1 ? Math.Sqrt(acc.Sum(a => (a - mean) * (a - mean)) / (acc.Length - 1)) : 0;
            var first = g.First();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{g.Key,6} {g.Average(r => r.CompressionRatio),7:F2}× {mean,8:F2}% {std,6:F2} {acc.Min(),7:F2} {acc.Max(),7:F2} {first.BrotliBytes,10} {first.Int8Bytes,10} {(g.All(r => r.Int8Accuracy.HasValue) ? (g.Average(r => r.Int8Accuracy!.Value) * 100).ToString("F2", CultureInfo.InvariantCulture) + "%" : "—"),9}"));
        }
    }
}
