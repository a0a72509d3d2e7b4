using System.Globalization;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Pruning;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>
/// The paper's experiments as sweeps (what <c>fflib reproduce</c> runs): the budgets, the grid of
/// each table and figure, a time estimate, and the Figure 19 pipeline (train, prune, collect).
/// </summary>
public static class Reproduction
{
    /// <summary>Every target with what it makes (the paper's table or figure numbers), in the order <c>reproduce paper</c> runs them.</summary>
    public static IReadOnlyList<(string Target, string Description)> TargetDescriptions { get; } =
    [
        ("table2", "Table 2: test accuracy of BPNN, FFNN, FFNN+C and FFRNN, mean ± std over seeds, every dataset"),
        ("table3", "Table 3: weight sparsity per layer (Hoyer, L1 and L2 negative entropy, Gini), BPNN and FFNN"),
        ("table4", "Table 4: min, max, mean and std of every weight matrix with L+ and L− (FFNN2, FFNN3, FFNN+C, FFRNN) and the BPNN"),
        ("table5", "Table 5: L+ against L− (t-tests), FFNN2, FFNN3, FFNN+C, FFRNN"),
        ("fig3", "Figures 3–5: accuracy over a learning-rate × threshold grid"),
        ("fig6", "Figures 6–8: Hoyer sparsity over the same grid"),
        ("fig9", "Figures 9–12: the four sparsity measures over training by layer width (50 to 4000), FFNN and BPNN"),
        ("fig13", "Figure 13: activation maps of one test image, the four networks side by side"),
        ("fig14", "Figure 14: HSV functional-sparsity maps of the four networks, by the authors' method and by ours"),
        ("fig15", "Figures 15–18: the four sparsity measures per layer over training, FFNN and BPNN, mean ± std over seeds"),
        ("fig19", "Figure 19: accuracy against compression ratio under random neuron pruning"),
        ("regularisation", "future work: peer normalisation, activity L1 and weight decay against sparsity and pruning"),
        ("compressibility", "future work: pruning, low rank, quantisation, weight sharing and entropy coding, FF against backprop"),
        ("cnn-prunability", "future work: an FF CNN (channel-wise competitive) against a backprop CNN of the same stack under random channel pruning (budgets smoke and reduced)"),
        ("paper", "every table and figure above (not the two future-work studies) into one folder, with index.md beside the paper's values"),
    ];

    /// <summary>The target names of <see cref="TargetDescriptions"/>.</summary>
    public static IReadOnlyList<string> Targets { get; } = TargetDescriptions.Select(t => t.Target).ToArray();

    /// <summary>Targets that cover several datasets in one results folder (the paper's tables and figures have a column or panel per dataset).</summary>
    public static IReadOnlyList<string> MultiDatasetTargets { get; } = ["table2", "table3", "fig3", "fig6", "fig9", "fig15", "paper"];

    /// <summary>Targets whose runs are an ordinary sweep followed by the report (fig13, fig14, fig19 and cnn-prunability train one model per architecture instead).</summary>
    public static bool IsSweepTarget(string target) => target is not ("fig13" or "fig14" or "fig19" or "cnn-prunability" or "paper");

    /// <summary>
    /// The documented budgets for the four built-in architectures: smoke = 200×200, 4 epochs,
    /// 2 seeds, full data (minutes); reduced = 2×2000, 10 epochs, 3 seeds (hours); paper = Table 1
    /// (60 epochs, 120 for CIFAR-10, 10 seeds). Data are never downloaded.
    /// </summary>
    public static SweepSpec Budget(string budget, DatasetKind dataset)
    {
        ArgumentNullException.ThrowIfNull(budget);
        Architecture[] all = [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn, Architecture.Bpnn];
        var noDownload = new DatasetLoadOptions { AllowDownload = false };
        return budget.Trim().ToLowerInvariant() switch
        {
            "smoke" => new SweepSpec { Models = all, Datasets = [dataset], Layers = [[200, 200]], Epochs = 4, Seeds = 2, Base = new ModelSettings().With(FFClassifierSettings.ClassifierLearningRate, 1e-3f), Data = noDownload },
            "reduced" => new SweepSpec { Models = all, Datasets = [dataset], Layers = [[2000, 2000]], Epochs = 10, Seeds = 3, Data = noDownload },
            "paper" => new SweepSpec { Models = all, Datasets = [dataset], Layers = [[2000, 2000]], Epochs = dataset == DatasetKind.Cifar10 ? 120 : 60, Seeds = 10, Data = noDownload },
            _ => throw new ArgumentException($"The budget must be smoke, reduced or paper, not '{budget}'."),
        };
    }

