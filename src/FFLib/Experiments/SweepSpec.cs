using System.Globalization;
using FFLib.Data;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>A grid of runs: every combination of the listed values, times the seeds.</summary>
public sealed record SweepSpec
{
    /// <summary>Above this many runs a sweep asks for confirmation (<c>--yes</c> on the command line).</summary>
    public const long ConfirmAbove = 100_000;

    /// <summary>The most runs one sweep can hold; split a larger grid into several sweeps.</summary>
    public const long MaxRuns = 10_000_000;

    /// <summary>Architectures.</summary>
    public IReadOnlyList<Architecture> Models { get; init; } = [Architecture.Ffnn];

    /// <summary>Datasets.</summary>
    public IReadOnlyList<DatasetKind> Datasets { get; init; } = [DatasetKind.Mnist];

    /// <summary>Learning rates (null: each architecture's default, 0.02 FF / 1e-4 BPNN).</summary>
    public IReadOnlyList<float>? LearningRates { get; init; }

    /// <summary>Thresholds θ.</summary>
    public IReadOnlyList<float> Thresholds { get; init; } = [20f];

    /// <summary>Hidden layer widths.</summary>
    public IReadOnlyList<int[]> Layers { get; init; } = [[2000, 2000]];

    /// <summary>Loss directions (L− and/or L+).</summary>
    public IReadOnlyList<LossDirection> Losses { get; init; } = [LossDirection.Minimize];

    /// <summary>Seeds 0..Seeds−1.</summary>
    public int Seeds { get; init; } = 10;

    /// <summary>Epochs per run.</summary>
    public int Epochs { get; init; } = 60;

    /// <summary>Batch size.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Training images used (first N of the training file).</summary>
    public int? TrainLimit { get; init; }

    /// <summary>Test images used.</summary>
    public int? TestLimit { get; init; }

    /// <summary>Record every weight matrix's sparsity every N batches in each run's record (Figures 9–12); null: off.</summary>
    public int? TrackSparsityEvery { get; init; }

    /// <summary>FFNN+C classifier learning rate.</summary>
    public float ClassifierLearningRate { get; init; } = 1e-4f;

    /// <summary>FFRNN dynamics (β, K_train, K_testlow, K_testhigh); widths, θ, loss and learning rates come from the grid.</summary>
    public ModelSettings Recurrent { get; init; } = new();

    /// <summary>Where the data come from.</summary>
    public DatasetLoadOptions Data { get; init; } = new();

    /// <summary>Where every run computes (null: the CPU). Not part of a run's id: results compare across devices.</summary>
    public Compute.ComputeBackend? Backend { get; init; }

    /// <summary>
    /// How many runs the grid holds, computed without building them (an architecture that ignores
    /// the loss direction or θ, the BPNN, counts once for them); saturates at <see cref="long.MaxValue"/>.
    /// </summary>
    public long RunCount
    {
        get
        {
            long perSeed = 0;
            foreach (var m in Models ?? [])
            {
                long n = (long)(Datasets?.Count ?? 0) * (Layers?.Count ?? 0) * (LearningRates?.Count ?? 1)
                    * (m.UsedSettings.HasFlag(ModelSettingKinds.Loss) ? Losses?.Count ?? 0 : 1)
                    * (m.UsedSettings.HasFlag(ModelSettingKinds.Threshold) ? Thresholds?.Count ?? 0 : 1);
                perSeed += n;
            }
            return perSeed == 0 || Seeds <= 0 ? 0 : perSeed > long.MaxValue / Seeds ? long.MaxValue : perSeed * Seeds;
        }
    }

    /// <summary>
    /// Checks the whole grid before anything runs: every list non-empty and without repeats, every
    /// value within the rules <c>train</c> applies (positive finite learning rates, finite θ, widths
    /// whose weight matrices fit in memory, positive seeds, epochs, batch size and limits), and the
    /// run count within <see cref="MaxRuns"/>. Throws <see cref="ArgumentException"/> naming the value.
    /// </summary>
    public void Validate()
    {
        NonEmptyDistinct(Models, "model", m => m.Id);
        NonEmptyDistinct(Datasets, "dataset", DatasetCatalog.IdOf);
        if (LearningRates is not null) NonEmptyDistinct(LearningRates, "lr", F);
        NonEmptyDistinct(Thresholds, "threshold", F);
        NonEmptyDistinct(Layers, "layers", l => string.Join("x", l));
        NonEmptyDistinct(Losses, "loss", l => l == LossDirection.Minimize ? "min" : "max");
        if (Seeds < 1) throw new ArgumentOutOfRangeException(nameof(Seeds), Seeds, $"Seeds must be at least 1, not {Seeds}.");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"Epochs must be at least 1, not {Epochs}.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"The batch size must be at least 1, not {BatchSize}.");
        if (TrainLimit is < 1) throw new ArgumentOutOfRangeException(nameof(TrainLimit), TrainLimit, $"The training limit must be at least 1 image, not {TrainLimit}.");
        if (TestLimit is < 1) throw new ArgumentOutOfRangeException(nameof(TestLimit), TestLimit, $"The test limit must be at least 1 image, not {TestLimit}.");
        if (TrackSparsityEvery is < 1) throw new ArgumentOutOfRangeException(nameof(TrackSparsityEvery), TrackSparsityEvery, "Sparsity tracking needs an interval of at least 1 batch.");
        foreach (var lr in LearningRates ?? [])
            if (!(lr > 0 && float.IsFinite(lr))) throw new ArgumentOutOfRangeException(nameof(LearningRates), lr, $"The learning rate {F(lr)} is not a positive finite number.");
        foreach (var t in Thresholds)
            if (!(t > 0 && float.IsFinite(t))) throw new ArgumentOutOfRangeException(nameof(Thresholds), t, $"The threshold {F(t)} is not a positive finite number.");
        foreach (var layers in Layers)
        {
            if (layers.Length == 0) throw new ArgumentException("A layers entry lists no widths.", nameof(Layers));
            foreach (var d in Datasets) CheckShape(layers, d);
        }
        long count = RunCount;
        if (count > MaxRuns)
            throw new ArgumentOutOfRangeException(nameof(Seeds), count, $"The grid holds {Count(count)} runs, more than one sweep can hold ({Count(MaxRuns)}); split it into several sweeps.");
        // Every distinct model configuration, built as the runs will build it (seeds and datasets do not change it).
        foreach (var m in Models)
            foreach (var layers in Layers)
                foreach (var loss in Losses)
                    foreach (var lr in LearningRates ?? [m.DefaultLearningRate])
                        foreach (var theta in Thresholds)
                            Settings(layers, theta, loss, lr).Validate();
    }

