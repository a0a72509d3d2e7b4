namespace FFLib.Layers;

/// <summary>
/// Which way the FF loss pushes goodness (paper §2.1, Equations 2–3; Table 5).
/// </summary>
public enum LossDirection
{
    /// <summary>
    /// L− (the paper's preferred loss): positive data are pushed to goodness below θ, negative
    /// data above it. Loss = mean of softplus(meanh²(pos) − θ) and softplus(θ − meanh²(neg));
    /// prediction takes the label with the <b>lowest</b> summed goodness.
    /// </summary>
    Minimize,

    /// <summary>
    /// L+ (Hinton's original): positive data above θ, negative below. Loss = mean of
    /// softplus(θ − meanh²(pos)) and softplus(meanh²(neg) − θ); prediction takes the label with
    /// the <b>highest</b> summed goodness.
    /// </summary>
    Maximize,
}
