using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Layers;

namespace FFLib.Models;

/// <summary>The FFNN+C's registry entry: id "ffc" (alias "ffnn+c"); the FFNN's configuration plus the classifier's learning rate.</summary>
public sealed class FFClassifierArchitecture : Architecture
{
    /// <inheritdoc />
    public override string Id => "ffc";

    /// <inheritdoc />
    public override string DisplayName => "FFNN+C";

    /// <inheritdoc />
    public override string Description => "an FF stack, then a linear classifier trained on its concatenated outputs";

    /// <inheritdoc />
    public override IReadOnlyList<string> Aliases => ["ffnn+c"];

    /// <inheritdoc />
    public override IClassifierModel FromConfig(JsonObject config)
    {
        var stack = FFNetworkArchitecture.Empty(FFNetworkArchitecture.ReadConfig(config));
        var classifier = new DenseLayer(new Matrix(stack.Config.Classes, stack.Config.HiddenSizes.Sum()), new float[stack.Config.Classes]);
        return new FFClassifierNetwork(stack, classifier, ConfigJson.Get<float>(config, "classifier_learning_rate"));
    }

    /// <inheritdoc />
    public override IReadOnlyList<ModelSetting> Settings =>
        [FFSettings.Threshold, FFSettings.Loss, FFClassifierSettings.ClassifierLearningRate, FFSettings.PeerNormalization, FFSettings.ActivityL1, FFSettings.WeightDecay];

    /// <inheritdoc />
    public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random) =>
        new FFClassifierNetwork(FFNetworkArchitecture.Config(this, settings, imageFeatures, classes), settings.Get(FFClassifierSettings.ClassifierLearningRate), random);

    /// <summary>The FFNN's keys plus "classifier_learning_rate".</summary>
    public static JsonObject WriteConfig(FFNetworkConfig stack, float classifierLearningRate)
    {
        var config = FFNetworkArchitecture.WriteConfig(stack);
        config["classifier_learning_rate"] = classifierLearningRate;
        return config;
    }
}
