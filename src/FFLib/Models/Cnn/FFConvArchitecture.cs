using System.Text.Json.Nodes;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>The FF CNN's registry entry: id "ffcnn", its settings, its configuration's JSON form, construction.</summary>
public sealed class FFConvArchitecture : ConvArchitecture
{
    /// <summary>"ffcnn".</summary>
    public const string ArchitectureId = "ffcnn";

    /// <inheritdoc />
    public override string Id => ArchitectureId;

    /// <inheritdoc />
    public override string DisplayName => "FF-CNN";

    /// <inheritdoc />
    public override string Description => "an FF-trained convolutional network (goodness per conv layer; the label as an image pattern or as planes at every layer)";

    /// <summary>
    /// Per multiply-add, an FF CNN epoch costs ~50× an FFNN's here: measured 67.5 s for 54,000 images
    /// of --layers 16,32 --conv 5p,3p (1.22 M multiply-adds per image) and 15.1 s to validate 6,000.
    /// Its products are thin (16–32 output channels, K·K·C of 25–144): far from the GEMM's best shapes.
    /// </summary>
    public override (double Training, double Prediction) RelativeCost => (50, 55);

    /// <inheritdoc />
    public override IReadOnlyList<ModelSetting> Settings => [FFSettings.Threshold, FFSettings.Loss, CnnSettings.Conv, CnnSettings.Labels, CnnSettings.Goodness, CnnSettings.Head, CnnSettings.Objective, CnnSettings.BatchNorm, FFClassifierSettings.ClassifierLearningRate,
         FFSettings.PeerNormalization, FFSettings.ActivityL1, FFSettings.WeightDecay];

    /// <inheritdoc />
    public override void ValidateSettings(ModelSettings settings)
    {
        base.ValidateSettings(settings);
        if (settings.Get(CnnSettings.BatchNorm) && settings.Get(CnnSettings.Objective) != ConvObjective.Competitive)
            throw new ArgumentOutOfRangeException("batch_norm", "on", "Batch normalisation is built for the competitive objective only (objective competitive).");
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> Caveats(ModelSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        // Measured (docs/cnn.md, "Status"): the contrastive FF CNN stays near chance on MNIST in every setting tried.
        return settings.Get(CnnSettings.Objective) == ConvObjective.Contrast
            ? ["the contrastive objective (objective contrast, the default) has not learnt MNIST in our runs: it stays near chance (32 % at best after 4 epochs); objective competitive reached 99.23 % (docs/cnn.md)."]
            : [];
    }

    /// <summary>Label planes: every layer reads one more input channel per class (10: the time estimate's MNIST/CIFAR-10).</summary>
    protected override int ExtraInputChannels(ModelSettings settings) => settings.Get(CnnSettings.Labels) == LabelEncoding.Channels && settings.Get(CnnSettings.Objective) == ConvObjective.Contrast ? 10 : 0;

    /// <summary>
    /// The competitive objective's work counted in the contrastive one's units: one pass of the images
    /// instead of positives and negatives, one prediction pass instead of one per class, and wider products.
    /// Measured here: 41 s for 54,000 images of --layers 40,80,160 --conv 5p,3p,3 (12.0 M multiply-adds per
    /// image), 1/16 of the contrastive rate per multiply-add.
    /// </summary>
    public override double MultiplyAddsPerImage(ModelSettings settings, int imageFeatures)
    {
        double macs = base.MultiplyAddsPerImage(settings, imageFeatures);
        return settings.Get(CnnSettings.Objective) == ConvObjective.Competitive ? macs / 16 : macs;
    }

    /// <inheritdoc />
    public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random)
    {
        var stack = CreateStack(settings, imageFeatures);
        return new FFConvNetwork(new FFConvNetworkConfig(stack, classes, settings.Get(FFSettings.Threshold), settings.Get(FFSettings.Loss),
            settings.LearningRateFor(this), settings.Get(CnnSettings.Labels), settings.Get(CnnSettings.Goodness),
            settings.Get(CnnSettings.Head), settings.Get(FFClassifierSettings.ClassifierLearningRate))
        { Regularization = FFSettings.Regularization(settings), Objective = settings.Get(CnnSettings.Objective), BatchNorm = settings.Get(CnnSettings.BatchNorm) }, random);
    }

