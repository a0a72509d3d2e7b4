using System.Globalization;
using System.Text;
using FFLib.Data;
using FFLib.IO;
using FFLib.ModelCompression;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>One chain of the compressibility study, pooled over the training seeds of one architecture.</summary>
/// <param name="Architecture">The architecture id.</param>
/// <param name="Method">The chain ("prune-random keep 500 → lowrank 64 → int8").</param>
/// <param name="Seeds">Trained models measured.</param>
/// <param name="Accuracy">Mean test accuracy.</param>
/// <param name="AccuracyStd">Sample standard deviation of the accuracy (0 for one seed).</param>
/// <param name="BestBytes">Mean of each model's smallest stored size.</param>
/// <param name="Format">The weight format id.</param>
public sealed record CompressibilityRow(string Architecture, string Method, int Seeds, double Accuracy, double AccuracyStd, double BestBytes, string Format);

/// <summary>
/// The compressibility study behind <c>fflib reproduce compressibility</c>: every trained model of a
/// sweep (FF and backprop architectures, several seeds) through <see cref="CompressionStudy"/>
/// (pruning × low rank × weight format × coders), each model's records kept in compress/ID.csv
/// (the study resumes from them), then pooled per architecture and chain over seeds.
/// </summary>
public static class CompressibilityStudy
{
    /// <summary>
    /// The grid for a model whose widest hidden layer is <paramref name="widest"/>. smoke: kept
    /// counts w, w/2, w/4; ranks 0 and 16; formats fp32, int8, int4-asym, kmeans16. Otherwise:
    /// w, w/2, … w/16; ranks 0, 128, 64, 32; the same formats (80 models, 5–8 minutes for a
    /// 2×2000 model on the 2-core machine); paper adds int4-asym+outliers and kmeans16+outliers
    /// (120 models), the formats that keep an FF model's label columns apart.
    /// </summary>
    public static CompressionOptions GridFor(string budget, int widest)
    {
        WeightFormat[] formats = [WeightFormat.Float32, WeightFormat.Uniform(8, true), WeightFormat.Uniform(4, false), WeightFormat.Codebook(16)];
        // Measured on one 60-epoch FFNN: 4 bits lose 3 points on its label columns unless they stay in float32.
        if (budget == "paper") formats = [.. formats, WeightFormat.Uniform(4, false).WithOutliers(), WeightFormat.Codebook(16).WithOutliers()];
        bool smoke = budget == "smoke";
        var keep = Enumerable.Range(0, smoke ? 3 : 5).Select(i => widest >> i).Where(k => k >= 1).Distinct().ToArray();
        int[] ranks = smoke ? [0, 16] : [0, 128, 64, 32];
        return new CompressionOptions { Keep = keep, Formats = formats, Ranks = ranks.Where(r => r == 0 || r < widest).ToArray() };
    }

    /// <summary>The folder (under the results folder) holding each model's compress.csv.</summary>
    public const string FolderName = "compress";

