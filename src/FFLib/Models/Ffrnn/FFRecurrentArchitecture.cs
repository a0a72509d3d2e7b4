using System.Text.Json.Nodes;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>The FFRNN's registry entry: id "ffrnn", its configuration's JSON form, construction.</summary>
public sealed class FFRecurrentArchitecture : Architecture
{
    /// <inheritdoc />
    public override string Id => "ffrnn";

    /// <inheritdoc />
    public override string DisplayName => "FFRNN";

    /// <inheritdoc />
    public override string Description => "Hinton's recurrent FF network: damped synchronous frames over image, hidden and label states";

    /// <inheritdoc />
    public override IClassifierModel FromConfig(JsonObject config)
    {
        var cfg = ReadConfig(config);
        var d = cfg.Dimensions;
        var layers = new List<(Matrix, Matrix, float[])>();
        for (int i = 1; i < d.Length - 1; i++) layers.Add((new Matrix(d[i], d[i - 1]), new Matrix(d[i], d[i + 1]), new float[d[i]]));
        return new FFRecurrentNetwork(cfg, layers);
    }

    /// <inheritdoc />
    public override (double Training, double Prediction) RelativeCost => (27, 20);

    /// <inheritdoc />
    public override IReadOnlyList<ModelSetting> Settings =>
        [FFSettings.Threshold, FFSettings.Loss, FFRecurrentSettings.Beta, FFRecurrentSettings.TrainFrames, FFRecurrentSettings.TestFrameLow, FFRecurrentSettings.TestFrameHigh,
         FFSettings.PeerNormalization, FFSettings.ActivityL1, FFSettings.WeightDecay];

    /// <inheritdoc />
    public override void ValidateSettings(ModelSettings settings)
    {
        base.ValidateSettings(settings);
        int low = settings.Get(FFRecurrentSettings.TestFrameLow), high = settings.Get(FFRecurrentSettings.TestFrameHigh);
        if (high <= low + 1)
            throw new ArgumentOutOfRangeException(FFRecurrentSettings.TestFrameHigh.Key, high, $"K_testhigh ({high}) must exceed K_testlow + 1 ({low + 1}) so that at least one frame is scored.");
    }

    /// <inheritdoc />
    public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new FFRecurrentNetwork(new FFRecurrentConfig
        {
            ImageFeatures = imageFeatures, Classes = classes, HiddenSizes = settings.HiddenSizes.ToArray(),
            Threshold = settings.Get(FFSettings.Threshold), Loss = settings.Get(FFSettings.Loss), LearningRate = settings.LearningRateFor(this),
            Beta = settings.Get(FFRecurrentSettings.Beta), TrainFrames = settings.Get(FFRecurrentSettings.TrainFrames),
            TestFrameLow = settings.Get(FFRecurrentSettings.TestFrameLow), TestFrameHigh = settings.Get(FFRecurrentSettings.TestFrameHigh),
            Regularization = FFSettings.Regularization(settings),
        }, random);
    }

    /// <summary>The configuration's JSON form (the FFNN's keys plus beta, k_train, k_test_low, k_test_high, prediction_seed; the regularisers' keys only when on).</summary>
    public static JsonObject WriteConfig(FFRecurrentConfig config)
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
            ["beta"] = config.Beta,
            ["k_train"] = config.TrainFrames,
            ["k_test_low"] = config.TestFrameLow,
            ["k_test_high"] = config.TestFrameHigh,
            ["prediction_seed"] = config.PredictionSeed,
        };
        ConfigJson.WriteRegularization(json, config.Regularization);
        return json;
    }

    /// <summary>Reads <see cref="WriteConfig"/>'s form back and validates it.</summary>
    public static FFRecurrentConfig ReadConfig(JsonObject c)
    {
        var config = new FFRecurrentConfig
        {
            ImageFeatures = ConfigJson.Get<int>(c, "image_features"),
            Classes = ConfigJson.Get<int>(c, "classes"),
            HiddenSizes = ConfigJson.IntArray(c, "hidden_sizes"),
            Threshold = ConfigJson.Get<float>(c, "threshold"),
            Loss = ConfigJson.Loss(c),
            LearningRate = ConfigJson.Get<float>(c, "learning_rate"),
            Beta = ConfigJson.Get<float>(c, "beta"),
            TrainFrames = ConfigJson.Get<int>(c, "k_train"),
            TestFrameLow = ConfigJson.Get<int>(c, "k_test_low"),
            TestFrameHigh = ConfigJson.Get<int>(c, "k_test_high"),
            PredictionSeed = ConfigJson.Get<long>(c, "prediction_seed"),
            Regularization = ConfigJson.Regularization(c),
        };
        config.Validate();
        return config;
    }
}