    /// <summary>Every run of the grid, in a fixed order (dataset, model, layers, loss, lr, θ, seed), built as they are enumerated.</summary>
    public IEnumerable<RunSpec> Runs()
    {
        foreach (var d in Datasets)
            foreach (var m in Models)
                foreach (var layers in Layers)
                    // An architecture without a loss direction or threshold (the BPNN) runs once for them.
                    foreach (var loss in m.UsedSettings.HasFlag(ModelSettingKinds.Loss) ? Losses : [LossDirection.Minimize])
                        foreach (var lr in LearningRates ?? [m.DefaultLearningRate])
                            foreach (var theta in m.UsedSettings.HasFlag(ModelSettingKinds.Threshold) ? Thresholds : [Thresholds[0]])
                                for (int seed = 0; seed < Seeds; seed++)
                                    yield return new RunSpec
                                    {
                                        Architecture = m,
                                        Dataset = d,
                                        Model = Settings(layers, theta, loss, lr),
                                        Training = new TrainingOptions { Epochs = Epochs, BatchSize = BatchSize },
                                        Seed = seed,
                                        TrainLimit = TrainLimit,
                                        TestLimit = TestLimit,
                                        TrackSparsityEvery = TrackSparsityEvery,
                                        Data = Data,
                                        Backend = Backend,
                                    };
    }

    /// <summary>Every run of the grid as a list, in <see cref="Runs"/>' order; refuses a grid over <see cref="MaxRuns"/>.</summary>
    public IReadOnlyList<RunSpec> Expand()
    {
        long count = RunCount;
        if (count > MaxRuns) throw new InvalidOperationException($"The grid holds {Count(count)} runs, more than one sweep can hold ({Count(MaxRuns)}).");
        return Runs().ToArray();
    }

    private ModelSettings Settings(int[] layers, float theta, LossDirection loss, float lr) =>
        Recurrent with { HiddenSizes = layers, Threshold = theta, Loss = loss, LearningRate = lr, ClassifierLearningRate = ClassifierLearningRate };

    /// <summary>
    /// Widths whose weight matrices could not be allocated are refused here, before any run, rather than
    /// when their run comes up: a layer's matrices hold width × (inputs, neighbours and labels) values.
    /// </summary>
    public static void CheckShape(int[] layers, DatasetKind dataset)
    {
        long features = dataset == DatasetKind.Cifar10 ? 3072 : 784, classes = DatasetCatalog.Get(dataset).Classes;
        for (int i = 0; i < layers.Length; i++)
        {
            if (layers[i] < 1) throw new ArgumentOutOfRangeException(nameof(Layers), layers[i], $"layers {string.Join("x", layers)}: layer {i + 1} has {layers[i]} neurons; each needs at least 1.");
            long inputs = (i == 0 ? features : layers[i - 1]) + (i + 1 < layers.Length ? layers[i + 1] : 0) + classes;
            if ((double)layers[i] * inputs > Array.MaxLength)
                throw new ArgumentOutOfRangeException(nameof(Layers), layers[i],
                    $"layers {string.Join("x", layers)}: layer {i + 1} would need a {layers[i]}×{inputs} weight matrix, more than one array can hold ({Array.MaxLength} values).");
        }
    }

    private static void NonEmptyDistinct<T>(IReadOnlyList<T>? values, string name, Func<T, string> show)
    {
        if (values is null || values.Count == 0) throw new ArgumentException($"The grid lists no {name} values.", name);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in values)
            if (!seen.Add(show(v))) throw new ArgumentException($"The grid lists {name} {show(v)} twice.", name);
    }

    private static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