    /// <summary>
    /// Compresses every finished run of <paramref name="runs"/> in <paramref name="resultsDir"/> (a sweep run
    /// with <see cref="SweepWorkerOptions.SaveModels"/>) whose compress/ID.csv is not there yet (each is written
    /// when done); the pruning permutation of a model is seeded with its training seed. Returns every record.
    /// </summary>
    public static IReadOnlyList<CompressionRecord> MeasureAll(IReadOnlyList<RunSpec> runs, string resultsDir, string budget,
        DatasetLoadOptions? data = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var completed = SweepResults.Read(resultsDir).Records.Where(r => r.Status == "completed").Select(r => r.Id).ToHashSet();
        var tests = new Dictionary<(DatasetKind, int?), ImageDataset>();
        var all = new List<CompressionRecord>();
        string folder = Directory.CreateDirectory(Path.Combine(resultsDir, FolderName)).FullName;
        foreach (var run in runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string id = SweepRunner.RunId(run);
            string csv = Path.Combine(folder, id + ".csv");
            if (File.Exists(csv)) { all.AddRange(CompressionStudy.ReadCsv(csv)); continue; }
            string modelPath = Path.Combine(resultsDir, "models", id + ".safetensors");
            if (!completed.Contains(id) || !File.Exists(modelPath)) { log?.Invoke($"not compressed: {SweepRunner.Describe(run)} (no finished run {id} with its model kept)"); continue; }
            if (!tests.TryGetValue((run.Dataset, run.TestLimit), out var test))
            {
                var set = DatasetLoader.Load(run.Dataset, data ?? run.Data).Test;
                tests[(run.Dataset, run.TestLimit)] = test = run.TestLimit is int tl ? set.Take(tl) : set;
            }
            var loaded = ModelCheckpoint.Load(modelPath);
            var grid = loaded.Model is INeuronPrunable ? GridFor(budget, NeuronPruning.HiddenWidths(loaded.Model).Max()) : GridFor(budget, 1) with { Keep = null };
            grid = grid with { Seed = (int)run.Seed };
            string work = Path.Combine(folder, id + ".work");
            log?.Invoke($"compressing {SweepRunner.Describe(run)}: {(grid.Keep?.Count ?? 1) * grid.Ranks.Count * grid.Formats.Count} models");
            var records = CompressionStudy.Run(loaded.Model, test, grid, work, loaded.Training);
            CompressionStudy.WriteCsv(csv, records);
            Directory.Delete(work, recursive: true);
            var best = CompressionStudy.Frontier(records);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"compressed {id}: frontier {string.Join(", ", best.Select(r => $"{r.BestBytes / 1024.0:F0} KiB {r.Accuracy * 100:F2}%"))}"));
            all.AddRange(records);
        }
        return all;
    }

    /// <summary>Pools records per architecture and chain over the seeds.</summary>
    public static IReadOnlyList<CompressibilityRow> Summarise(IEnumerable<CompressionRecord> records) =>
        records.GroupBy(r => (r.Architecture, r.Method)).Select(g =>
        {
            var acc = g.Select(r => r.Accuracy).ToArray();
            double mean = acc.Average();
            double std = SampleStatistics.Std(acc);
            return new CompressibilityRow(g.Key.Architecture, g.Key.Method, acc.Length, mean, std, g.Average(r => (double)r.BestBytes), g.First().Format);
        }).OrderBy(r => r.Architecture, StringComparer.Ordinal).ThenBy(r => r.BestBytes).ToList();

    /// <summary>The rows of one architecture that no other of its rows beats in both mean size and mean accuracy, smallest first.</summary>
    public static IReadOnlyList<CompressibilityRow> Frontier(IEnumerable<CompressibilityRow> rows) =>
        CompressionStudy.Frontier(rows, r => r.BestBytes, r => r.Accuracy);

    /// <summary>The smallest row of an architecture whose mean accuracy reaches <paramref name="accuracy"/>; null when none does.</summary>
    public static CompressibilityRow? SmallestAtLeast(IEnumerable<CompressibilityRow> rows, double accuracy) =>
        rows.Where(r => r.Accuracy >= accuracy).OrderBy(r => r.BestBytes).FirstOrDefault();

    /// <summary>The most accurate row of an architecture whose mean size fits <paramref name="bytes"/>; null when none does.</summary>
    public static CompressibilityRow? MostAccurateWithin(IEnumerable<CompressibilityRow> rows, double bytes) =>
        rows.Where(r => r.BestBytes <= bytes).OrderByDescending(r => r.Accuracy).FirstOrDefault();

    /// <summary>Writes compressibility.csv (every pooled row), atomically.</summary>
    public static void WriteCsv(string path, IEnumerable<CompressibilityRow> rows)
    {
        var sb = new StringBuilder("architecture,method,format,seeds,accuracy_mean,accuracy_std,best_bytes_mean\n");
        foreach (var r in rows)
            sb.Append(string.Create(CultureInfo.InvariantCulture, $"{r.Architecture},\"{r.Method}\",{r.Format},{r.Seeds},{r.Accuracy:R},{r.AccuracyStd:R},{r.BestBytes:F0}\n"));
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>The report: per architecture its frontier, the smallest model at ≥ 98 % and ≥ 97 %, and the best model within 32 and 64 KiB.</summary>
    public static string Markdown(IReadOnlyList<CompressibilityRow> rows, string title)
    {
        static string Kib(double b) => (b / 1024).ToString(b < 10 * 1024 ? "F1" : "F0", CultureInfo.InvariantCulture) + " KiB";
        static string Acc(CompressibilityRow r) => string.Create(CultureInfo.InvariantCulture, $"{r.Accuracy * 100:F2} ± {r.AccuracyStd * 100:F2}%");
        var sb = new StringBuilder($"# {title}\n\n");
        sb.Append("Sizes are each model's smallest stored file (bit-packed, rANS, gzip, brotli, lzma or zstd), averaged over the seeds; accuracy is mean ± std over the seeds, read back from the stored files.\n\n");
        var archs = rows.Select(r => r.Architecture).Distinct().ToArray();
        sb.Append("| architecture | seeds | smallest ≥ 98 % | smallest ≥ 97 % | best ≤ 64 KiB | best ≤ 32 KiB |\n|---|---|---|---|---|---|\n");
        foreach (var a in archs)
        {
            var mine = rows.Where(r => r.Architecture == a).ToArray();
            string At(CompressibilityRow? r) => r is null ? "—" : $"{Kib(r.BestBytes)}, {Acc(r)} ({r.Method})";
            sb.Append($"| {a} | {mine.Max(r => r.Seeds)} | {At(SmallestAtLeast(mine, 0.98))} | {At(SmallestAtLeast(mine, 0.97))} | {At(MostAccurateWithin(mine, 64 * 1024))} | {At(MostAccurateWithin(mine, 32 * 1024))} |\n");
        }
        foreach (var a in archs)
        {
            sb.Append($"\n## {a}: frontier\n\n| chain | size | accuracy |\n|---|---|---|\n");
            foreach (var r in Frontier(rows.Where(r => r.Architecture == a)))
                sb.Append($"| {r.Method} | {Kib(r.BestBytes)} | {Acc(r)} |\n");
        }
        return sb.ToString();
    }
}
