using System.CommandLine;
using System.Globalization;
using FFLib.Coding;
using FFLib.Data;
using FFLib.IO;
using FFLib.ModelCompression;
using FFLib.Models;
using FFLib.Plotting;
using FFLib.Pruning;

namespace FFLib.Cli;

/// <summary><c>fflib compress</c>: how small one model can get (pruning × weight formats × coders).</summary>
internal static class CompressCommand
{
    internal const string DefaultFormats = "fp32,int8,int4,int4-asym,int2-asym,kmeans16,kmeans4";

    public static Command Create()
    {
        var modelPath = new Option<string>("--model", "-m") { Description = "A model file (model.safetensors) or a run folder written by fflib train.", Required = true };
        var keep = new Option<string?>("--keep") { Description = "Neurons kept per hidden layer by random one-shot pruning, comma-separated; the unpruned model is always included. Default: halving from the widest layer down to 32." };
        var formats = new Option<string>("--formats") { Description = "Weight formats: fp32, intB (symmetric per row, B = 2..8), intB-asym, kmeansK (shared codebook of K = 2..256 values per matrix); +outliers after any but fp32 keeps columns more than 8x the median column's size in float32 (an FF network's label inputs).", DefaultValueFactory = _ => DefaultFormats };
        var ranks = new Option<string>("--ranks") { Description = "Ranks of low-rank factorisation (randomized SVD) tried at every kept count, comma-separated; 0 keeps the matrices whole. A matrix is factored only where the factors are smaller.", DefaultValueFactory = _ => "0" };
        var seed = new Option<int>("--seed") { Description = "Seed of the pruning permutation.", DefaultValueFactory = _ => 0 };
        var dataset = new Option<string?>("--dataset") { Description = "Dataset (default: the one the model was trained on)." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Evaluate on only the first N test images." };
        var finetune = new Option<int>("--finetune-epochs") { Description = "Retrain each pruned model for N epochs with its own rule before storing it (0: one-shot pruning, the paper's method).", DefaultValueFactory = _ => 0 };
        var finetuneLr = new Option<float?>("--finetune-lr") { Description = "Learning rate of the fine-tuning (default: the model's own)." };
        var codebookEpochs = new Option<int>("--codebook-finetune-epochs") { Description = "Trained quantisation: after each codebook format (kmeansK) of an unfactored model, also store it after N epochs of training its shared values with the codes fixed (0: none). Uses --finetune-lr and --train-limit.", DefaultValueFactory = _ => 0 };
        var lowRankEpochs = new Option<int>("--lowrank-finetune-epochs") { Description = "Fine-tune the low-rank factors: after each rank of --ranks, train the factored model for N epochs with its own rule, returning every factored matrix to its rank after each step, and store every format again from the tuned factors (0: none). Uses --finetune-lr and --train-limit.", DefaultValueFactory = _ => 0 };
        var rounds = new Option<int>("--prune-rounds") { Description = "Prune to each kept count in R rounds (kept counts falling geometrically), fine-tuning after every round; needs --finetune-epochs.", DefaultValueFactory = _ => 1 };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Fine-tune on only the first N training images." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Output folder (compress.csv, compress.png; model files in models/ with --save-models); default: a new runs/TIME-compress-MODEL." };
        var overwrite = Cli.OverwriteOption();
        var saveModels = new Option<bool>("--save-models") { Description = "Keep every compressed model file (bit-packed and rANS-coded) in models/." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files." };
        var noDownload = new Option<bool>("--no-download") { Description = "Never download." };
        var flash = new Option<string?>("--flash") { Description = "A flash size (e.g. 64K): also list each stored model's C export (in its stored form) and name the most accurate that fits, built for a Cortex-M4F when arm-none-eabi-gcc is installed." };
        var cmd = new Command("compress", "Prune a saved model at several kept counts, store each in several weight formats (quantised, weight-shared), code every file (gzip, brotli, lzma, zstd, rANS) and measure its accuracy; write compress.csv and the accuracy-vs-bytes frontier (compress.png).")
        {
            modelPath, keep, formats, ranks, seed, dataset, testLimit, finetune, finetuneLr, codebookEpochs, lowRankEpochs, rounds, trainLimit, outDir, overwrite, saveModels, threads, dataDir, noDownload, flash,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            int nThreads = pr.GetValue(threads);
            if (nThreads < 1) throw new UsageException($"--threads must be at least 1, not {nThreads}.");
            Compute.ComputeSettings.Threads = nThreads;
            var chosen = ParseFormats(pr.GetValue(formats)!);
            long? flashBudget = pr.GetValue(flash) is string fb ? PruneCommand.ParseSize(fb, "--flash") : null;
            var chosenRanks = ParseRanks(pr.GetValue(ranks)!);
            int epochs = pr.GetValue(finetune) is var fe && fe >= 0 ? fe : throw new UsageException($"--finetune-epochs must be 0 or more, not {fe}.");
            int trainedEpochs = pr.GetValue(codebookEpochs) is var ce && ce >= 0 ? ce : throw new UsageException($"--codebook-finetune-epochs must be 0 or more, not {ce}.");
            if (trainedEpochs > 0 && !chosen.Any(f => f.Scheme == WeightScheme.Codebook))
                throw new UsageException($"--codebook-finetune-epochs trains codebooks, but --formats {string.Join(",", chosen.Select(f => f.Id))} has no codebook format (kmeans16, kmeans4, …).");
            int tunedEpochs = pr.GetValue(lowRankEpochs) is var le && le >= 0 ? le : throw new UsageException($"--lowrank-finetune-epochs must be 0 or more, not {le}.");
            if (tunedEpochs > 0 && !chosenRanks.Any(r => r > 0))
                throw new UsageException($"--lowrank-finetune-epochs tunes low-rank factors, but --ranks {string.Join(",", chosenRanks)} factors nothing; give a rank above 0.");
            float? flr = pr.GetValue(finetuneLr) is float f0 ? (f0 > 0 && float.IsFinite(f0) ? f0 : throw new UsageException($"--finetune-lr must be a positive number, not {f0.ToString(CultureInfo.InvariantCulture)}.")) : null;
            var (path, loaded) = Cli.LoadModel(pr.GetValue(modelPath)!);
            ModelCheckpoint.RequireFinite(loaded.Model, path);
            string arch = ModelCheckpoint.ArchitectureId(loaded.Architecture);
            IReadOnlyList<int>? keeps = null;
            if (loaded.Model is INeuronPrunable)
            {
                int widest = NeuronPruning.HiddenWidths(loaded.Model).Max();
                var asked = pr.GetValue(keep) is string k ? TrainCommand.ParseLayers(k, "--keep") : DefaultKeeps(widest);
                if (asked.FirstOrDefault(x => x > widest) is int tooMany and > 0)
                    throw new UsageException($"--keep {tooMany} exceeds the widest hidden layer of {path} ({widest} neurons); use counts up to {widest}.");
                keeps = [widest, .. asked.Where(k => k < widest).Distinct()];
            }
            else if (pr.GetValue(keep) is not null)
                throw new UsageException($"--keep: {arch} models cannot be pruned by neurons; leave --keep out to compress the model as it is.");
            if (chosenRanks.Max() is int topRank and > 0 && loaded.Model.Parameters().Where(p => p.IsMatrix).Select(p => Math.Min(p.Rows, p.Cols)).Max() is int largest && topRank > largest)
                throw new UsageException($"--ranks {topRank} is larger than every weight matrix of {path} allows (at most {largest}, its largest matrix's smaller side).");
            foreach (var f in chosen.Where(f => f.Scheme == WeightScheme.Codebook))
                if (loaded.Model.Parameters().Where(p => p.IsMatrix).FirstOrDefault(p => p.Data.Length < f.CodebookSize) is { } small)
                    throw new UsageException($"--formats {f.Id}: a codebook of {f.CodebookSize} values is larger than {small.Name} of {path}, which has {small.Data.Length} weights.");
            string? dsName = pr.GetValue(dataset) ?? loaded.Dataset;
            if (dsName is null) throw new UsageException($"{path} does not record its dataset; pass --dataset.");
            var data = DatasetLoader.Load(Cli.ParseDataset(dsName), Cli.DataOptions(pr.GetValue(dataDir), pr.GetValue(noDownload)));
            var test = pr.GetValue(testLimit) is int tl ? (tl >= 1 ? data.Test.Take(tl) : throw new UsageException($"--test-limit must be at least 1, not {tl}.")) : data.Test;
            int pruneRounds = pr.GetValue(rounds);
            if (pruneRounds < 1) throw new UsageException($"--prune-rounds must be at least 1, not {pruneRounds}.");
            if (pruneRounds > 1 && epochs == 0) throw new UsageException($"--prune-rounds {pruneRounds} needs --finetune-epochs: the rounds differ from one-shot pruning only by the retraining between them.");
            if (epochs > 0 && loaded.Model is not ITrainableModel) throw new UsageException($"--finetune-epochs: {arch} models cannot be trained.");
            if (trainedEpochs > 0 && loaded.Model is not ITrainableModel) throw new UsageException($"--codebook-finetune-epochs: {arch} models cannot be trained.");
            if (tunedEpochs > 0 && loaded.Model is not ITrainableModel) throw new UsageException($"--lowrank-finetune-epochs: {arch} models cannot be trained.");
            var train = pr.GetValue(trainLimit) is int trl ? (trl >= 1 ? data.Train.Take(trl) : throw new UsageException($"--train-limit must be at least 1, not {trl}.")) : data.Train;
            var (dir, hold) = Cli.ClaimOutput(pr.GetValue(outDir), $"compress-{arch}", pr.GetValue(overwrite), "compress.csv", "compress.png");
            using var held = hold;
            var options = new CompressionOptions { Keep = keeps, Formats = chosen, Seed = pr.GetValue(seed), FinetuneEpochs = epochs, FinetuneLearningRate = flr, Ranks = chosenRanks, PruneRounds = pruneRounds, CodebookFinetuneEpochs = trainedEpochs, LowRankFinetuneEpochs = tunedEpochs };
            int total = (keeps?.Count ?? 1) * (chosen.Count * chosenRanks.Count + (trainedEpochs > 0 ? chosen.Count(f => f.Scheme == WeightScheme.Codebook) : 0)
                + (tunedEpochs > 0 ? chosen.Count * chosenRanks.Count(r => r > 0) : 0)), done = 0;
            Console.Error.WriteLine($"fflib compress: {arch} from {path}, keep {(keeps is null ? "all" : string.Join(",", keeps))}, formats {string.Join(",", chosen.Select(f => f.Id))}{(chosenRanks.Any(r => r > 0) ? $", ranks {string.Join(",", chosenRanks)}" : "")}{(epochs > 0 ? $", fine-tuning {epochs} epoch(s) on {train.Count} images" : "")}{(trainedEpochs > 0 ? $", trained quantisation {trainedEpochs} epoch(s)" : "")}{(tunedEpochs > 0 ? $", low-rank fine-tuning {tunedEpochs} epoch(s)" : "")}, {test.Count} test images: {total} models{(chosenRanks.Any(r => r > 0) ? " at most (a rank that would not shrink any matrix is skipped)" : "")}");
            var records = CompressionStudy.Run(loaded.Model, test, options, Path.Combine(dir, "models"), loaded.Training,
                r => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{++done}/{total}] {r.Method,-44} {r.Accuracy * 100,6:F2}%  file {Kb(r.Bytes),9}  best {Kb(r.BestBytes),9} ({r.BestCoder}){(r.EntropyBitsPerWeight is double e ? $"  {e:F2} bits/weight" : "")}  {r.Seconds:F1} s")), epochs > 0 || trainedEpochs > 0 || tunedEpochs > 0 ? train : null);
            string modelsDir = Path.Combine(dir, "models");
            if (flashBudget is long budget) FlashView(records, budget, pr.GetValue(flash)!);
            if (!pr.GetValue(saveModels) && Directory.Exists(modelsDir)) Directory.Delete(modelsDir, recursive: true);
            string csv = Path.Combine(dir, "compress.csv"), png = Path.Combine(dir, "compress.png");
            CompressionStudy.WriteCsv(csv, records);
            CompressionPlots.Frontier(png, [(arch, records)], $"{arch} on {dsName}: accuracy vs stored size");
            PrintFrontier(records);
            Console.WriteLine($"written: {csv}, {png}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// The flash view: each stored model's C export in its stored form (packed codes and low-rank factors
    /// decoded at inference; a plain file as float32), the most accurate whose constant data fits the
    /// budget, then that one built for a Cortex-M4F (when arm-none-eabi-gcc is installed) so that its code counts too.
    /// </summary>
    private static void FlashView(IReadOnlyList<CompressionRecord> records, long budget, string budgetText)
    {
        Console.WriteLine($"flash budget {budgetText} ({budget:N0} bytes), C export of each stored model:");
        Console.WriteLine($"{"model",-44} {"accuracy",9} {"C constants",12} {"scratch RAM",12}  fits");
        var rows = new List<(CompressionRecord Record, IClassifierModel Model, FFLib.Export.ExportOptions Options, long Bytes)>();
        foreach (var r in records.Where(r => r.ModelFile is not null && File.Exists(r.ModelFile)))
        {
            var loaded = ModelCheckpoint.Load(r.ModelFile!);
            var options = new FFLib.Export.ExportOptions();
            if (loaded.Metadata.ContainsKey(CompressedWeights.MetadataKey))
                options = options with { Packed = CompressedWeights.ReadPacked(r.ModelFile!), LowRank = CompressedWeights.ReadLowRank(r.ModelFile!) };
            (long bytes, long scratch) measured;
            try { measured = FFLib.Export.CExporter.Measure(loaded.Model, options); }
            catch (NotSupportedException) { continue; } // an architecture without an inference graph
            rows.Add((r, loaded.Model, options, measured.bytes));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Method,-44} {r.Accuracy * 100,8:F2}% {measured.bytes,12:N0} {measured.scratch,12:N0}  {(measured.bytes <= budget ? "yes (data)" : "no")}"));
        }
        foreach (var (r, model, options, bytes) in rows.Where(x => x.Bytes <= budget).OrderByDescending(x => x.Record.Accuracy).ThenBy(x => x.Bytes))
        {
            if (!FFLib.Export.CortexM.IsAvailable)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"most accurate model whose C constants fit {budgetText}: {r.Method} ({r.Accuracy * 100:F2}%, {bytes:N0} bytes; install gcc-arm-none-eabi to count the code too)"));
                return;
            }
            var size = FFLib.Export.CortexM.Measure(model, options);
            if (size.Flash > budget) { Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Method}: {size.Flash:N0} bytes with its code on a Cortex-M4F: over the budget")); continue; }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"most accurate model that fits {budgetText}: {r.Method}: {r.Accuracy * 100:F2}%, {size.Flash:N0} bytes of flash on a Cortex-M4F (code {size.Text:N0}, constants {size.ReadOnlyData:N0}), {size.Ram:N0} bytes of RAM"));
            return;
        }
        Console.WriteLine($"no stored model fits {budgetText}; try smaller --keep values, fewer bits or a rank.");
    }

