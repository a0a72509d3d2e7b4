using FFLib.Layers;

namespace FFLib.Models;

/// <summary>The settings every FF architecture here declares (the FFNN, FFNN+C and FFRNN reuse them): the loss threshold θ and the loss direction.</summary>
public static class FFSettings
{
    /// <summary>θ, the goodness threshold of the FF loss (Table 1: 20).</summary>
    public static readonly ModelSetting<float> Threshold = ModelSetting.Number("threshold", 20f,
        "Loss threshold θ: the goodness a positive sample should exceed (L−) or stay under (L+).", formerNames: ["Threshold"]);

    /// <summary>L− (min, the paper's default) or L+ (max).</summary>
    public static readonly ModelSetting<LossDirection> Loss = ModelSetting.Choice("loss", LossDirection.Minimize,
        "Loss direction: min (L−, the paper's default) or max (L+).",
        [(LossDirection.Minimize, ["min", "minimize", "l-"]), (LossDirection.Maximize, ["max", "maximize", "l+"])], formerNames: ["Loss"]);
}
