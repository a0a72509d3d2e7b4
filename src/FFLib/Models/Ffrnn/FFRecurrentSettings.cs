namespace FFLib.Models;

/// <summary>The FFRNN's own settings, its recurrent dynamics (Table 1's values as defaults).</summary>
public static class FFRecurrentSettings
{
    /// <summary>Damping β: a frame's new state is β·fresh + (1 − β)·old.</summary>
    public static readonly ModelSetting<float> Beta = ModelSetting.Number("beta", 0.7f, "FFRNN damping β, in (0, 1].",
        v => v > 0 && v <= 1 ? null : "beta must be in (0, 1]", formerNames: ["Beta"]);

    /// <summary>K_train: frames per training batch.</summary>
    public static readonly ModelSetting<int> TrainFrames = ModelSetting.Integer("k_train", 10, "FFRNN frames per training batch (K_train).",
        v => v >= 1 ? null : "K_train must be at least 1", formerNames: ["TrainFrames"]);

    /// <summary>K_testlow: goodness is averaged over prediction frames after this one.</summary>
    public static readonly ModelSetting<int> TestFrameLow = ModelSetting.Integer("k_test_low", 3, "FFRNN: goodness is averaged over frames after this one (K_testlow).",
        v => v >= 0 ? null : "K_testlow must be non-negative", formerNames: ["TestFrameLow"]);

    /// <summary>K_testhigh: prediction frames per label; must exceed K_testlow + 1 (checked by <see cref="FFRecurrentArchitecture.ValidateSettings"/>).</summary>
    public static readonly ModelSetting<int> TestFrameHigh = ModelSetting.Integer("k_test_high", 8, "FFRNN frames per label at prediction (K_testhigh).",
        v => v >= 2 ? null : "K_testhigh must be at least 2", formerNames: ["TestFrameHigh"]);
}
