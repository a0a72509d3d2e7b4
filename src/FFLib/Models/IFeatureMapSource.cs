namespace FFLib.Models;

/// <summary>
/// A model whose layer activations are feature maps (a CNN): each row of
/// <see cref="IActivationSource.LayerActivations"/> is a map of channels × height × width, stored NHWC.
/// Plots draw such a layer as one small image per channel instead of a grid of units.
/// </summary>
public interface IFeatureMapSource : IActivationSource
{
    /// <summary>Layer <paramref name="layer"/>'s output map: channels, height, width (NHWC in the activation rows).</summary>
    (int Channels, int Height, int Width) MapShape(int layer);
}
