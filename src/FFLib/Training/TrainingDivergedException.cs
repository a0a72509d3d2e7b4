namespace FFLib.Training;

/// <summary>Training stopped because a loss became NaN or infinite.</summary>
public sealed class TrainingDivergedException(string message, int epoch, int layer) : Exception(message)
{
    /// <summary>1-based epoch in which it happened.</summary>
    public int Epoch { get; } = epoch;

    /// <summary>1-based layer whose loss was not finite.</summary>
    public int Layer { get; } = layer;
}
