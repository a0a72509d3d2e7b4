using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FFLib.Coding;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;
using PackedMatrix = FFLib.IO.PackedMatrix;

namespace FFLib.ModelCompression;

/// <summary>What <see cref="CompressionStudy.Run"/> tries on one model.</summary>
public sealed record CompressionOptions
{
    /// <summary>Neurons kept per hidden layer by random one-shot pruning (the paper's method); null: the model as it is only. Counts at or above the widest layer mean no pruning.</summary>
    public IReadOnlyList<int>? Keep { get; init; }
    /// <summary>Weight formats tried at every kept count.</summary>
    public IReadOnlyList<WeightFormat> Formats { get; init; } =
        [WeightFormat.Float32, WeightFormat.Uniform(8, true), WeightFormat.Uniform(4, true), WeightFormat.Uniform(4, false), WeightFormat.Uniform(2, false), WeightFormat.Codebook(16), WeightFormat.Codebook(4)];
    /// <summary>Ranks of low-rank factorisation tried at every kept count (0: the matrices whole); a matrix is factored only where that stores fewer numbers.</summary>
    public IReadOnlyList<int> Ranks { get; init; } = [0];
    /// <summary>General-purpose coders each stored file is passed through.</summary>
    public IReadOnlyList<LosslessCoder> Coders { get; init; } = LosslessCoders.All;
    /// <summary>Seed of the pruning permutation.</summary>
    public int Seed { get; init; }
    /// <summary>k-means rounds for codebook formats.</summary>
    public int KMeansIterations { get; init; } = 30;
    /// <summary>Epochs of retraining each pruned model with its own rule before it is stored (0: one-shot, the paper's method).</summary>
    public int FinetuneEpochs { get; init; }
    /// <summary>Learning rate of the fine-tuning (null: the model's own).</summary>
    public float? FinetuneLearningRate { get; init; }
    /// <summary>
    /// Rounds of pruning to each kept count (1: one-shot). With more, the kept counts fall
    /// geometrically from the widest layer to the target, with <see cref="FinetuneEpochs"/> of
    /// retraining after every round; the neurons removed are the same as one-shot's.
    /// </summary>
    public int PruneRounds { get; init; } = 1;
    /// <summary>Batch size of the fine-tuning.</summary>
    public int FinetuneBatchSize { get; init; } = 128;
    /// <summary>
    /// Epochs of trained quantisation (<see cref="TrainedQuantization"/>) after each codebook format of an unfactored
    /// model: a second record "… → kmeansK → trained N" beside the one-shot one (0: none). Uses the fine-tuning's data,
    /// learning rate and batch size.
    /// </summary>
    public int CodebookFinetuneEpochs { get; init; }
    /// <summary>
    /// Epochs of rank-constrained fine-tuning (<see cref="LowRankFinetuning"/>) after each factorisation: every format
    /// is stored a second time from the fine-tuned factors, "… → lowrank R → tuned N → format" (0: none). Uses the
    /// fine-tuning's data, learning rate and batch size.
    /// </summary>
    public int LowRankFinetuneEpochs { get; init; }
}

