using System.Globalization;
using System.Text;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Pruning;

/// <summary>Settings of a prunability sweep (Figure 19; docs/reference-values.md).</summary>
public sealed record PruneOptions
{
    /// <summary>Kept neurons per hidden layer (the paper: 2000, 1500, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2).</summary>
    public IReadOnlyList<int> Keep { get; init; } = [2000, 1500, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2];

    /// <summary>How neurons are ranked; <c>null</c> with <see cref="Magnitude"/> for unstructured pruning.</summary>
    public PruneMethod Method { get; init; } = PruneMethod.Random;

    /// <summary>Unstructured single-weight magnitude pruning instead of neurons: keep t/width of each weight matrix's largest weights.</summary>
    public bool Magnitude { get; init; }

    /// <summary>Random permutations (seeds 0..Seeds−1); deterministic methods run once.</summary>
    public int Seeds { get; init; } = 10;

    /// <summary>Images sampled for the activation ranking.</summary>
    public int ActivationSample { get; init; } = 1000;

    /// <summary>Activation ranking: subtract the activations of negative data.</summary>
    public bool SubtractNegative { get; init; }

    /// <summary>Also write and evaluate an int8 (per-row scale) file of each pruned model.</summary>
    public bool Int8 { get; init; } = true;

    /// <summary>Retrain each pruned model for this many epochs with its own rule and report the accuracy after.</summary>
    public int FinetuneEpochs { get; init; }

    /// <summary>Learning rate of every optimiser during fine-tuning; null keeps the model's own (0.02 for FF layers).</summary>
    public float? FinetuneLearningRate { get; init; }

    /// <summary>Batch size for fine-tuning.</summary>
    public int FinetuneBatchSize { get; init; } = 128;

    /// <summary>Where each pruned model is evaluated and fine-tuned (null: the CPU).</summary>
    public Compute.ComputeBackend? Backend { get; init; }
}

/// <summary>One point of a prunability curve.</summary>
public sealed record PruneRecord(
    string Architecture, string Method, int Seed, int Keep, long Parameters, long Bytes, double CompressionRatio, double Accuracy,
    long BrotliBytes, long GzipBytes, long? SparseBytes, long? Int8Bytes, double? Int8Accuracy, double? FinetunedAccuracy);

