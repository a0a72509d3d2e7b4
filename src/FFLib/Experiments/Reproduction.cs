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
    /// <summary>The targets: table2, table3, table5, fig3 and fig6 (lr × θ heatmaps), fig19 (prunability), regularisation (the future-work study of <see cref="RegularisationStudy"/>), compressibility (<see cref="CompressibilityStudy"/>).</summary>
    public static IReadOnlyList<string> Targets { get; } = ["table2", "table3", "table5", "fig3", "fig6", "fig19", "regularisation", "compressibility"];

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

    /// <summary>The sweep behind <paramref name="target"/> at a budget.</summary>
    public static SweepSpec Sweep(string target, SweepSpec budget)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(budget);
        return target.Trim().ToLowerInvariant() switch
        {
            "table2" or "table3" or "fig19" => budget,
            // Table 5: L+ and L− for the FF models (FFNN3 added by Runs).
            "table5" => budget with { Models = budget.Models.Where(m => m.Uses(FFSettings.Loss)).ToArray(), Losses = [LossDirection.Maximize, LossDirection.Minimize] },
            // Figures 3–8: one run per cell of a learning-rate × threshold grid.
            "fig3" or "fig6" => budget with { LearningRates = [0.001f, 0.005f, 0.02f], Thresholds = [1f, 5f, 20f], Seeds = 1 },
            // The regularisation study: the FF models with regularisers, at least 3 seeds.
            "regularisation" => budget with { Models = [Architecture.Ffnn, Architecture.Ffc], Seeds = Math.Max(3, budget.Seeds) },
            // How small each architecture gets: FF and backprop side by side, at least 3 seeds (the FFRNN beyond the smoke budget).
            "compressibility" => budget with { Models = budget.Layers[0].Max() <= 200 ? [Architecture.Ffnn, Architecture.Ffc, Architecture.Bpnn] : [Architecture.Ffnn, Architecture.Ffc, Architecture.Ffrnn, Architecture.Bpnn], Seeds = Math.Max(3, budget.Seeds) },
            _ => throw new ArgumentException($"Unknown target '{target}': {string.Join(", ", Targets)}."),
        };
    }

    /// <summary>Every run of a target's sweep (Table 5 adds the three-layer FFNN).</summary>
    public static List<RunSpec> Runs(string target, SweepSpec sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        if (target.Trim().Equals("regularisation", StringComparison.OrdinalIgnoreCase))
            return RegularisationStudy.Runs(sweep, RegularisationStudy.GridsFor(sweep.Layers[0].Max() <= 200 ? "smoke" : "reduced"));
        var runs = sweep.Expand().ToList();
        if (target.Trim().Equals("table5", StringComparison.OrdinalIgnoreCase))
            runs.AddRange((sweep with { Models = [Architecture.Ffnn], Layers = [[.. sweep.Layers[0], sweep.Layers[0][^1]]] }).Expand());
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
    /// Figure 19: one model per architecture at the budget (seed 0; a model already in
    /// <paramref name="dir"/>/ID/ is reused), pruned at the paper's kept counts not above its width
    /// over the budget's seeds (at least 3; the smoke budget scores 2,000 test images). Writes each
    /// architecture's prune.csv; returns the curves ("ffnn (random)", records).
    /// </summary>
    public static IReadOnlyList<(string Label, IReadOnlyList<PruneRecord> Records)> Prunability(SweepSpec sweep, string budget, string dir, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(dir);
        int? testLimit = budget == "smoke" ? 2000 : sweep.TestLimit;
        int seeds = Math.Max(3, sweep.Seeds);
        var train = sweep.Expand().Where(r => r.Seed == 0).Select(r => r with { TestLimit = testLimit }).ToArray();
        log?.Invoke($"fflib reproduce fig19 ({budget}): train {train.Length} models ({string.Join(", ", train.Select(r => r.Architecture.Id))}), prune each with {seeds} seeds on {testLimit?.ToString(CultureInfo.InvariantCulture) ?? "all"} test images; training {(sweep.Backend is null || sweep.Backend == ComputeBackend.Cpu ? $"estimated at {Range(EstimateSeconds(train.Where(r => !File.Exists(Path.Combine(dir, r.Architecture.Id, "model.safetensors"))), MachineSpeed.Current()))} on this machine" : "time not estimated on a GPU")}");
        var series = new List<(string, IReadOnlyList<PruneRecord>)>();
        foreach (var run in train)
        {
            string arch = run.Architecture.Id;
            string modelDir = Path.Combine(dir, arch);
            string modelPath = Path.Combine(modelDir, "model.safetensors");
            if (!File.Exists(modelPath))
            {
                log?.Invoke($"training {arch}…");
                TrainingRun.Execute(run with { OutputDirectory = modelDir });
            }
            var loaded = ModelCheckpoint.Load(modelPath);
            int width = NeuronPruning.HiddenWidths(loaded.Model).Max();
            int[] keep = [width, .. new[] { 1500, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2 }.Where(k => k < width)];
            var data = DatasetLoader.Load(run.Dataset, sweep.Data);
            var test = testLimit is int tl ? data.Test.Take(tl) : data.Test;
            var records = PruneExperiment.Run(loaded.Model, modelPath, test, new PruneOptions { Keep = keep, Seeds = seeds, Int8 = false }, Path.Combine(modelDir, "pruned"),
                training: loaded.Training,
                progress: r => log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{arch} seed {r.Seed} keep {r.Keep}: ratio {r.CompressionRatio:F2}×, accuracy {r.Accuracy * 100:F2}%")));
            PruneExperiment.WriteCsv(Path.Combine(modelDir, "prune.csv"), records);
            series.Add(($"{arch} (random)", records));
        }
        return series;
    }
}