    /// <summary>The budget's name ("smoke", "reduced", "paper") from the spec <see cref="Budget"/> made.</summary>
    public static string BudgetName(SweepSpec budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return budget.Layers[0].Max() <= 200 ? "smoke" : budget.Seeds >= 10 ? "paper" : "reduced";
    }

    /// <summary>
    /// The specs <c>reproduce paper</c> runs: at the smoke budget smaller than the single targets' smoke (6,000 training
    /// images, 2,000 test images, 2 epochs), so that every table and figure fits in CI time; at the reduced budget 2×1000
    /// instead of 2×2000 (about 3× fewer weights: every table and figure in a few hours on a 2-core machine instead of a
    /// day; the FFRNN's runs, 13× an FFNN's cost, dominate either way); the paper budget unchanged.
    /// </summary>
    public static SweepSpec ForPaper(SweepSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return BudgetName(spec) switch
        {
            "smoke" => spec with { TrainLimit = 6000, TestLimit = 2000, Epochs = 2 },
            "reduced" => spec with { Layers = [[ReducedPaperWidth, ReducedPaperWidth]] },
            _ => spec,
        };
    }

    /// <summary>The hidden width of every network <c>reproduce paper --budget reduced</c> trains (Figures 9–12 stop at it).</summary>
    public const int ReducedPaperWidth = 1000;

    /// <summary>Figures 9–12's layer widths at a budget: the paper varies them "from 50 to 4000" without listing them; these are ours.</summary>
    public static int[] FigureNineWidths(string budget) => budget switch
    {
        "smoke" => [50, 100, 200],
        "reduced" => [50, 200, 1000, 2000],
        _ => [50, 100, 500, 1000, 2000, 4000],
    };

    /// <summary>Batches between two sparsity samples for Figures 9–12 and 15–18 (the authors sampled every batch; this keeps records small).</summary>
    public static int TrackingInterval(string budget) => budget switch { "smoke" => 20, "reduced" => 100, _ => 200 };