/// <summary>One model of the study: how it was made, how well it predicts, and how many bytes each way of storing it takes.</summary>
/// <param name="Architecture">The architecture id.</param>
/// <param name="Method">The chain, e.g. "prune-random keep 256 → int4-asym".</param>
/// <param name="Keep">Neurons kept per hidden layer (0: not pruned).</param>
/// <param name="Format">The weight format id.</param>
/// <param name="Rank">Rank of the low-rank factors (0: matrices whole).</param>
/// <param name="Seed">The pruning permutation's seed.</param>
/// <param name="Parameters">Numbers stored: parameters of the pruned model, factored matrices counted by their factors.</param>
/// <param name="Accuracy">Test accuracy of the model read back from its file.</param>
/// <param name="Bytes">The model file with bit-packed codes (float32 for fp32).</param>
/// <param name="RansBytes">The model file with rANS-coded codes (a real file that loads); null for fp32.</param>
/// <param name="EntropyBoundBytes">The bit-packed file with its codes at their empirical entropy: the size rANS approaches; null for fp32.</param>
/// <param name="EntropyBitsPerWeight">The codes' empirical entropy, bits per weight; null for fp32.</param>
/// <param name="CodedBytes">The file's size after each general-purpose coder, by coder id, and (id "context", not for fp32) the size of the model file with its codes context-coded (<see cref="CodeStorage.Context"/>), a file that loads to the same codes.</param>
/// <param name="Seconds">Time to make, store, code and evaluate this model.</param>
public sealed record CompressionRecord(string Architecture, string Method, int Keep, string Format, int Rank, int Seed, long Parameters, double Accuracy,
    long Bytes, long? RansBytes, long? EntropyBoundBytes, double? EntropyBitsPerWeight, IReadOnlyDictionary<string, long> CodedBytes, double Seconds)
{
    /// <summary>The smallest of every size measured.</summary>
    public long BestBytes => new[] { Bytes, RansBytes ?? long.MaxValue }.Concat(CodedBytes.Values).Min();

    /// <summary>Which storage gave <see cref="BestBytes"/>.</summary>
    public string BestCoder => RansBytes == BestBytes ? "rans" : CodedBytes.FirstOrDefault(kv => kv.Value == BestBytes).Key ?? "none";

    /// <summary>The model file the study wrote (bit-packed, not rANS-coded), while its folder exists; null when read from a CSV.</summary>
    public string? ModelFile { get; init; }
}

