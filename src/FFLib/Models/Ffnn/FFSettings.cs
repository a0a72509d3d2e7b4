using FFLib.Layers;

namespace FFLib.Models;

/// <summary>The settings of the FF architectures here: the loss threshold θ and the loss direction (FFNN, FFNN+C and FFRNN), and the regularisers (FFNN, the FFNN+C's FF stack and FFRNN).</summary>
public static class FFSettings
{
    /// <summary>θ, the goodness threshold of the FF loss (Table 1: 20).</summary>
    public static readonly ModelSetting<float> Threshold = ModelSetting.Number("threshold", 20f,
        "Loss threshold θ: the goodness a positive sample should exceed (L−) or stay under (L+).", formerNames: ["Threshold"]);

    /// <summary>L− (min, the paper's default) or L+ (max).</summary>
    public static readonly ModelSetting<LossDirection> Loss = ModelSetting.Choice("loss", LossDirection.Minimize,
        "Loss direction: min (L−, the paper's default) or max (L+).",
        [(LossDirection.Minimize, ["min", "minimize", "l-"]), (LossDirection.Maximize, ["max", "maximize", "l+"])], formerNames: ["Loss"]);

    /// <summary>λ of peer normalisation (<see cref="FFRegularization.PeerNormalization"/>); 0: off.</summary>
    public static readonly ModelSetting<float> PeerNormalization = ModelSetting.Number("peer_norm", 0f,
        "Peer-normalisation λ (Hinton 2022): pushes each unit's running mean activity toward its layer's; 0 = off, Hinton's setting 0.03.",
        v => FFRegularization.Problem(v) is string p ? "peer_norm " + p : null);

    /// <summary>λ of the L1 penalty on activations (<see cref="FFRegularization.ActivityL1"/>); 0: off.</summary>
    public static readonly ModelSetting<float> ActivityL1 = ModelSetting.Number("activity_l1", 0f,
        "L1 penalty λ on each FF layer's activations (mean over samples of the sum over units); 0 = off.",
        v => FFRegularization.Problem(v) is string p ? "activity_l1 " + p : null);

    /// <summary>λ of decoupled weight decay on the FF layers' weight matrices (<see cref="FFRegularization.WeightDecay"/>); 0: off.</summary>
    public static readonly ModelSetting<float> WeightDecay = ModelSetting.Number("weight_decay", 0f,
        "Decoupled (AdamW) weight decay λ of the FF layers' weight matrices: w ← w·(1 − lr·λ) each step; 0 = off.",
        v => FFRegularization.Problem(v) is string p ? "weight_decay " + p : null);

    /// <summary>The three regularisers of <paramref name="settings"/>.</summary>
    public static FFRegularization Regularization(ModelSettings settings) => new()
    {
        PeerNormalization = settings.Get(PeerNormalization), ActivityL1 = settings.Get(ActivityL1), WeightDecay = settings.Get(WeightDecay),
    };
}