/// <summary>Runs pruning sweeps and writes prune.csv.</summary>
public static class PruneExperiment
{
    /// <summary>
    /// Prunes <paramref name="model"/> (saved at <paramref name="modelPath"/>, whose size is the
    /// reference for compression ratios) at every kept count and seed, saves each pruned model in
    /// <paramref name="workDir"/>, and measures its real file size, compressed sizes and test accuracy.
    /// </summary>
    public static IReadOnlyList<PruneRecord> Run(IClassifierModel model, string modelPath, ImageDataset test, PruneOptions options,
        string workDir, ImageDataset? trainForRanking = null, ImageDataset? finetuneData = null, Action<PruneRecord>? progress = null,
        System.Text.Json.Nodes.JsonObject? training = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Keep.Count == 0 || options.Keep.Any(k => k < 1)) throw new ArgumentException("Keep must list positive neuron counts.", nameof(options));
        if (options.Seeds < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Seeds, "Seeds must be at least 1.");
        if (options.FinetuneEpochs > 0 && finetuneData is null) throw new ArgumentException("Fine-tuning needs training data.", nameof(finetuneData));
        ModelCheckpoint.RequireFinite(model, modelPath);
        Directory.CreateDirectory(workDir);
        long originalBytes = new FileInfo(modelPath).Length;
        var widths = NeuronPruning.HiddenWidths(model);
        string arch = ModelCheckpoint.ArchitectureId(model.Architecture);
        string method = options.Magnitude ? "magnitude" : options.Method switch
        {
            PruneMethod.Random => "random",
            PruneMethod.Activation => options.SubtractNegative ? "activation-minus-negative" : "activation",
            _ => "weight-norm",
        };
        bool seeded = !options.Magnitude && options.Method == PruneMethod.Random;
        int seeds = seeded ? options.Seeds : 1;
        var records = new List<PruneRecord>();
        for (int seed = 0; seed < seeds; seed++)
        {
            int[][]? ranking = options.Magnitude ? null : options.Method switch
            {
                PruneMethod.Random => NeuronPruning.RandomRanking(model, new FFRandom(seed)),
                PruneMethod.WeightNorm => NeuronPruning.WeightNormRanking(model),
                _ => ActivationRanking(model, trainForRanking ?? test, options),
            };
            foreach (int keep in options.Keep)
            {
                var pruned = ranking is null
                    ? Compression.MagnitudePrune(model, Math.Min(1.0, (double)keep / widths.Max()))
                    : NeuronPruning.Prune(model, ranking, keep);
                string path = Path.Combine(workDir, $"{method}-seed{seed}-keep{keep}.safetensors");
                // The pruned file carries the original's training metadata plus how it was pruned, so sizes compare like for like.
                var meta = training?.DeepClone().AsObject() ?? [];
                meta["pruning"] = new System.Text.Json.Nodes.JsonObject { ["method"] = method, ["seed"] = seed, ["keep"] = keep };
                ModelCheckpoint.Save(path, pruned, meta);
                long bytes = new FileInfo(path).Length;
                long? sparse = options.Magnitude ? Compression.SparseBytes(pruned) + (bytes - DenseTensorBytes(pruned)) : null;
                var (brotli, gzip) = Compression.CompressedSizes(path);
                if (options.Backend is { } backend && pruned is Modules.ComputeModule computing) computing.Backend = backend;
                double acc = Evaluation.Accuracy(pruned, test);
                long? int8Bytes = null;
                double? int8Acc = null;
                if (options.Int8)
                {
                    string qpath = Path.Combine(workDir, $"{method}-seed{seed}-keep{keep}.int8.safetensors");
                    ModelCheckpoint.SaveInt8(qpath, pruned, meta);
                    int8Bytes = new FileInfo(qpath).Length;
                    var int8Model = ModelCheckpoint.Load(qpath).Model;
                    if (options.Backend is { } b8 && int8Model is Modules.ComputeModule c8) c8.Backend = b8;
                    int8Acc = Evaluation.Accuracy(int8Model, test);
                }
                double? tuned = null;
                if (options.FinetuneEpochs > 0 && pruned is ITrainableModel trainable)
                {
                    if (options.FinetuneLearningRate is float flr)
                        foreach (var o in trainable.AllOptimizers) o.Settings = o.Settings with { LearningRate = flr };
                    new Trainer().Train(trainable, finetuneData!, null, new TrainingOptions { Epochs = options.FinetuneEpochs, BatchSize = options.FinetuneBatchSize, ValidateEachEpoch = false }, new FFRandom(1000 + seed));
                    tuned = Evaluation.Accuracy(pruned, test);
                }
                long reportedBytes = sparse ?? bytes;
                var rec = new PruneRecord(arch, method, seed, keep, NeuronPruning.ParameterCount(pruned), reportedBytes,
                    (double)originalBytes / reportedBytes, acc, brotli, gzip, sparse, int8Bytes, int8Acc, tuned);
                records.Add(rec);
                progress?.Invoke(rec);
            }
        }
        return records;
    }

    private static long DenseTensorBytes(IClassifierModel m) => 4 * NeuronPruning.ParameterCount(m);

    private static int[][] ActivationRanking(IClassifierModel model, ImageDataset data, PruneOptions options)
    {
        int n = Math.Min(options.ActivationSample, data.Count);
        var images = data.ToMatrix(0, n);
        var labels = Enumerable.Range(0, n).Select(data.Label).ToArray();
        return NeuronPruning.ActivationRanking(model, images, labels, options.SubtractNegative);
    }

    /// <summary>CSV header of <see cref="WriteCsv"/>.</summary>
    public const string CsvHeader = "architecture,method,seed,keep,parameters,bytes,compression_ratio,accuracy,brotli_bytes,gzip_bytes,sparse_bytes,int8_bytes,int8_accuracy,finetuned_accuracy";

    /// <summary>Writes records as prune.csv (atomically). <c>bytes</c> is the saved file size (for magnitude pruning: the CSR size).</summary>
    public static void WriteCsv(string path, IEnumerable<PruneRecord> records)
    {
        var sb = new StringBuilder(CsvHeader).Append('\n');
        foreach (var r in records)
            sb.Append(CultureInfo.InvariantCulture,
                $"{r.Architecture},{r.Method},{r.Seed},{r.Keep},{r.Parameters},{r.Bytes},{r.CompressionRatio:G9},{r.Accuracy:G9},{r.BrotliBytes},{r.GzipBytes},{r.SparseBytes},{r.Int8Bytes},{(r.Int8Accuracy is double a ? a.ToString("G9", CultureInfo.InvariantCulture) : "")},{(r.FinetunedAccuracy is double f ? f.ToString("G9", CultureInfo.InvariantCulture) : "")}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Reads a prune.csv written by <see cref="WriteCsv"/>; malformed lines are reported with their number.</summary>
    public static IReadOnlyList<PruneRecord> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0].Trim() != CsvHeader) throw new InvalidDataException($"{path}: not a prune.csv (expected the header '{CsvHeader}').");
        var list = new List<PruneRecord>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            var f = lines[i].Split(',');
            try
            {
                if (f.Length != 14) throw new FormatException($"{f.Length} fields instead of 14");
                var inv = CultureInfo.InvariantCulture;
                long? L(string s) => s.Length == 0 ? null : long.Parse(s, inv);
                double? D(string s) => s.Length == 0 ? null : double.Parse(s, inv);
                list.Add(new PruneRecord(f[0], f[1], int.Parse(f[2], inv), int.Parse(f[3], inv), long.Parse(f[4], inv), long.Parse(f[5], inv),
                    double.Parse(f[6], inv), double.Parse(f[7], inv), long.Parse(f[8], inv), long.Parse(f[9], inv), L(f[10]), L(f[11]), D(f[12]), D(f[13])));
            }
            catch (FormatException e) { throw new InvalidDataException($"{path}: line {i + 1} is malformed ({e.Message})."); }
        }
        return list;
    }
}