/// <summary>
/// The compressibility study of one model: random one-shot neuron pruning at several kept counts,
/// then every weight format at each, each model written as a real file (and re-read from it for
/// its accuracy), passed through every lossless coder, rANS-coded and compared with its entropy bound.
/// </summary>
public static class CompressionStudy
{
    /// <summary>Runs the grid; <paramref name="workDir"/> receives the model files (kept by the caller or deleted).</summary>
    /// <param name="model">The trained model (left unchanged).</param>
    /// <param name="test">Data every stored model is evaluated on.</param>
    /// <param name="options">The grid.</param>
    /// <param name="workDir">Folder for the model files.</param>
    /// <param name="training">Training metadata copied into each file.</param>
    /// <param name="progress">Called with each record as it is measured.</param>
    /// <param name="finetuneData">Training data, needed when <see cref="CompressionOptions.FinetuneEpochs"/> &gt; 0.</param>
    public static IReadOnlyList<CompressionRecord> Run(IClassifierModel model, ImageDataset test, CompressionOptions options, string workDir,
        JsonObject? training = null, Action<CompressionRecord>? progress = null, ImageDataset? finetuneData = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Formats.Count == 0) throw new ArgumentException("At least one weight format is needed.", nameof(options));
        if (options.Ranks.Count == 0 || options.Ranks.Any(r => r < 0)) throw new ArgumentException("Ranks must list 0 (whole matrices) or positive ranks.", nameof(options));
        if (options.FinetuneEpochs < 0) throw new ArgumentOutOfRangeException(nameof(options), options.FinetuneEpochs, "FinetuneEpochs must be non-negative.");
        if (options.PruneRounds < 1) throw new ArgumentOutOfRangeException(nameof(options), options.PruneRounds, "PruneRounds must be at least 1.");
        if (options.PruneRounds > 1 && options.FinetuneEpochs == 0) throw new ArgumentException("Pruning in several rounds needs fine-tuning between them (FinetuneEpochs > 0).", nameof(options));
        if (options.CodebookFinetuneEpochs < 0) throw new ArgumentOutOfRangeException(nameof(options), options.CodebookFinetuneEpochs, "CodebookFinetuneEpochs must be non-negative.");
        if (options.LowRankFinetuneEpochs < 0) throw new ArgumentOutOfRangeException(nameof(options), options.LowRankFinetuneEpochs, "LowRankFinetuneEpochs must be non-negative.");
        bool retrains = options.FinetuneEpochs > 0 || options.CodebookFinetuneEpochs > 0 || options.LowRankFinetuneEpochs > 0;
        if (retrains && finetuneData is null) throw new ArgumentException("Fine-tuning needs training data.", nameof(finetuneData));
        if (retrains && model is not ITrainableModel) throw new ArgumentException($"{model.Architecture.Id} models cannot be fine-tuned.", nameof(options));
        if (options.FinetuneLearningRate is float flr && !(flr > 0 && float.IsFinite(flr))) throw new ArgumentOutOfRangeException(nameof(options), flr, "FinetuneLearningRate must be positive.");
        ModelCheckpoint.RequireFinite(model, "the model");
        Directory.CreateDirectory(workDir);
        string arch = ModelCheckpoint.ArchitectureId(model.Architecture);
        var keeps = new List<int>();
        int widest = 0;
        if (options.Keep is { Count: > 0 } wanted)
        {
            if (model is not INeuronPrunable) throw new ArgumentException($"{arch} models cannot be pruned by neurons; leave Keep empty.", nameof(options));
            if (wanted.Any(k => k < 1)) throw new ArgumentException("Kept counts must be positive.", nameof(options));
            widest = NeuronPruning.HiddenWidths(model).Max();
            keeps.AddRange(wanted.Select(k => Math.Min(k, widest)).Distinct().OrderByDescending(k => k));
        }
        else keeps.Add(0);
        var ranking = keeps.Any(k => k > 0 && k < widest) ? NeuronPruning.RandomRanking(model, new FFRandom(options.Seed)) : null;
        var records = new List<CompressionRecord>();
        foreach (int keep in keeps)
        {
            bool prunes = keep > 0 && keep < widest;
            var pruned = model;
            string prunedName = "";
            if (prunes)
            {
                // Round r keeps widest·(keep/widest)^(r/R) neurons, down the same ranking each time.
                var current = ranking!;
                int previous = widest;
                for (int round = 1; round <= options.PruneRounds; round++)
                {
                    int k = round == options.PruneRounds ? keep : (int)Math.Round(widest * Math.Pow((double)keep / widest, (double)round / options.PruneRounds));
                    if (k >= previous) continue;
                    pruned = NeuronPruning.Prune(pruned, current, k);
                    current = NeuronPruning.RankingAfter(current, k);
                    previous = k;
                    if (options.FinetuneEpochs > 0) Finetune(pruned, finetuneData!, options, round);
                }
                prunedName = $"prune-random keep {keep}{(options.PruneRounds > 1 ? $" in {options.PruneRounds} rounds" : "")}{(options.FinetuneEpochs > 0 ? $" → finetune {options.FinetuneEpochs}{(options.PruneRounds > 1 ? " each" : "")}" : "")}";
            }
            foreach (int rank in options.Ranks.Distinct())
            {
                var factorClock = Stopwatch.StartNew();
                var factors = rank > 0 ? LowRank.Factor(pruned, rank, options.Seed) : [];
                if (rank > 0 && factors.Count == 0) continue; // no matrix of this model is smaller as factors: the rank-0 records stand for it
                double factorSeconds = factorClock.Elapsed.TotalSeconds;
                string stemBase = $"keep{(keep == 0 ? "all" : keep.ToString(CultureInfo.InvariantCulture))}{(rank > 0 ? $"-rank{rank}" : "")}";
                StoreFormats(pruned, factors, Chain(prunedName, factors.Count > 0 ? $"lowrank {rank}" : ""), stemBase, factorSeconds, keep, rank, codebookTraining: factors.Count == 0);
                if (factors.Count > 0 && options.LowRankFinetuneEpochs > 0)
                {
                    // The factors fine-tuned at their rank (once per rank, on a copy of the pruned model), then every format again.
                    var clock = Stopwatch.StartNew();
                    var tunedModel = WithFinetuneRate((ITrainableModel)ModelCheckpoint.Clone(pruned), options);
                    var tuned = LowRankFinetuning.Finetune(tunedModel, factors, finetuneData!,
                        new TrainingOptions { Epochs = options.LowRankFinetuneEpochs, BatchSize = options.FinetuneBatchSize }, new FFRandom(7907 + options.Seed));
                    StoreFormats(tunedModel, tuned, Chain(prunedName, $"lowrank {rank} → tuned {options.LowRankFinetuneEpochs}"), stemBase + "-tuned",
                        clock.Elapsed.TotalSeconds, keep, rank, codebookTraining: false);
                }
            }
        }
        return records;

