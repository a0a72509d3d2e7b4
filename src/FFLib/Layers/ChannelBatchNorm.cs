using FFLib.Modules;

namespace FFLib.Layers;

/// <summary>
/// Batch normalisation of a feature map's channels (PyTorch's BatchNorm2d): "weight" γ (ones) and "bias" β
/// (zeros) trained with the layer, and the running statistics "running_mean" (zeros) and "running_var"
/// (ones), not trained, updated by <see cref="UpdateRunningStatistics"/> with momentum 0.1 and used at
/// prediction. Every tensor has one entry per channel, so pruning and analysis see channels.
/// </summary>
public sealed class ChannelBatchNorm : Module
{
    /// <summary>The running statistics' momentum (PyTorch's default).</summary>
    public const float Momentum = 0.1f;

    /// <summary>A fresh normalisation of <paramref name="channels"/> channels (γ = 1, β = 0, mean 0, variance 1).</summary>
    public ChannelBatchNorm(int channels)
        : this(Enumerable.Repeat(1f, channels).ToArray(), new float[channels], new float[channels], Enumerable.Repeat(1f, channels).ToArray())
    {
    }

    /// <summary>Wraps existing arrays (no copy), one entry per channel each.</summary>
    public ChannelBatchNorm(float[] gamma, float[] beta, float[] runningMean, float[] runningVar)
    {
        ArgumentNullException.ThrowIfNull(gamma);
        int c = gamma.Length;
        if (c < 1) throw new ArgumentException("A normalisation needs at least one channel.", nameof(gamma));
        foreach (var (a, name) in new[] { (beta, nameof(beta)), (runningMean, nameof(runningMean)), (runningVar, nameof(runningVar)) })
            if (a is null || a.Length != c) throw new ArgumentException($"{name} must have {c} entries, one per channel.", name);
        Gamma = new("weight", "norm_scale", [c], gamma);
        Beta = new("bias", "norm_shift", [c], beta);
        RunningMean = new("running_mean", "norm_statistics", [c], runningMean, trainable: false);
        RunningVar = new("running_var", "norm_statistics", [c], runningVar, trainable: false);
    }

    /// <summary>Channels normalised.</summary>
    public int Channels => Gamma.Data.Length;

    /// <summary>γ with its state.</summary>
    public LocalParameter Gamma { get; }

    /// <summary>β with its state.</summary>
    public LocalParameter Beta { get; }

    /// <summary>The running mean (not trained).</summary>
    public LocalParameter RunningMean { get; }

    /// <summary>The running (unbiased) variance (not trained).</summary>
    public LocalParameter RunningVar { get; }

    /// <summary>γ, β, running mean, running variance.</summary>
    protected internal override IEnumerable<LocalParameter> LocalParameters() => [Gamma, Beta, RunningMean, RunningVar];

    /// <summary>
    /// The running statistics moved toward one batch's: <paramref name="mean"/> and <paramref name="invStd"/> as
    /// <see cref="Compute.ComputeBackend.BatchNormForward"/> gave them over <paramref name="rows"/> rows (the
    /// variance made unbiased, as PyTorch keeps it). Works on host arrays: the caller moves them.
    /// </summary>
    public static void UpdateRunningStatistics(Span<float> runningMean, Span<float> runningVar, ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, int rows)
    {
        double unbias = rows > 1 ? rows / (rows - 1.0) : 1;
        for (int c = 0; c < runningMean.Length; c++)
        {
            double variance = Math.Max(0, 1.0 / ((double)invStd[c] * invStd[c]) - Compute.BatchNormKernels.Epsilon) * unbias;
            runningMean[c] = (1 - Momentum) * runningMean[c] + Momentum * mean[c];
            runningVar[c] = (float)((1 - Momentum) * runningVar[c] + Momentum * variance);
        }
    }

    /// <summary>1/√(running variance + ε) per channel: the inference-time invStd.</summary>
    public static float[] InverseStd(ReadOnlySpan<float> runningVar)
    {
        var result = new float[runningVar.Length];
        for (int c = 0; c < result.Length; c++) result[c] = (float)(1 / Math.Sqrt(runningVar[c] + (double)Compute.BatchNormKernels.Epsilon));
        return result;
    }
}
