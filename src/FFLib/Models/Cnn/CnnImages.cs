using FFLib.Compute;

namespace FFLib.Models;

/// <summary>Dataset rows (channel-major for colour, CIFAR's order) as the CNNs' NHWC input.</summary>
internal static class CnnImages
{
    public static float[] ToNhwc(Matrix images, ImageShape shape)
    {
        int n = images.Rows * shape.Features;
        if (shape.Channels == 1) return images.Data.Length == n ? images.Data : images.Data[..n];
        var y = new float[n];
        ConvKernels.ChannelMajorToNhwc(images.Data, images.Rows, shape.Channels, shape.Height, shape.Width, y);
        return y;
    }
}
