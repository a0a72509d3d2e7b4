using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Layers;

namespace FFLib.Models;

/// <summary>The BPNN's registry entry: id "bpnn", its configuration's JSON form, construction.</summary>
public sealed class BackpropArchitecture : Architecture
{
    /// <inheritdoc />
    public override string Id => "bpnn";

    /// <inheritdoc />
    public override string DisplayName => "BPNN";

    /// <inheritdoc />
    public override string Description => "the backprop-trained MLP baseline (softmax cross-entropy, one Adam)";

    /// <inheritdoc />
    public override bool UsesNegativeData => false;

    /// <inheritdoc />
    public override IClassifierModel FromConfig(JsonObject config)
    {
        var cfg = ReadConfig(config);
        int[] widths = [cfg.ImageFeatures, .. cfg.HiddenSizes, cfg.Classes];
        var layers = new List<DenseLayer>();
        for (int i = 0; i < widths.Length - 1; i++) layers.Add(new DenseLayer(new Matrix(widths[i + 1], widths[i]), new float[widths[i + 1]]));
        return new BackpropNetwork(cfg, layers);
    }

    /// <inheritdoc />
    public override float DefaultLearningRate => 1e-4f;

    /// <inheritdoc />
    public override IReadOnlyList<ModelSetting> Settings => [];

    /// <inheritdoc />
    public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new BackpropNetwork(new BackpropNetworkConfig
        {
            ImageFeatures = imageFeatures, Classes = classes, HiddenSizes = settings.HiddenSizes.ToArray(), LearningRate = settings.LearningRateFor(this),
        }, random);
    }

    /// <summary>The configuration's JSON form (image_features, classes, hidden_sizes, learning_rate).</summary>
    public static JsonObject WriteConfig(BackpropNetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new()
        {
            ["image_features"] = config.ImageFeatures,
            ["classes"] = config.Classes,
            ["hidden_sizes"] = ConfigJson.IntArray(config.HiddenSizes),
            ["learning_rate"] = config.LearningRate,
        };
    }

    /// <summary>Reads <see cref="WriteConfig"/>'s form back and validates it.</summary>
    public static BackpropNetworkConfig ReadConfig(JsonObject c)
    {
        var config = new BackpropNetworkConfig
        {
            ImageFeatures = ConfigJson.Get<int>(c, "image_features"),
            Classes = ConfigJson.Get<int>(c, "classes"),
            HiddenSizes = ConfigJson.IntArray(c, "hidden_sizes"),
            LearningRate = ConfigJson.Get<float>(c, "learning_rate"),
        };
        config.Validate();
        return config;
    }
}
