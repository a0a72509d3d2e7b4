using System.Text.Json.Nodes;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>The backprop CNN's registry entry: id "bpcnn", its configuration's JSON form, construction.</summary>
public sealed class BackpropConvArchitecture : ConvArchitecture
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

    /// <summary>Measured: 32.2 s per epoch of 54,000 images and 1.5 s to validate 6,000 at --layers 16,32 --conv 5p,3p (1.22 M multiply-adds per image).</summary>
    public override (double Training, double Prediction) RelativeCost => (25, 6);

    /// <summary>1e-3, Adam's usual step for a small CNN (the BPNN's 1e-4 is the paper's for its MLP).</summary>
    public override float DefaultLearningRate => 1e-3f;

    /// <inheritdoc />
    public override IReadOnlyList<ModelSetting> Settings => [CnnSettings.Conv];

    /// <inheritdoc />
    public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random)
    {
        var stack = CreateStack(settings, imageFeatures);
        return new BackpropConvNetwork(new BackpropConvNetworkConfig(stack, classes, settings.LearningRateFor(this)), random);
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