    /// <summary>The sweep behind <paramref name="target"/> at a budget.</summary>
    public static SweepSpec Sweep(string target, SweepSpec budget)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(budget);
        string name = BudgetName(budget);
        return target.Trim().ToLowerInvariant() switch
        {
            "table2" or "table3" or "fig19" or "fig13" or "fig14" => budget,
            // Table 4: every network with both loss directions (FFNN3 added by Runs; the BPNN runs once).
            "table4" => budget with { Losses = [LossDirection.Maximize, LossDirection.Minimize] },
            // Table 5: L+ and L− for the FF models (FFNN3 added by Runs).
            "table5" => budget with { Models = budget.Models.Where(m => m.Uses(FFSettings.Loss)).ToArray(), Losses = [LossDirection.Maximize, LossDirection.Minimize] },
            // Figures 3–8: one run per cell of a learning-rate × threshold grid, 60 epochs on every dataset (the captions say so, CIFAR-10 included).
            // The authors' scripts hold no grid (ff.sh trains six hand-picked points); the paper's text names lr 0.005 for the BPNN.
            // At the reduced budget the FFRNN (13× an FFNN's cost per run) is left out of the grid: its nine cells would be
            // most of the run's time. It keeps its Table 2, 4 and 5 runs; smoke (cheap) and paper have it.
            "fig3" or "fig6" => budget with
            {
                Models = name == "reduced" ? budget.Models.Where(m => m != Architecture.Ffrnn).ToArray() : budget.Models,
                LearningRates = name == "paper" ? [0.0001f, 0.001f, 0.005f, 0.01f, 0.02f] : [0.001f, 0.005f, 0.02f],
                Thresholds = name == "paper" ? [1f, 5f, 10f, 20f] : [1f, 5f, 20f],
                Seeds = 1,
                Epochs = Math.Min(budget.Epochs, 60),
            },
            // Figures 9–12: FFNN and BPNN at several widths, sparsity sampled during training.
            // At the reduced budget the widths stop at the budget's own (2000; 1000 in reproduce paper): Tables 2–5 compare
            // width 2000 whenever a folder has it, so Figure 9's 2000-wide runs must not outrank a 2×1000 paper run's tables.
            "fig9" => budget with
            {
                Models = [Architecture.Ffnn, Architecture.Bpnn],
                Layers = FigureNineWidths(name).Where(w => name != "reduced" || w <= budget.Layers[0].Max()).Select(w => new[] { w, w }).ToArray(),
                TrackSparsityEvery = TrackingInterval(name),
            },
            // Figures 15–18: FFNN and BPNN at the budget's width, sparsity sampled during training, every seed.
            "fig15" => budget with { Models = [Architecture.Ffnn, Architecture.Bpnn], TrackSparsityEvery = TrackingInterval(name) },
            // The regularisation study: the FF models with regularisers, at least 3 seeds.
            // Beyond smoke, sparsity and dead neurons are tracked over training (tracking changes no number, so no id).
            "regularisation" => budget with
            {
                Models = [Architecture.Ffnn, Architecture.Ffc], Seeds = Math.Max(3, budget.Seeds), TrackSparsityEvery = name == "smoke" ? null : TrackingInterval(name),
            },
            // How small each architecture gets: FF and backprop side by side, at least 3 seeds (the FFRNN beyond the smoke budget).
            "compressibility" => budget with { Models = budget.Layers[0].Max() <= 200 ? [Architecture.Ffnn, Architecture.Ffc, Architecture.Bpnn] : [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn, Architecture.Bpnn], Seeds = Math.Max(3, budget.Seeds) },
            "paper" => budget,
            _ => throw new ArgumentException($"Unknown target '{target}': {string.Join(", ", Targets)}."),
        };
    }

    /// <summary>Every run of a target's sweep (Tables 4 and 5 add the three-layer FFNN; paper: the union of its sweep targets' runs, each once).</summary>
    public static List<RunSpec> Runs(string target, SweepSpec sweep)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(sweep);
        string t = target.Trim().ToLowerInvariant();
        if (t == "regularisation")
            return RegularisationStudy.Runs(sweep, RegularisationStudy.GridsFor(sweep.Layers[0].Max() <= 200 ? "smoke" : "reduced"));
        if (t == "paper")
        {
            // Every sweep target's runs from the same budget; a run two targets share (same configuration, same id) is
            // trained once, with sparsity tracking when any of them asks for it (tracking changes no number, so not the id).
            var at = new Dictionary<string, int>(StringComparer.Ordinal);
            var union = new List<RunSpec>();
            foreach (var (name, _) in TargetDescriptions.Where(d => IsSweepTarget(d.Target) && d.Target is not ("regularisation" or "compressibility")))
                foreach (var r in Runs(name, Sweep(name, sweep)))
                {
                    string id = SweepRunner.RunId(r);
                    if (!at.TryGetValue(id, out int i)) { at[id] = union.Count; union.Add(r); }
                    else if (union[i].TrackSparsityEvery is null && r.TrackSparsityEvery is not null) union[i] = r;
                }
            return union;
        }
        var runs = sweep.Expand().ToList();
        if (t is "table4" or "table5")
            runs.AddRange((sweep with { Models = [Architecture.Ffnn], Layers = [[.. sweep.Layers[0], sweep.Layers[0][^1]]], Losses = [LossDirection.Maximize, LossDirection.Minimize] }).Expand());
        return runs;
    }

    /// <summary>
    /// Rough wall time in seconds, from costs measured on a 2-core AVX-512 machine (an FFNN 2×2000
    /// epoch 5.8 s, 2.1 s to predict 10,000 images) scaled by weights × images, times each
    /// architecture's <see cref="Architecture.RelativeCost"/>, times how much slower or faster this
    /// machine measured (<paramref name="speed"/>; null: the reference machine's figures, which is
    /// enough to order runs by length).
    /// </summary>
    public static double EstimateSeconds(IEnumerable<RunSpec> runs, SpeedCalibration? speed = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        double factor = speed?.RelativeToReference ?? 1;
        return factor * runs.Sum(r =>
        {
            double weights = r.Architecture.MultiplyAddsPerImage(r.Model, r.Dataset == DatasetKind.Cifar10 ? 3072 : 784);
            double images = Math.Min(r.TrainLimit ?? 60000, r.Dataset == DatasetKind.Cifar10 ? 50000 : 60000);
            var (trainCost, predictCost) = r.Architecture.RelativeCost;
            double train = weights * images * 0.9 * 2.0e-11 * trainCost;
            double predict = weights * 3.8e-11 * predictCost;
            double validation = r.Training.ValidateEachEpoch ? predict * images * 0.1 : 0;
            return (train + validation) * r.Training.Epochs + predict * (r.TestLimit ?? 10000) + 2;
        });
    }

    /// <summary>
    /// The speed a finished CPU run showed, in the cost model's unit (seconds per weight × image of
    /// training, over the architecture's relative cost); null when the run is too short to tell (under 5 s of training).
    /// </summary>
    public static double? ObservedSecondsPerWeightImage(RunSpec spec, RunResult result)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(result);
        double seconds = result.Epochs.Sum(e => e.TrainSeconds);
        if (seconds < 5 || result.Epochs.Count == 0 || result.TrainSamples == 0) return null;
        double weights = spec.Architecture.MultiplyAddsPerImage(spec.Model, spec.Dataset == DatasetKind.Cifar10 ? 3072 : 784);
        return seconds / (weights * result.TrainSamples * result.Epochs.Count * spec.Architecture.RelativeCost.Training);
    }

    /// <summary>
    /// An estimate as people should read it: a range around <paramref name="seconds"/> (−25 %, +50 %:
    /// other work on the machine only ever slows a run down), in minutes or hours.
    /// </summary>
    public static string Range(double seconds)
    {
        static string T(double s) => s < 120 ? $"{s:F0} s" : s < 5400 ? $"{s / 60:F0} min" : $"{s / 3600:F1} h";
        return $"{T(seconds * 0.75)} to {T(seconds * 1.5)}";
    }

    /// <summary>
    /// One trained model per architecture of <paramref name="sweep"/> for training seed <paramref name="seed"/>, kept in
    /// <paramref name="dir"/>/ARCH/ (seed 0) or ARCH-seedN/; a model already there is reused. Figures 13, 14 and 19 start from these.
    /// </summary>
    public static IReadOnlyList<(RunSpec Run, string ModelPath)> TrainedModels(SweepSpec sweep, string dir, int seed = 0, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(dir);
        var result = new List<(RunSpec, string)>();
        foreach (var run in sweep.Expand().Where(r => r.Seed == 0).Select(r => r with { Seed = seed }))
        {
            string modelDir = Path.Combine(dir, seed == 0 ? run.Architecture.Id : $"{run.Architecture.Id}-seed{seed}");
            string modelPath = Path.Combine(modelDir, "model.safetensors");
            if (!File.Exists(modelPath))
            {
                log?.Invoke($"training {run.Architecture.Id} (seed {seed})…");
                TrainingRun.Execute(run with { OutputDirectory = modelDir });
            }
            result.Add((run, modelPath));
        }
        return result;
    }

    /// <summary>
    /// Figure 19: <paramref name="models"/> trained models per architecture at the budget (training seeds 0…models−1; models
    /// already in <paramref name="dir"/> are reused), each pruned at the paper's kept counts not above its width over the
    /// budget's pruning seeds (at least 3; the smoke budget scores 2,000 test images), the records of all models pooled.
    /// The authors' scripts prune one model with 10 pruning seeds (models = 1, our default); more models add the
    /// training-seed variance to the bands. Writes each architecture's prune.csv; returns the curves ("ffnn (random)", records).
    /// </summary>
    public static IReadOnlyList<(string Label, IReadOnlyList<PruneRecord> Records)> Prunability(SweepSpec sweep, string budget, string dir, Action<string>? log = null, int models = 1, string target = "fig19")
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(dir);
        if (models < 1) throw new ArgumentOutOfRangeException(nameof(models), models, "Figure 19 needs at least one trained model per architecture.");
        int? testLimit = budget == "smoke" ? 2000 : sweep.TestLimit;
        int seeds = Math.Max(3, sweep.Seeds);
        var first = sweep.Expand().Where(r => r.Seed == 0).ToArray();
        var pending = Enumerable.Range(0, models).SelectMany(m => first.Select(r => (Run: r with { Seed = m }, Dir: Path.Combine(dir, m == 0 ? r.Architecture.Id : $"{r.Architecture.Id}-seed{m}"))))
            .Where(x => !File.Exists(Path.Combine(x.Dir, "model.safetensors"))).Select(x => x.Run).ToArray();
        log?.Invoke($"fflib reproduce {target} ({budget}): {models} trained model(s) each of {string.Join(", ", first.Select(r => r.Architecture.Id))}, each pruned with {seeds} seeds on {testLimit?.ToString(CultureInfo.InvariantCulture) ?? "all"} test images; training {(sweep.Backend is null || sweep.Backend == ComputeBackend.Cpu ? $"estimated at {Range(EstimateSeconds(pending, MachineSpeed.Current()))} on this machine" : "time not estimated on a GPU")}");
        var pooled = new Dictionary<string, List<PruneRecord>>(StringComparer.Ordinal);
        for (int m = 0; m < models; m++)
            foreach (var (run, modelPath) in TrainedModels(sweep with { TestLimit = testLimit }, dir, m, log))
            {
                string arch = run.Architecture.Id;
                string modelDir = Path.GetDirectoryName(modelPath)!;
                var loaded = ModelCheckpoint.Load(modelPath);
                int width = NeuronPruning.HiddenWidths(loaded.Model).Max();
                int[] keep = [width, .. new[] { 1500, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2 }.Where(k => k < width)];
                var data = DatasetLoader.Load(run.Dataset, sweep.Data);
                var test = testLimit is int tl ? data.Test.Take(tl) : data.Test;
                var records = PruneExperiment.Run(loaded.Model, modelPath, test, new PruneOptions { Keep = keep, Seeds = seeds, Int8 = false }, Path.Combine(modelDir, "pruned"),
                    training: loaded.Training,
                    progress: r => log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{arch} model {m} seed {r.Seed} keep {r.Keep}: ratio {r.CompressionRatio:F2}×, accuracy {r.Accuracy * 100:F2}%")));
                PruneExperiment.WriteCsv(Path.Combine(modelDir, "prune.csv"), records);
                if (!pooled.TryGetValue(arch, out var list)) pooled[arch] = list = [];
                list.AddRange(records);
            }
        return first.Select(r => ($"{r.Architecture.Id} (random)", (IReadOnlyList<PruneRecord>)pooled[r.Architecture.Id])).ToArray();
    }
}
