using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Layers;

namespace FFLib.Models;

/// <summary>The FFNN's registry entry: id "ffnn", its configuration's JSON form, construction.</summary>
public sealed class FFNetworkArchitecture : Architecture
{
    /// <inheritdoc />
    public override string Id => "ffnn";

    /// <inheritdoc />
    public override string DisplayName => "FFNN";

    /// <inheritdoc />
    public override string Description => "a stack of FF dense layers fed image ⊕ one-hot label; prediction tries every label";

    /// <inheritdoc />
    public override IClassifierModel FromConfig(JsonObject config) => Empty(ReadConfig(config));

    /// <inheritdoc />
    public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random) =>
        new FFNetwork(Config(this, settings, imageFeatures, classes), random);

    /// <summary>The FF stack's configuration from run settings.</summary>
    internal static FFNetworkConfig Config(Architecture architecture, ModelSettings settings, int imageFeatures, int classes)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new FFNetworkConfig
        {
            ImageFeatures = imageFeatures, Classes = classes, HiddenSizes = settings.HiddenSizes.ToArray(),
            Threshold = settings.Get(FFSettings.Threshold), Loss = settings.Get(FFSettings.Loss), LearningRate = settings.LearningRateFor(architecture),
            Regularization = FFSettings.Regularization(settings),
        };
    }

    /// <summary>An FFNN of this shape with all parameters zero.</summary>
    internal static FFNetwork Empty(FFNetworkConfig config)
    {
        config.Validate();
        var layers = new List<FFDenseLayer>();
        int inF = config.InputFeatures;
        foreach (int width in config.HiddenSizes)
        {
            layers.Add(new FFDenseLayer(new Matrix(width, inF), new float[width]));
            inF = width;
        }
        return new FFNetwork(config, layers);
    }

    /// <summary>The configuration's JSON form (keys image_features, classes, hidden_sizes, threshold, loss, learning_rate).</summary>
    public static JsonObject WriteConfig(FFNetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var json = new JsonObject
        {
            ["image_features"] = config.ImageFeatures,
            ["classes"] = config.Classes,
            ["hidden_sizes"] = ConfigJson.IntArray(config.HiddenSizes),
            ["threshold"] = config.Threshold,
            ["loss"] = ConfigJson.LossText(config.Loss),
            ["learning_rate"] = config.LearningRate,
        };
        ConfigJson.WriteRegularization(json, config.Regularization);
        return json;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ModelSetting> Settings =>
        [FFSettings.Threshold, FFSettings.Loss, FFSettings.PeerNormalization, FFSettings.ActivityL1, FFSettings.WeightDecay];

    /// <summary>Reads <see cref="WriteConfig"/>'s form back and validates it.</summary>
    public static FFNetworkConfig ReadConfig(JsonObject c)
    {
        var config = new FFNetworkConfig
        {
            ImageFeatures = ConfigJson.Get<int>(c, "image_features"),
            Classes = ConfigJson.Get<int>(c, "classes"),
            HiddenSizes = ConfigJson.IntArray(c, "hidden_sizes"),
            Threshold = ConfigJson.Get<float>(c, "threshold"),
            Loss = ConfigJson.Loss(c),
            LearningRate = ConfigJson.Get<float>(c, "learning_rate"),
            Regularization = ConfigJson.Regularization(c),
        };
        config.Validate();
        return config;
    }
}
