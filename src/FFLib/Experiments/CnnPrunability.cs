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

/// <summary>One budget of the CNN prunability study.</summary>
/// <param name="Name">"smoke" or "reduced".</param>
/// <param name="Channels">Channels per conv layer (both networks).</param>
/// <param name="Conv">Kernels and pooling (<see cref="CnnSettings.Conv"/>).</param>
/// <param name="FFEpochs">Epochs of the FF CNN.</param>
/// <param name="BackpropEpochs">Epochs of the backprop CNN.</param>
/// <param name="Models">Trained models per network (training seeds 0…Models−1), their pruning records pooled.</param>
/// <param name="TrainLimit">Training images (null: all).</param>
/// <param name="TestLimit">Test images, for training's report and for every pruned model (null: all).</param>
public sealed record CnnPrunabilityBudget(string Name, int[] Channels, string Conv, int FFEpochs, int BackpropEpochs, int Models, int? TrainLimit, int? TestLimit);

/// <summary>A network's side of the study: its pooled pruning records and the sparsity of its trained models' kernels.</summary>
/// <param name="Label">"ffcnn (random)" or "bpcnn (random)".</param>
/// <param name="Records">Every pruned model of every trained model.</param>
/// <param name="KernelHoyer">Per conv layer, the mean over trained models of the kernel's Hoyer sparsity.</param>
/// <param name="ModelPaths">The trained models.</param>
public sealed record CnnPrunabilitySide(string Label, IReadOnlyList<PruneRecord> Records, IReadOnlyList<double> KernelHoyer, IReadOnlyList<string> ModelPaths);

/// <summary>
/// The paper's future-work question "how robust are CNNs trained with FF under pruning?" as one rerunnable study
/// (<c>fflib reproduce cnn-prunability</c>): the FF CNN with the channel-wise competitive objective (the FF CNN
/// that learns MNIST here) and a backprop CNN of the same conv stack, several trained models each, the paper's
/// random one-shot pruning of whole channels at its kept counts, records pooled per network as in Figure 19.
/// </summary>
public static class CnnPrunability
{
    /// <summary>The FF CNN's learning rate (Adam): measured on MNIST, 40,80,160 channels, batch 64 (docs/cnn.md).</summary>
    public const float FFLearningRate = 0.003f;

    /// <summary>smoke: 20,40,80 channels on 6,000 training and 2,000 test images, 2 models each (a minute); reduced: 40,80,160, all images, 10/3 epochs, 3 models (about an hour here).</summary>
    public static CnnPrunabilityBudget Budget(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "smoke" => new("smoke", [20, 40, 80], "5p,3p,3", FFEpochs: 2, BackpropEpochs: 1, Models: 2, TrainLimit: 6000, TestLimit: 2000),
        "reduced" => new("reduced", [40, 80, 160], "5p,3p,3", FFEpochs: 10, BackpropEpochs: 3, Models: 3, TrainLimit: null, TestLimit: null),
        _ => throw new ArgumentException($"cnn-prunability has the budgets smoke and reduced (the paper has no CNN experiment to match), not '{name}'.", nameof(name)),
    };