        // Every format of one (pruned, maybe factored) model; setupSeconds (the factorisation or tuning) is counted once, with the first format.
        void StoreFormats(IClassifierModel source, IReadOnlyList<LowRankMatrix> factors, string prefix, string stemBase, double setupSeconds, int keep, int rank, bool codebookTraining)
        {
            foreach (var format in options.Formats)
            {
                var clock = Stopwatch.StartNew();
                string chain = Chain(prefix, format.Scheme is null ? "" : format.Id);
                if (chain.Length == 0) chain = "fp32";
                var packed = WeightQuantizer.Pack(source, factors, format, options.KMeansIterations);
                string stem = Path.Combine(workDir, $"{stemBase}-{format.Id}");
                Measure(source, packed, factors, chain, stem, clock.Elapsed.TotalSeconds + setupSeconds, keep, format, rank);
                setupSeconds = 0;
                if (codebookTraining && format.Scheme == WeightScheme.Codebook && options.CodebookFinetuneEpochs > 0)
                {
                    // Trained quantisation: the shared values fine-tuned with the codes fixed, on a copy of the pruned model.
                    clock.Restart();
                    var copy = WithFinetuneRate((ITrainableModel)ModelCheckpoint.Clone(source), options);
                    var trained = TrainedQuantization.Finetune(copy, packed, finetuneData!,
                        new TrainingOptions { Epochs = options.CodebookFinetuneEpochs, BatchSize = options.FinetuneBatchSize }, new FFRandom(7919 + options.Seed));
                    Measure(copy, trained, factors, $"{chain} → trained {options.CodebookFinetuneEpochs}", stem + "-trained", clock.Elapsed.TotalSeconds, keep, format, rank);
                }
            }
        }

