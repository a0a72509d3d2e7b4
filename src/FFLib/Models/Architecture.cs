using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// A network family, as the rest of the library sees it: an id (used in files and on the command
/// line), a name, and how to build a model from a saved configuration or for a training run.
/// Each architecture lives next to its model and is looked up by id in
/// <see cref="ArchitectureRegistry"/>; a user-defined one is added with
/// <see cref="ArchitectureRegistry.Register"/> and then works with checkpoints, cloning,
/// analysis, pruning and <see cref="Training.TrainingRun"/> without any change to the library.
/// </summary>
[JsonConverter(typeof(ArchitectureJsonConverter))]
public abstract class Architecture
{
    /// <summary>Identifier in files and on the command line, lower case (e.g. "ffnn").</summary>
    public abstract string Id { get; }

    /// <summary>Name in tables and plots (e.g. "FFNN+C").</summary>
    public abstract string DisplayName { get; }

    /// <summary>One line for help texts.</summary>
    public abstract string Description { get; }

    /// <summary>Other accepted spellings of <see cref="Id"/> (e.g. "ffnn+c").</summary>
    public virtual IReadOnlyList<string> Aliases => [];

    /// <summary>Whether training uses negative data (false for backprop models: negative-data options do not apply).</summary>
    public virtual bool UsesNegativeData => true;

    /// <summary>Training and prediction cost relative to an FFNN of the same widths (for time estimates; the FFRNN is 27× and 20×).</summary>
    public virtual (double Training, double Prediction) RelativeCost => (1, 1);

    /// <summary>The widths (neurons per hidden layer; channels per layer of a CNN) a run uses when none are given (the paper's 2000, 2000).</summary>
    public virtual IReadOnlyList<int> DefaultHiddenSizes => [2000, 2000];

    /// <summary>
    /// Why a model of these settings cannot be built for images of <paramref name="imageFeatures"/>
    /// values, or null (checked before any data is read; a CNN: a kernel larger than its input,
    /// pooling below 1×1, images that are not square).
    /// </summary>
    public virtual string? ShapeProblem(ModelSettings settings, int imageFeatures) => null;

    /// <summary>
    /// What a user should know before training at these settings though they are valid (a setting
    /// known not to learn, say), one sentence each naming settings by key; empty by default.
    /// </summary>
    public virtual IReadOnlyList<string> Caveats(ModelSettings settings) => [];

    /// <summary>
    /// Multiply-adds of one forward pass per image at these settings (the time estimates' unit of
    /// work, with <see cref="RelativeCost"/> on top): by default the dense stack's weights,
    /// image → widths; a convolutional architecture counts positions × patch × channels.
    /// </summary>
    public virtual double MultiplyAddsPerImage(ModelSettings settings, int imageFeatures)
    {
        ArgumentNullException.ThrowIfNull(settings);
        double total = 0, below = imageFeatures;
        foreach (int w in settings.HiddenSizes) { total += below * w; below = w; }
        return total;
    }

    /// <summary>The learning rate a run uses when none is given (the paper's Table 1: 0.02 for FF layers).</summary>
    public virtual float DefaultLearningRate => 0.02f;

    /// <summary>
    /// The settings this architecture reads beyond widths and learning rate, declared once (default:
    /// an FF model's θ and loss direction, <see cref="FFSettings"/>). The command line's options,
    /// run.json, sweep grids and run ids are derived from this list, in this order. A key names one
    /// setting across all registered architectures: reuse the declaration rather than declaring the same key again.
    /// </summary>
    public virtual IReadOnlyList<ModelSetting> Settings => [FFSettings.Threshold, FFSettings.Loss];

    /// <summary>Whether <paramref name="setting"/> is one of <see cref="Settings"/>.</summary>
    public bool Uses(ModelSetting setting) => Settings.Contains(setting);

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> (parameter name: the setting's key) if the
    /// settings cannot build this architecture: <see cref="ModelSettings.Validate"/>, each of
    /// <see cref="Settings"/> by its own rule, and an override's rules between settings.
    /// </summary>
    public virtual void ValidateSettings(ModelSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        foreach (var s in Settings) s.Check(settings.Get(s));
    }

    /// <summary>
    /// A model of the shape <paramref name="config"/> describes (as written by
    /// <see cref="IClassifierModel.ConfigToJson"/>), its parameters all zero: loading, cloning and
    /// pruning then fill them. Throws <see cref="FormatException"/> or
    /// <see cref="ArgumentException"/> on a missing or invalid value.
    /// </summary>
    public abstract IClassifierModel FromConfig(JsonObject config);

    /// <summary>A freshly initialised model for a training run, sized for the data.</summary>
    public abstract ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random);

    /// <summary>The FFNN (built in).</summary>
    public static Architecture Ffnn => ArchitectureRegistry.Get("ffnn");

    /// <summary>The FFNN+C (built in).</summary>
    public static Architecture Ffc => ArchitectureRegistry.Get("ffc");

    /// <summary>The FFRNN (built in).</summary>
    public static Architecture Ffrnn => ArchitectureRegistry.Get("ffrnn");

    /// <summary>The BPNN baseline (built in).</summary>
    public static Architecture Bpnn => ArchitectureRegistry.Get("bpnn");

    /// <inheritdoc />
    public override string ToString() => Id;
}

/// <summary>Writes an architecture as its id; reads ids and aliases in any case ("Ffnn" from older files too).</summary>
internal sealed class ArchitectureJsonConverter : JsonConverter<Architecture>
{
    public override Architecture Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var id = reader.GetString() ?? throw new JsonException("The architecture is null.");
        return ArchitectureRegistry.Find(id) ?? throw new JsonException($"Unknown architecture '{id}'. Known: {ArchitectureRegistry.KnownIds}.");
    }

    public override void Write(Utf8JsonWriter writer, Architecture value, JsonSerializerOptions options) => writer.WriteStringValue(value.Id);
}
