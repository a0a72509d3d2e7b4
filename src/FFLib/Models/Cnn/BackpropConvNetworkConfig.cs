namespace FFLib.Models;

/// <summary>A backprop CNN's shape and learning rate.</summary>
/// <param name="Stack">Image, channels, kernels and pooling.</param>
/// <param name="Classes">Number of classes.</param>
/// <param name="LearningRate">Adam's step size.</param>
public sealed record BackpropConvNetworkConfig(ConvStack Stack, int Classes, float LearningRate)
{
    /// <summary>Throws <see cref="ArgumentException"/> if the configuration cannot build a model.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Stack);
        Stack.Validate();
        if (Classes < 2) throw new ArgumentOutOfRangeException(nameof(Classes), Classes, "At least 2 classes.");
        if (!(LearningRate > 0 && float.IsFinite(LearningRate))) throw new ArgumentOutOfRangeException("lr", LearningRate, "The learning rate must be a positive finite number.");
    }
}