        // Stores one model (its packed matrices, or whole when none), codes and re-reads it, and records what it measured.
        void Measure(IClassifierModel source, IReadOnlyList<PackedMatrix> packed, IReadOnlyList<LowRankMatrix> factors, string chain, string stem,
            double seconds, int keep, WeightFormat format, int rank)
        {
            var clock = Stopwatch.StartNew();
            var meta = training?.DeepClone().AsObject() ?? [];
            meta["compression_chain"] = chain;
            string file = stem + ".safetensors";
            if (packed.Count == 0 && factors.Count == 0) ModelCheckpoint.Save(file, source, meta);
            else CompressedWeights.Save(file, source, packed, entropyCoded: false, meta, factors);
            long bytes = new FileInfo(file).Length;
            var raw = File.ReadAllBytes(file);
            var coded = options.Coders.ToDictionary(LosslessCoders.Id, c => (long)LosslessCoders.Encode(c, raw).Length);
            long? rans = null, bound = null;
            double? bitsPerWeight = null;
            string measured = file;
            if (packed.Count > 0)
            {
                string ransFile = stem + ".rans.safetensors";
                CompressedWeights.Save(ransFile, source, packed, entropyCoded: true, meta, factors);
                rans = new FileInfo(ransFile).Length;
                long packedCodes = packed.Sum(m => BitPacking.PackedLength(m.Codes.Length, m.Bits));
                double entropyBits = packed.Sum(m => SymbolEntropy.TotalBits(m.Codes));
                bound = bytes - packedCodes + packed.Sum(m => SymbolEntropy.Bytes(m.Codes));
                bitsPerWeight = entropyBits / packed.Sum(m => (double)m.Codes.Length);
                measured = ransFile; // the accuracy is read back from the entropy-coded file: its decoder is under test too
                // The context-coded file: a real file too; its codes must decode to the same ones.
                string contextFile = stem + ".context.safetensors";
                CompressedWeights.Save(contextFile, source, packed, CodeStorage.Context, meta, factors);
                var back = CompressedWeights.ReadPacked(contextFile).ToDictionary(m => m.Name);
                if (packed.Any(m => !back[m.Name].Codes.AsSpan().SequenceEqual(m.Codes)))
                    throw new InvalidOperationException($"{contextFile}: the context coder did not give back the codes it was given.");
                coded[ContextCoderId] = new FileInfo(contextFile).Length;
            }
            var reloaded = ModelCheckpoint.Load(measured).Model;
            double accuracy = Evaluation.Accuracy(reloaded, test);
            var rec = new CompressionRecord(arch, chain, keep == 0 ? 0 : keep, format.Id, rank, options.Seed,
                NeuronPruning.ParameterCount(source) - factors.Sum(f => (long)f.Rows * f.Cols - (long)f.Rank * (f.Rows + f.Cols)), accuracy, bytes, rans, bound, bitsPerWeight, coded, seconds + clock.Elapsed.TotalSeconds)
                { ModelFile = file };
            records.Add(rec);
            progress?.Invoke(rec);
        }
    }

    private static void Finetune(IClassifierModel model, ImageDataset data, CompressionOptions options, int round)
    {
        var trainable = WithFinetuneRate((ITrainableModel)model, options);
        new Trainer().Train(trainable, data, null,
            new TrainingOptions { Epochs = options.FinetuneEpochs, BatchSize = options.FinetuneBatchSize, ValidateEachEpoch = false }, new FFRandom(1000 * round + options.Seed));
    }

    /// <summary>The model with every optimiser at the options' fine-tuning rate, when they set one.</summary>
    private static ITrainableModel WithFinetuneRate(ITrainableModel model, CompressionOptions options)
    {
        if (options.FinetuneLearningRate is float lr)
            foreach (var o in model.AllOptimizers) o.Settings = o.Settings with { LearningRate = lr };
        return model;
    }

    private static string Chain(string first, string then) => first.Length == 0 ? then : then.Length == 0 ? first : $"{first} → {then}";

    /// <summary>
    /// The records no other record beats: none is both at least as accurate and at least as small
    /// (by <see cref="CompressionRecord.BestBytes"/>), ordered by size.
    /// </summary>
    public static IReadOnlyList<CompressionRecord> Frontier(IEnumerable<CompressionRecord> records) =>
        Frontier(records, r => r.BestBytes, r => r.Accuracy);

    /// <summary>The items that no other item beats in both size and accuracy, smallest first (accuracy rises strictly along it).</summary>
    public static IReadOnlyList<T> Frontier<T>(IEnumerable<T> items, Func<T, double> bytes, Func<T, double> accuracy)
    {
        ArgumentNullException.ThrowIfNull(items);
        var front = new List<T>();
        double best = double.NegativeInfinity;
        foreach (var item in items.OrderBy(bytes).ThenByDescending(accuracy))
            if (accuracy(item) > best) { front.Add(item); best = accuracy(item); }
        return front;
    }

    /// <summary>The <see cref="CompressionRecord.CodedBytes"/> entry of the context-coded model file (not a general-purpose coder: a model file that loads).</summary>
    public const string ContextCoderId = "context";

    /// <summary>CSV columns of <see cref="WriteCsv"/>: sizes in bytes; coded sizes one column per coder.</summary>
    public static string CsvHeader(IReadOnlyList<string> coders) =>
        "architecture,method,keep,format,rank,seed,parameters,accuracy,bytes," + string.Concat(coders.Select(c => c + "_bytes,")) +
        "rans_bytes,entropy_bound_bytes,entropy_bits_per_weight,best_bytes,best_coder,seconds";

    /// <summary>Reads a compress.csv written by <see cref="WriteCsv"/>; a malformed file is an <see cref="InvalidDataException"/> naming the line.</summary>
    public static IReadOnlyList<CompressionRecord> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0) throw new InvalidDataException($"{path}: empty; a compress.csv starts with the header '{CsvHeader(["gzip", "…"])}'.");
        var header = lines[0].Trim().Split(',');
        int first = Array.IndexOf(header, "bytes") + 1, rans = Array.IndexOf(header, "rans_bytes");
        var coders = first > 0 && rans >= first ? header[first..rans] : null;
        if (coders is null || coders.Any(c => !c.EndsWith("_bytes", StringComparison.Ordinal))
            || lines[0].Trim() != CsvHeader(coders.Select(c => c[..^6]).ToList()))
            throw new InvalidDataException($"{path}: not a compress.csv (its header is not '{CsvHeader(["gzip", "…"])}').");
        var ids = coders.Select(c => c[..^6]).ToArray();
        var list = new List<CompressionRecord>();
        var inv = CultureInfo.InvariantCulture;
        for (int i = 1; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            // The method is the one quoted field (it holds no comma or quote of its own).
            var q = lines[i].Split('"');
            try
            {
                if (q.Length != 3) throw new FormatException("the method is not one quoted field");
                var before = q[0].TrimEnd(',').Split(',');
                var after = q[2].TrimStart(',').Split(',');
                if (before.Length != 1 || after.Length != header.Length - 2) throw new FormatException($"{before.Length + after.Length + 1} fields instead of {header.Length}");
                long? L(string x) => x.Length == 0 ? null : long.Parse(x, inv);
                double? D(string x) => x.Length == 0 ? null : double.Parse(x, inv);
                // After the method: keep, format, rank, seed, parameters, accuracy, bytes, one column per coder, rans, bound, bits, best, best coder, seconds.
                var coded = new Dictionary<string, long>();
                for (int c = 0; c < ids.Length; c++)
                    if (after[7 + c].Length > 0) coded[ids[c]] = long.Parse(after[7 + c], inv);
                int tail = 7 + ids.Length;
                list.Add(new CompressionRecord(before[0], q[1], int.Parse(after[0], inv), after[1], int.Parse(after[2], inv), int.Parse(after[3], inv),
                    long.Parse(after[4], inv), double.Parse(after[5], inv), long.Parse(after[6], inv),
                    L(after[tail]), L(after[tail + 1]), D(after[tail + 2]), coded, double.Parse(after[tail + 5], inv)));
            }
            catch (Exception e) when (e is FormatException or OverflowException) { throw new InvalidDataException($"{path}: line {i + 1} is malformed ({e.Message})."); }
        }
        return list;
    }

    /// <summary>Writes compress.csv (atomically).</summary>
    public static void WriteCsv(string path, IReadOnlyList<CompressionRecord> records)
    {
        var coders = records.SelectMany(r => r.CodedBytes.Keys).Distinct().ToList();
        var sb = new StringBuilder(CsvHeader(coders)).Append('\n');
        foreach (var r in records)
        {
            sb.Append(string.Create(CultureInfo.InvariantCulture, $"{r.Architecture},\"{r.Method}\",{r.Keep},{r.Format},{r.Rank},{r.Seed},{r.Parameters},{r.Accuracy:R},{r.Bytes},"));
            foreach (var c in coders) sb.Append(r.CodedBytes.TryGetValue(c, out long b) ? b.ToString(CultureInfo.InvariantCulture) : "").Append(',');
            sb.Append(string.Create(CultureInfo.InvariantCulture, $"{r.RansBytes},{r.EntropyBoundBytes},{(r.EntropyBitsPerWeight is double e ? e.ToString("F4", CultureInfo.InvariantCulture) : "")},{r.BestBytes},{r.BestCoder},{r.Seconds:F2}\n"));
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}
