using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// Layer 1's product of the normalised images with its forward weights, for the rows that share
/// them: row r of a state matrix holds image (r / divisor) mod modulo.
/// </summary>
internal sealed class FFRecurrentImageProduct(FFRecurrentNetwork net, FFRecurrentBuffers buffers)
{
    private readonly ComputeBackend be = buffers.Backend;
    private DeviceArray? _data, _images;
    private int _count, _divisor = 1, _modulo = 1;

    public FFRecurrentImageProduct Reset(int count, int divisor, int modulo)
    {
        (_count, _divisor, _modulo) = (count, divisor, modulo);
        int w = net.Layers[0].Width, inF = net.Layers[0].ForwardWeight.Cols;
        // In the buffers' workspace: freed with it, or when outgrown.
        buffers.Grow(ref _data, count * w);
        buffers.Grow(ref _images, count * inF);
        return this;
    }

    /// <summary>Recomputes the product with the current weights from the normalised level-0 states.</summary>
    public void Compute(DeviceSpan normedStates, object? prepared)
    {
        var layer = net.Layers[0];
        int w = layer.Width, inF = layer.ForwardWeight.Cols;
        // One row per image: row (i·divisor) of the states holds image i.
        var images = _images!.Slice(0, _count * inF);
        be.GatherRows(normedStates, inF, images, _count, _divisor, 1, int.MaxValue);
        be.Gemm(_count, w, inF, images, inF, prepared, transB: true, net.Device(layer.ForwardParameter), inF, _data!.Slice(0, _count * w), w, accumulate: false);
    }

    /// <summary>pre row r = the product row of the image row r holds.</summary>
    public void CopyRows(DeviceSpan pre, int rows) => be.GatherRows(_data!.All, net.Layers[0].Width, pre, rows, 1, _divisor, _modulo);
}