    /// <summary>The two networks' training specs: the competitive FF CNN and the backprop CNN, same stack, batch 64, 3 pruning seeds.</summary>
    public static IReadOnlyList<SweepSpec> Specs(CnnPrunabilityBudget budget, DatasetKind dataset, DatasetLoadOptions? data = null, ComputeBackend? backend = null)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var common = new SweepSpec
        {
            Datasets = [dataset], Layers = [budget.Channels], Seeds = 3, BatchSize = 64, TrainLimit = budget.TrainLimit, TestLimit = budget.TestLimit,
            Base = new ModelSettings().With(CnnSettings.Conv, budget.Conv).With(CnnSettings.Objective, ConvObjective.Competitive),
            Data = data ?? new DatasetLoadOptions { AllowDownload = false }, Backend = backend,
        };
        return
        [
            common with { Models = [ArchitectureRegistry.Get(FFConvArchitecture.ArchitectureId)], LearningRates = [FFLearningRate], Epochs = budget.FFEpochs },
            common with { Models = [ArchitectureRegistry.Get(BackpropConvArchitecture.ArchitectureId)], LearningRates = [1e-3f], Epochs = budget.BackpropEpochs },
        ];
    }

    /// <summary>
    /// Trains what <paramref name="dir"/> does not hold yet, prunes every model (existing ones reused: rerunning resumes),
    /// and returns both sides. Each model folder keeps its prune.csv.
    /// </summary>
    public static IReadOnlyList<CnnPrunabilitySide> Run(CnnPrunabilityBudget budget, DatasetKind dataset, string dir, DatasetLoadOptions? data = null, ComputeBackend? backend = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(dir);
        var sides = new List<CnnPrunabilitySide>();
        foreach (var spec in Specs(budget, dataset, data, backend))
        {
            var (label, records) = Reproduction.Prunability(spec, budget.Name, dir, log, budget.Models, "cnn-prunability").Single();
            var paths = Enumerable.Range(0, budget.Models).Select(m => ModelPath(dir, spec.Models[0].Id, m)).ToArray();
            var hoyer = paths.Select(p => KernelHoyer(ModelCheckpoint.Load(p).Model)).ToArray();
            var meanHoyer = Enumerable.Range(0, hoyer[0].Length).Select(l => hoyer.Average(h => h[l])).ToArray();
            sides.Add(new(label, records, meanHoyer, paths));
        }
        return sides;
    }

    /// <summary>Where training seed <paramref name="model"/> of an architecture lives in the study's folder (as Figure 19 keeps them).</summary>
    public static string ModelPath(string dir, string architecture, int model) =>
        Path.Combine(dir, model == 0 ? architecture : $"{architecture}-seed{model}", "model.safetensors");

    /// <summary>Hoyer sparsity of each conv layer's kernel (the classifier of the backprop CNN excluded).</summary>
    public static double[] KernelHoyer(IClassifierModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Parameters().Where(p => p.Name.StartsWith("layers.", StringComparison.Ordinal) && p.Name.EndsWith(".weight", StringComparison.Ordinal))
            .Select(p => Sparsity.All(p.Data).Hoyer).ToArray();
    }

    /// <summary>Per network and kept count: mean ratio, mean ± std accuracy over every (model, pruning seed), as CSV.</summary>
    public static string Csv(IReadOnlyList<CnnPrunabilitySide> sides)
    {
        ArgumentNullException.ThrowIfNull(sides);
        var sb = new StringBuilder("network,keep,compression_ratio,accuracy_mean,accuracy_std,accuracy_min,accuracy_max,n\n");
        foreach (var side in sides)
            foreach (var g in side.Records.GroupBy(r => r.Keep).OrderByDescending(g => g.Key))
            {
                var acc = g.Select(r => r.Accuracy).ToArray();
                sb.Append(string.Create(CultureInfo.InvariantCulture,
                    $"{side.Label.Split(' ')[0]},{g.Key},{g.Average(r => r.CompressionRatio):F4},{acc.Average():F6},{SampleStatistics.Std(acc):F6},{acc.Min():F6},{acc.Max():F6},{acc.Length}\n"));
            }
        return sb.ToString();
    }

    private static string Epochs(int n) => n == 1 ? "1 epoch" : $"{n} epochs";

    /// <summary>The report: the two curves side by side at each kept count, and the kernels' Hoyer sparsity.</summary>
    public static string Markdown(IReadOnlyList<CnnPrunabilitySide> sides, CnnPrunabilityBudget budget, DatasetKind dataset, string figure)
    {
        ArgumentNullException.ThrowIfNull(sides);
        ArgumentNullException.ThrowIfNull(budget);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"# CNN prunability on {DatasetCatalog.IdOf(dataset)} ({budget.Name} budget)\n\n");
        sb.Append(inv, $"Channels {string.Join(",", budget.Channels)}, conv {budget.Conv}; the FF CNN with the competitive objective (lr {FFLearningRate}, {Epochs(budget.FFEpochs)}), ");
        sb.Append(inv, $"the backprop CNN (lr 0.001, {Epochs(budget.BackpropEpochs)}), batch 64, {budget.Models} trained model(s) each; random one-shot channel pruning, ");
        sb.Append(inv, $"the same count kept in every layer, 3 pruning seeds per model, {(budget.TestLimit is int t ? $"the first {t}" : "all")} test images. Mean ± std over every (model, seed).\n\n");
        var keeps = sides.SelectMany(s => s.Records.Select(r => r.Keep)).Distinct().OrderDescending().ToArray();
        sb.Append("| keep |").Append(string.Concat(sides.Select(s => $" {s.Label.Split(' ')[0]} ratio | accuracy |"))).Append('\n');
        sb.Append("|---|").Append(string.Concat(sides.Select(_ => "---|---|"))).Append('\n');
        foreach (int k in keeps)
        {
            sb.Append(inv, $"| {k} |");
            foreach (var s in sides)
            {
                var g = s.Records.Where(r => r.Keep == k).ToArray();
                if (g.Length == 0) { sb.Append(" — | — |"); continue; }
                var acc = g.Select(r => r.Accuracy * 100).ToArray();
                sb.Append(inv, $" {g.Average(r => r.CompressionRatio):F2}× | {acc.Average():F2} ± {SampleStatistics.Std(acc):F2} % |");
            }
            sb.Append('\n');
        }
        sb.Append("\nKernel Hoyer sparsity per conv layer (mean over the trained models):\n\n| network |")
            .Append(string.Concat(Enumerable.Range(1, budget.Channels.Length).Select(l => $" layer {l} |"))).Append("\n|---|")
            .Append(string.Concat(Enumerable.Repeat("---|", budget.Channels.Length))).Append('\n');
        foreach (var s in sides)
            sb.Append(inv, $"| {s.Label.Split(' ')[0]} |").Append(string.Concat(s.KernelHoyer.Select(h => string.Create(inv, $" {h:F3} |")))).Append('\n');
        sb.Append(inv, $"\n![accuracy vs compression]({figure})\n");
        return sb.ToString();
    }
}
