using System.Text.Json.Nodes;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>The backprop CNN's registry entry: id "bpcnn", its configuration's JSON form, construction.</summary>
public sealed class BackpropConvArchitecture : Architecture
{
    /// <summary>"bpcnn".</summary>
    public const string ArchitectureId = "bpcnn";

    /// <inheritdoc />
    public override string Id => ArchitectureId;

    /// <inheritdoc />
    public override string DisplayName => "BP-CNN";

    /// <inheritdoc />
    public override string Description => "the backprop-trained CNN baseline (the FF CNN's conv stack, a linear classifier, cross-entropy)";

    /// <inheritdoc />
    public override bool UsesNegativeData => false;

    /// <summary>1e-3, Adam's usual step for a small CNN (the BPNN's 1e-4 is the paper's for its MLP).</summary>
    public override float DefaultLearningRate => 1e-3f;

    /// <inheritdoc />
    public override IReadOnlyList<int> DefaultHiddenSizes => CnnSettings.DefaultChannels;

    /// <inheritdoc />
    public override IReadOnlyList<ModelSetting> Settings => [CnnSettings.Conv];

    /// <inheritdoc />
    public override void ValidateSettings(ModelSettings settings)
    {
        base.ValidateSettings(settings);
        int layers = ConvStack.Parse(settings.Get(CnnSettings.Conv)).Length;
        if (layers != settings.HiddenSizes.Count)
            throw new ArgumentOutOfRangeException("conv", settings.Get(CnnSettings.Conv), $"conv {settings.Get(CnnSettings.Conv)} describes {layers} layer(s) but the layer widths give {settings.HiddenSizes.Count} channel count(s) ({string.Join(",", settings.HiddenSizes)}).");
    }

    /// <inheritdoc />
    public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ValidateSettings(settings);
        var stack = new ConvStack(ImageShape.FromFeatures(imageFeatures), settings.HiddenSizes.ToArray(), ConvStack.Parse(settings.Get(CnnSettings.Conv)));
        return new BackpropConvNetwork(new BackpropConvNetworkConfig(stack, classes, settings.LearningRateFor(this)), random);
    }

    /// <inheritdoc />
    public override string? ShapeProblem(ModelSettings settings, int imageFeatures)
    {
        ArgumentNullException.ThrowIfNull(settings);
        try { return new ConvStack(ImageShape.FromFeatures(imageFeatures), settings.HiddenSizes.ToArray(), ConvStack.Parse(settings.Get(CnnSettings.Conv))).Problem(); }
        catch (ArgumentException e) { return e.Message; }
        catch (FormatException e) { return e.Message; }
    }

    /// <inheritdoc />
    public override double MultiplyAddsPerImage(ModelSettings settings, int imageFeatures)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var stack = new ConvStack(ImageShape.FromFeatures(imageFeatures), settings.HiddenSizes.ToArray(), ConvStack.Parse(settings.Get(CnnSettings.Conv)));
        return stack.Problem() is null ? stack.MultiplyAdds(0) : base.MultiplyAddsPerImage(settings, imageFeatures);
    }

    /// <inheritdoc />
    public override IClassifierModel FromConfig(JsonObject config) => new BackpropConvNetwork(ReadConfig(config), random: null);

    /// <summary>The configuration's JSON form.</summary>
    public static JsonObject WriteConfig(BackpropConvNetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var o = new JsonObject { ["classes"] = config.Classes };
        config.Stack.WriteTo(o);
        o["learning_rate"] = config.LearningRate;
        return o;
    }

    /// <summary>Reads <see cref="WriteConfig"/>'s form back and validates it.</summary>
    public static BackpropConvNetworkConfig ReadConfig(JsonObject c)
    {
        var config = new BackpropConvNetworkConfig(ConvStack.Read(c), ConfigJson.Get<int>(c, "classes"), ConfigJson.Get<float>(c, "learning_rate"));
        try { config.Validate(); }
        catch (ArgumentException e) { throw new FormatException($"config is invalid: {e.Message}"); }
        return config;
    }
}
