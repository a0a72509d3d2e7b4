using System.Globalization;
using System.Text;
using FFLib.Analysis;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>One regulariser's λ values in the study (λ = 0, the shared baseline, is added by the study).</summary>
public sealed record RegulariserGrid(ModelSetting<float> Setting, IReadOnlyList<float> Lambdas);

/// <summary>What the study measured on one trained model.</summary>
/// <param name="Id">The sweep's run id.</param>
/// <param name="Model">Architecture id.</param>
/// <param name="Lambda">Its λ (0 for the baseline).</param>
/// <param name="Seed">Training seed.</param>
/// <param name="Accuracy">Test accuracy of the unpruned model.</param>
/// <param name="Regulariser">The setting key of the regulariser that is on, or "none" for the baseline.</param>
/// <param name="Hoyer">Hoyer sparsity of each FF layer's weight matrix.</param>
/// <param name="Gini">Gini index of each FF layer's weight matrix.</param>
/// <param name="DeadFraction">Each FF layer's share of dead neurons on the probe (see <see cref="DeadNeurons"/>).</param>
/// <param name="Pruned">Per compression target: the mean measured ratio and mean accuracy over the pruning seeds.</param>
public sealed record RegularisationMeasurement(string Id, string Model, string Regulariser, float Lambda, long Seed, double Accuracy,
    double[] Hoyer, double[] Gini, double[] DeadFraction, IReadOnlyList<(double Target, double Ratio, double Accuracy)> Pruned);

/// <summary>
/// The paper's future-work question "how does adding regularisation, such as peer normalisation,
/// affect the sparsity, performance and pruning outcomes?": FF models trained with one regulariser
/// at a time over a λ grid (and λ = 0) and several seeds, then measured — accuracy, weight
/// sparsity per layer, dead neurons, and accuracy after random one-shot neuron pruning to fixed
/// compression ratios — and summarised against λ = 0 with Welch's t-test.
/// </summary>
public static class RegularisationStudy
{
    /// <summary>
    /// The λ grids of <c>fflib reproduce regularisation</c>: peer normalisation around Hinton's 0.03,
    /// activity L1 and weight decay each over two decades (see docs/regularisation.md for why).
    /// </summary>
    public static IReadOnlyList<RegulariserGrid> DefaultGrids { get; } =
    [
        new(FFSettings.PeerNormalization, [0.003f, 0.03f, 0.3f]),
        new(FFSettings.ActivityL1, [1e-6f, 1e-5f, 1e-4f]),
        new(FFSettings.WeightDecay, [1e-3f, 1e-2f, 1e-1f]),
    ];

    /// <summary>Compression ratios at which pruned accuracy is reported (the issue's 8× and 20×).</summary>
    public static IReadOnlyList<double> CompressionTargets { get; } = [8, 20];