    /// <inheritdoc />
    public override IClassifierModel FromConfig(JsonObject config) => new FFConvNetwork(ReadConfig(config), random: null);

    /// <summary>The configuration's JSON form.</summary>
    public static JsonObject WriteConfig(FFConvNetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var o = new JsonObject { ["classes"] = config.Classes };
        config.Stack.WriteTo(o);
        o["threshold"] = config.Threshold;
        o["loss"] = ConfigJson.LossText(config.Loss);
        o["learning_rate"] = config.LearningRate;
        o["label_encoding"] = CnnSettings.Labels.Format(config.Labels);
        o["goodness"] = CnnSettings.Goodness.Format(config.Goodness);
        o["head"] = CnnSettings.Head.Format(config.Head);
        o["classifier_lr"] = config.ClassifierLearningRate;
        if (config.Objective != ConvObjective.Contrast) o["objective"] = CnnSettings.Objective.Format(config.Objective);
        if (config.BatchNorm) o["batch_norm"] = CnnSettings.BatchNorm.Format(true);
        if (config.ChannelGroups is { } groups) o["channel_groups"] = new JsonArray(groups.Select(g => (JsonNode)new JsonArray(g.Select(n => (JsonNode)n).ToArray())).ToArray());
        if (config.InputScales is { } scales) o["input_scales"] = new JsonArray(scales.Select(v => (JsonNode)v).ToArray());
        ConfigJson.WriteRegularization(o, config.Regularization);
        return o;
    }

    private static T[] Values<T>(JsonArray a, string key) =>
        a.Select(n => n is JsonValue v && v.TryGetValue<T>(out var x) ? x : throw new FormatException($"config key '{key}' holds {n?.ToJsonString() ?? "null"}, not a {typeof(T).Name}")).ToArray();

    /// <summary>Reads <see cref="WriteConfig"/>'s form back and validates it.</summary>
    public static FFConvNetworkConfig ReadConfig(JsonObject c)
    {
        var config = new FFConvNetworkConfig(ConvStack.Read(c), ConfigJson.Get<int>(c, "classes"), ConfigJson.Get<float>(c, "threshold"), ConfigJson.Loss(c),
            ConfigJson.Get<float>(c, "learning_rate"), (LabelEncoding)CnnSettings.Labels.FromJson(c["label_encoding"] ?? throw new FormatException("config key 'label_encoding' is missing")),
            (ConvGoodness)CnnSettings.Goodness.FromJson(c["goodness"] ?? throw new FormatException("config key 'goodness' is missing")),
            c["head"] is { } head ? (ConvHead)CnnSettings.Head.FromJson(head) : ConvHead.Goodness,
            c.ContainsKey("classifier_lr") ? ConfigJson.Get<float>(c, "classifier_lr") : 1e-4f)
        {
            Regularization = ConfigJson.Regularization(c),
            Objective = c["objective"] is { } objective ? (ConvObjective)CnnSettings.Objective.FromJson(objective) : ConvObjective.Contrast,
            BatchNorm = c["batch_norm"] is { } batchNorm && (bool)CnnSettings.BatchNorm.FromJson(batchNorm),
            ChannelGroups = c["channel_groups"] is JsonArray groups ? groups.Select(g => g is JsonArray a ? Values<int>(a, "channel_groups") : throw new FormatException("config key 'channel_groups' must hold one array per layer")).ToArray() : null,
            InputScales = c["input_scales"] is JsonArray scales ? Values<float>(scales, "input_scales") : null,
        };
        try { config.Validate(); }
        catch (ArgumentException e) { throw new FormatException($"config is invalid: {e.Message}"); }
        return config;
    }
}
