namespace FFLib.Models;

/// <summary>The FFNN+C's own setting (beside the FF stack's θ and loss direction).</summary>
public static class FFClassifierSettings
{
    /// <summary>The linear classifier's Adam learning rate (Table 1: 1e-4).</summary>
    public static readonly ModelSetting<float> ClassifierLearningRate = ModelSetting.Number("classifier_lr", 1e-4f,
        "Adam learning rate of the FFNN+C's classifier.",
        v => v > 0 && float.IsFinite(v) ? null : "the classifier learning rate must be a positive finite number",
        formerNames: ["ClassifierLearningRate"]);
}
