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

    /// <summary>Hidden layer widths.</summary>
    public IReadOnlyList<int[]> Layers { get; init; } = [[2000, 2000]];

    /// <summary>
    /// The values of every setting the grid does not vary (<see cref="Grid"/> varies the others);
    /// each run's architecture reads those it declares. Its widths and learning rate are not used:
    /// <see cref="Layers"/> and <see cref="LearningRates"/> give them.
    /// </summary>
    public ModelSettings Base { get; init; } = new();

    /// <summary>
    /// The values each varied setting takes (any setting a registered architecture declares, e.g.
    /// <see cref="FFSettings.Threshold"/> or a new hyperparameter); a run's architecture varies only
    /// the settings it declares. <see cref="Thresholds"/> and <see cref="Losses"/> are shorthands for two entries.
    /// </summary>
    public IReadOnlyDictionary<ModelSetting, IReadOnlyList<object>> Grid { get; init; } = new Dictionary<ModelSetting, IReadOnlyList<object>>();

    /// <summary>Thresholds θ (the grid's <see cref="FFSettings.Threshold"/> entry; default: <see cref="Base"/>'s).</summary>
    public IReadOnlyList<float> Thresholds { get => ValuesOf(FFSettings.Threshold); init => Grid = Varying(FFSettings.Threshold, value); }

    /// <summary>Loss directions, L− and/or L+ (the grid's <see cref="FFSettings.Loss"/> entry; default: <see cref="Base"/>'s).</summary>
    public IReadOnlyList<LossDirection> Losses { get => ValuesOf(FFSettings.Loss); init => Grid = Varying(FFSettings.Loss, value); }

    /// <summary>The values <paramref name="setting"/> takes in the grid: its <see cref="Grid"/> entry, else <see cref="Base"/>'s one value.</summary>
    public IReadOnlyList<T> ValuesOf<T>(ModelSetting<T> setting) where T : notnull =>
        Grid.TryGetValue(setting, out var list) ? list.Cast<T>().ToArray() : [Base.Get(setting)];

    /// <summary>This grid with <paramref name="setting"/> taking <paramref name="values"/>.</summary>
    public SweepSpec WithGrid<T>(ModelSetting<T> setting, IEnumerable<T> values) where T : notnull => this with { Grid = Varying(setting, values) };

    private Dictionary<ModelSetting, IReadOnlyList<object>> Varying<T>(ModelSetting<T> setting, IEnumerable<T> values) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(Grid) { [setting] = values.Select(v => (object)v).ToArray() };
    }

    /// <summary>The values a setting takes for one architecture's runs: the grid's when it varies it, else the base value.</summary>
    private IReadOnlyList<object> ValuesFor(ModelSetting setting) => Grid.TryGetValue(setting, out var list) ? list : [Base.Get(setting)];

    /// <summary>Seeds 0..Seeds−1.</summary>
    public int Seeds { get; init; } = 10;

    /// <summary>Epochs per run.</summary>
    public int Epochs { get; init; } = 60;

    /// <summary>Batch size.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Every run's learning-rate schedule (default constant; a run id names it only when it is not).</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Training images used (first N of the training file).</summary>
    public int? TrainLimit { get; init; }

    /// <summary>Test images used.</summary>
    public int? TestLimit { get; init; }

    /// <summary>Record every weight matrix's sparsity every N batches in each run's record (Figures 9–12); null: off.</summary>
    public int? TrackSparsityEvery { get; init; }

    /// <summary>Where the data come from.</summary>
    public DatasetLoadOptions Data { get; init; } = new();

    /// <summary>Where every run computes (null: the CPU). Not part of a run's id: results compare across devices.</summary>
    public Compute.ComputeBackend? Backend { get; init; }

    /// <summary>
    /// How many runs the grid holds, computed without building them (an architecture counts once
    /// for each setting it does not declare: the BPNN for θ and the loss direction); saturates at <see cref="long.MaxValue"/>.
    /// </summary>
    public long RunCount
    {
        get
        {
            long perSeed = 0;
            foreach (var m in Models ?? [])
            {
                long n = (long)(Datasets?.Count ?? 0) * (Layers?.Count ?? 0) * (LearningRates?.Count ?? 1);
                foreach (var s in m.Settings)
                {
                    int c = Grid is not null && Grid.TryGetValue(s, out var values) ? values?.Count ?? 0 : 1;
                    n = c == 0 ? 0 : n > long.MaxValue / c ? long.MaxValue : n * c;
                }
                perSeed = perSeed > long.MaxValue - n ? long.MaxValue : perSeed + n;
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
        NonEmptyDistinct(Layers, "layers", l => string.Join("x", l));
        ArgumentNullException.ThrowIfNull(Base, nameof(Base));
        ArgumentNullException.ThrowIfNull(Grid, nameof(Grid));
        foreach (var (setting, values) in Grid)
        {
            NonEmptyDistinct(values, setting.Key, setting.Format);
            if (!Models.Any(m => m.Uses(setting)))
                throw new ArgumentException($"The grid varies {setting.Key}, which none of its models ({string.Join(", ", Models.Select(m => m.Id))}) has; it is a setting of {Users(setting)}.", setting.Key);
            foreach (var v in values)
                if (setting.Problem(v) is { } why) throw new ArgumentOutOfRangeException(setting.Key, v, $"The grid's {setting.Key} {setting.Format(v)}: {why}.");
        }
        if (Seeds < 1) throw new ArgumentOutOfRangeException(nameof(Seeds), Seeds, $"Seeds must be at least 1, not {Seeds}.");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"Epochs must be at least 1, not {Epochs}.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"The batch size must be at least 1, not {BatchSize}.");
        if (TrainLimit is < 1) throw new ArgumentOutOfRangeException(nameof(TrainLimit), TrainLimit, $"The training limit must be at least 1 image, not {TrainLimit}.");
        if (TestLimit is < 1) throw new ArgumentOutOfRangeException(nameof(TestLimit), TestLimit, $"The test limit must be at least 1 image, not {TestLimit}.");
        if (TrackSparsityEvery is < 1) throw new ArgumentOutOfRangeException(nameof(TrackSparsityEvery), TrackSparsityEvery, "Sparsity tracking needs an interval of at least 1 batch.");
        foreach (var lr in LearningRates ?? [])
            if (!(lr > 0 && float.IsFinite(lr))) throw new ArgumentOutOfRangeException(nameof(LearningRates), lr, $"The learning rate {F(lr)} is not a positive finite number.");
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
                foreach (var lr in LearningRates ?? [m.DefaultLearningRate])
                    foreach (var settings in Combinations(m, Base with { HiddenSizes = layers, LearningRate = lr }, 0))
                        m.ValidateSettings(settings);
    }

    /// <summary>
    /// Every run of the grid, in a fixed order (dataset, model, layers, lr, then the model's own
    /// settings in its declared order, seed), built as they are enumerated. An architecture runs once
    /// for each setting it does not declare (the BPNN for θ and the loss direction).
    /// </summary>
    public IEnumerable<RunSpec> Runs()
    {
        foreach (var d in Datasets)
            foreach (var m in Models)
                foreach (var layers in Layers)
                    foreach (var lr in LearningRates ?? [m.DefaultLearningRate])
                        foreach (var settings in Combinations(m, Base with { HiddenSizes = layers, LearningRate = lr }, 0))
                            for (int seed = 0; seed < Seeds; seed++)
                                yield return new RunSpec
                                {
                                    Architecture = m,
                                    Dataset = d,
                                    Model = settings,
                                    Training = new TrainingOptions { Epochs = Epochs, BatchSize = BatchSize, Schedule = Schedule },
                                    Seed = seed,
                                    TrainLimit = TrainLimit,
                                    TestLimit = TestLimit,
                                    TrackSparsityEvery = TrackSparsityEvery,
                                    Data = Data,
                                    Backend = Backend,
                                };
    }

    /// <summary>The settings of every combination of the grid's values for <paramref name="m"/>'s settings from position <paramref name="from"/> on.</summary>
    private IEnumerable<ModelSettings> Combinations(Architecture m, ModelSettings settings, int from)
    {
        if (from == m.Settings.Count) { yield return settings; yield break; }
        var setting = m.Settings[from];
        foreach (var v in ValuesFor(setting))
            foreach (var s in Combinations(m, settings.With(setting, v), from + 1)) yield return s;
    }

    private static string Users(ModelSetting setting) => ArchitectureRegistry.UsersOf(setting) is { Count: > 0 } users ? string.Join(", ", users.Select(a => a.Id)) : "no registered architecture";

    /// <summary>Every run of the grid as a list, in <see cref="Runs"/>' order; refuses a grid over <see cref="MaxRuns"/>.</summary>
    public IReadOnlyList<RunSpec> Expand()
    {
        long count = RunCount;
        if (count > MaxRuns) throw new InvalidOperationException($"The grid holds {Count(count)} runs, more than one sweep can hold ({Count(MaxRuns)}).");
        return Runs().ToArray();
    }

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