    /// <summary>Deep Compression's LeNet-300-100 on MNIST (Han et al., ICLR 2016, Table 1): 27 KB at 1.58 % error, drawn at 27 × 1024 bytes.</summary>
    internal static readonly CompressionPlots.Mark DeepCompressionLeNet300 = new("Deep Compression LeNet-300-100 (MNIST)", 27 * 1024, 0.9842);

    public static Command CreateCompare()
    {
        var results = new Option<string>("--results") { Description = "Comma-separated compress.csv files (or folders holding one), one frontier each.", Required = true };
        var labels = new Option<string?>("--labels") { Description = "Comma-separated names for the series (default: each file's architecture)." };
        var reference = new Option<string>("--reference") { Description = "A published point to draw: deep-compression (LeNet-300-100 on MNIST, 27 KB at 98.42 %) or none.", DefaultValueFactory = _ => "none" };
        var outPath = new Option<string>("--out", "-o") { Description = "Output PNG.", DefaultValueFactory = _ => "runs/compress-compare.png" };
        var title = new Option<string>("--title") { Description = "Plot title.", DefaultValueFactory = _ => "Accuracy vs stored size" };
        var overwrite = Cli.OverwriteOption();
        var cmd = new Command("compress-compare", "Draw the accuracy-vs-bytes frontiers of several compress.csv files on one figure.") { results, labels, reference, outPath, title, overwrite };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            var files = pr.GetValue(results)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(item => Directory.Exists(item) ? Path.Combine(item, "compress.csv") : item).ToArray();
            var names = pr.GetValue(labels)?.Split(',', StringSplitOptions.TrimEntries);
            if (names is not null && names.Length != files.Length) throw new UsageException($"--labels names {names.Length} series but --results lists {files.Length}.");
            var marks = pr.GetValue(reference)!.Trim().ToLowerInvariant() switch
            {
                "none" => Array.Empty<CompressionPlots.Mark>(),
                "deep-compression" => [DeepCompressionLeNet300],
                var other => throw new UsageException($"--reference must be deep-compression or none, not '{other}'."),
            };
            var series = new List<(string, IReadOnlyList<CompressionRecord>)>();
            for (int i = 0; i < files.Length; i++)
            {
                if (!File.Exists(files[i])) throw new UsageException($"--results {files[i]} does not exist.");
                var records = CompressionStudy.ReadCsv(files[i]);
                if (records.Count == 0) throw new InvalidDataException($"{files[i]}: no records.");
                series.Add((names?[i] ?? records[0].Architecture, records));
            }
            string png = pr.GetValue(outPath)!;
            Cli.RefuseOverwrite(png, pr.GetValue(overwrite));
            CompressionPlots.Frontier(png, series, pr.GetValue(title)!, marks);
            foreach (var (label, records) in series)
            {
                Console.WriteLine($"{label}:");
                PrintFrontier(records);
            }
            Console.WriteLine($"written: {png}");
            return 0;
        }));
        return cmd;
    }

    internal static IReadOnlyList<WeightFormat> ParseFormats(string text)
    {
        var list = new List<WeightFormat>();
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            list.Add(WeightFormat.TryParse(item, out var problem) ?? throw new UsageException($"--formats {problem}."));
        if (list.Count == 0) throw new UsageException("--formats lists no weight format.");
        return list.DistinctBy(f => f.Id).ToList();
    }

    internal static IReadOnlyList<int> ParseRanks(string text)
    {
        var list = new List<int>();
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            list.Add(int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int r) ? r : throw new UsageException($"--ranks must list whole numbers (0 = matrices whole), not '{item}'."));
        if (list.Count == 0) throw new UsageException("--ranks lists no rank.");
        return list.Distinct().ToList();
    }

    /// <summary>Halving from the widest layer: 2000 → 1000, 500, 250, 125, 62, 32.</summary>
    internal static int[] DefaultKeeps(int widest)
    {
        var keeps = new List<int>();
        for (int k = widest / 2; k >= 32; k /= 2) keeps.Add(k);
        if (keeps.Count == 0 || keeps[^1] != 32 && widest > 32) keeps.Add(Math.Min(32, widest));
        return keeps.Where(k => k < widest).Distinct().ToArray();
    }

    private static string Kb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB");

    private static void PrintFrontier(IReadOnlyList<CompressionRecord> records)
    {
        Console.WriteLine("frontier (no other model is both smaller and more accurate):");
        Console.WriteLine($"{"model",-44} {"accuracy",9} {"best size",11} {"coder",7} {"file",11} {"entropy bound",14}");
        foreach (var r in CompressionStudy.Frontier(records))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Method,-44} {r.Accuracy * 100,8:F2}% {Kb(r.BestBytes),11} {r.BestCoder,7} {Kb(r.Bytes),11} {(r.EntropyBoundBytes is long b ? Kb(b) : "—"),14}"));
    }
}