    /// <summary>
    /// Every run: <paramref name="sweep"/>'s models, widths, epochs and seeds with all regularisers off,
    /// then with each regulariser of <paramref name="grids"/> on alone at each of its λ (the models must declare them).
    /// </summary>
    public static List<RunSpec> Runs(SweepSpec sweep, IReadOnlyList<RegulariserGrid> grids)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(grids);
        var runs = new List<RunSpec>();
        var ids = new HashSet<string>();
        void Add(IEnumerable<RunSpec> more)
        {
            foreach (var r in more) if (ids.Add(SweepRunner.RunId(r))) runs.Add(r);
        }
        Add(sweep.Expand());
        foreach (var g in grids)
        {
            if (g.Lambdas.Count == 0 || g.Lambdas.Any(l => FFLib.Layers.FFRegularization.Problem(l) is not null || l == 0))
                throw new ArgumentException($"The {g.Setting.Key} grid needs λ values > 0 (λ = 0 is the baseline every grid shares); got {string.Join(", ", g.Lambdas)}.");
            var with = sweep.WithGrid(g.Setting, g.Lambdas);
            with.Validate();
            Add(with.Expand());
        }
        return runs;
    }

    /// <summary>Which regulariser a run has on ("none" when none), and its λ.</summary>
    public static (string Regulariser, float Lambda) Which(RunSpec run, IReadOnlyList<RegulariserGrid> grids)
    {
        ArgumentNullException.ThrowIfNull(run);
        foreach (var g in grids)
            if (run.Architecture.Uses(g.Setting) && run.Model.Get(g.Setting) is float l && l != 0) return (g.Setting.Key, l);
        return ("none", 0f);
    }

    /// <summary>
    /// Measures one finished run of a sweep in <paramref name="resultsDir"/> (its model in models/ID.safetensors):
    /// weight sparsity of each FF layer, dead neurons on the first <paramref name="probe"/> test images,
    /// and random one-shot pruning to each of <see cref="CompressionTargets"/> over <paramref name="pruneSeeds"/> seeds.
    /// </summary>
    public static RegularisationMeasurement Measure(RunSpec run, RunRecord record, string resultsDir, ImageDataset test, IReadOnlyList<RegulariserGrid> grids,
        int pruneSeeds = 3, int probe = 1000)
    {
        ArgumentNullException.ThrowIfNull(record);
        string id = record.Id;
        string modelPath = Path.Combine(resultsDir, "models", id + ".safetensors");
        var model = ModelCheckpoint.Load(modelPath).Model;
        var weights = model.Parameters().Where(p => p.Name.StartsWith("layers.", StringComparison.Ordinal) && p.Name.EndsWith(".weight", StringComparison.Ordinal)).ToArray();
        var sparsity = weights.Select(p => Sparsity.All(p.Data)).ToArray();
        int n = Math.Min(probe, test.Count);
        var dead = model is IActivationSource source
            ? DeadNeurons.Count(source, test.ToMatrix(0, n), Enumerable.Range(0, n).Select(test.Label).ToArray(), test.Classes).Select(d => d.Fraction).ToArray()
            : [];
        var keep = CompressionTargets.Select(t => KeepFor(model, t)).ToArray();
        var pruned = PruneExperiment.Run(model, modelPath, test, new PruneOptions { Keep = keep.Distinct().ToArray(), Seeds = pruneSeeds, Int8 = false },
            Path.Combine(resultsDir, "pruned", id));
        var byTarget = CompressionTargets.Select((t, i) =>
        {
            var at = pruned.Where(r => r.Keep == keep[i]).ToArray();
            return (t, at.Average(r => r.CompressionRatio), at.Average(r => r.Accuracy));
        }).ToArray();
        Directory.Delete(Path.Combine(resultsDir, "pruned", id), recursive: true); // the pruned files were only measured
        var (reg, lambda) = Which(run, grids);
        return new RegularisationMeasurement(id, run.Architecture.Id, reg, lambda, run.Seed, record.TestAccuracy ?? double.NaN,
            sparsity.Select(s => s.Hoyer).ToArray(), sparsity.Select(s => s.Gini).ToArray(), dead, byTarget);
    }

    /// <summary>
    /// The largest neurons-per-layer count whose pruned model has at most 1/<paramref name="ratio"/> of the
    /// parameters (every hidden layer keeps the same count, as the paper prunes).
    /// </summary>
    public static int KeepFor(IClassifierModel model, double ratio)
    {
        long full = NeuronPruning.ParameterCount(model);
        var ranking = NeuronPruning.RandomRanking(model, new FFRandom(0));
        int lo = 1, hi = NeuronPruning.HiddenWidths(model).Max();
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (full >= ratio * NeuronPruning.ParameterCount(NeuronPruning.Prune(model, ranking, mid))) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    /// <summary>
    /// The study's grids at a budget: the smoke budget tries only the middle λ of each default grid;
    /// the others the whole <see cref="DefaultGrids"/>.
    /// </summary>
    public static IReadOnlyList<RegulariserGrid> GridsFor(string budget) =>
        budget == "smoke" ? DefaultGrids.Select(g => g with { Lambdas = [g.Lambdas[g.Lambdas.Count / 2]] }).ToArray() : DefaultGrids;

    /// <summary>The file in the results folder that keeps every run's measurement (a study resumes from it).</summary>
    public const string RunsFileName = "regularisation-runs.csv";

    /// <summary>
    /// Measures every finished run of <paramref name="runs"/> in <paramref name="resultsDir"/> (a sweep run with
    /// <see cref="SweepWorkerOptions.SaveModels"/>) not yet in its
    /// <see cref="RunsFileName"/> (written after each), on the runs' test set; unfinished or diverged runs are
    /// left out and named in the log. Returns every measurement of these runs.
    /// </summary>
    public static IReadOnlyList<RegularisationMeasurement> MeasureAll(IReadOnlyList<RunSpec> runs, string resultsDir, IReadOnlyList<RegulariserGrid> grids,
        DatasetLoadOptions? data = null, Action<string>? log = null, int pruneSeeds = 3, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runs);
        string csv = Path.Combine(resultsDir, RunsFileName);
        var done = File.Exists(csv) ? ReadRunsCsv(csv).ToList() : [];
        var records = SweepResults.Read(resultsDir).Records.Where(r => r.Status == "completed").ToDictionary(r => r.Id);
        var tests = new Dictionary<(DatasetKind, int?), ImageDataset>();
        var result = new List<RegularisationMeasurement>();
        foreach (var run in runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string id = SweepRunner.RunId(run);
            if (done.FirstOrDefault(m => m.Id == id) is { } known) { result.Add(known); continue; }
            if (!records.TryGetValue(id, out var record)) { log?.Invoke($"not measured: {SweepRunner.Describe(run)} (no completed run {id})"); continue; }
            if (!File.Exists(Path.Combine(resultsDir, "models", id + ".safetensors"))) { log?.Invoke($"not measured: {SweepRunner.Describe(run)} (its model was not kept: run the sweep with SaveModels)"); continue; }
            if (!tests.TryGetValue((run.Dataset, run.TestLimit), out var test))
            {
                var all = DatasetLoader.Load(run.Dataset, data ?? run.Data).Test;
                tests[(run.Dataset, run.TestLimit)] = test = run.TestLimit is int tl ? all.Take(tl) : all;
            }
            var m = Measure(run, record, resultsDir, test, grids, pruneSeeds);
            done.Add(m);
            result.Add(m);
            WriteRunsCsv(csv, done);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"measured {m.Model} {m.Regulariser} {m.Lambda:G3} seed {m.Seed}: accuracy {m.Accuracy * 100:F2}%, dead {string.Join("/", m.DeadFraction.Select(d => (d * 100).ToString("F1", CultureInfo.InvariantCulture)))}%, " +
                $"pruned {string.Join(", ", m.Pruned.Select(p => $"{p.Ratio:F1}× {p.Accuracy * 100:F2}%"))}"));
        }
        return result;
    }

    private const string RunsHeader = "id,model,regulariser,lambda,seed,accuracy,hoyer,gini,dead_fraction,pruned";

    /// <summary>Writes the per-run measurements (layer values joined by ';', pruning as target:ratio:accuracy), atomically.</summary>
    public static void WriteRunsCsv(string path, IEnumerable<RegularisationMeasurement> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(RunsHeader + "\n");
        foreach (var m in rows)
            sb.Append(inv, $"{m.Id},{m.Model},{m.Regulariser},{m.Lambda.ToString("R", inv)},{m.Seed},{m.Accuracy.ToString("R", inv)},{Join(m.Hoyer)},{Join(m.Gini)},{Join(m.DeadFraction)},")
              .Append(string.Join(';', m.Pruned.Select(p => string.Create(inv, $"{p.Target:R}:{p.Ratio:R}:{p.Accuracy:R}")))).Append('\n');
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Reads <see cref="WriteRunsCsv"/>'s file (so a study resumes without measuring again); throws naming the line of a malformed row.</summary>
    public static IReadOnlyList<RegularisationMeasurement> ReadRunsCsv(string path)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<RegularisationMeasurement>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (++lineNo == 1)
            {
                if (line != RunsHeader) throw new InvalidDataException($"{path}: line 1 is not the header '{RunsHeader}'.");
                continue;
            }
            if (line.Length == 0) continue;
            try
            {
                var f = line.Split(',');
                if (f.Length != 10) throw new FormatException($"{f.Length} fields, not 10");
                var pruned = f[9].Length == 0 ? [] : f[9].Split(';').Select(p => p.Split(':')).Select(p =>
                    (double.Parse(p[0], inv), double.Parse(p[1], inv), double.Parse(p[2], inv))).ToArray();
                rows.Add(new RegularisationMeasurement(f[0], f[1], f[2], float.Parse(f[3], inv), long.Parse(f[4], inv), double.Parse(f[5], inv),
                    Split(f[6]), Split(f[7]), Split(f[8]), pruned));
            }
            catch (Exception e) when (e is FormatException or OverflowException or IndexOutOfRangeException)
            {
                throw new InvalidDataException($"{path}: line {lineNo} is not a measurement row ({e.Message}): '{line}'.");
            }
        }
        if (lineNo == 0) throw new InvalidDataException($"{path} is empty.");
        return rows;
    }

    private static string Join(double[] values) => string.Join(';', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static double[] Split(string field) => field.Length == 0 ? [] : field.Split(';').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
}
