namespace FFLib.Compute;

// Convolution and pooling primitives (NHWC, ConvGeometry). Each default runs on the host through
// Read and Write, so any device has them; the CPU works on its arrays in place, a GPU backend may
// replace them with kernels. The results are exact copies and maxima: every backend gives the same bits.
public abstract partial class ComputeBackend
{
    /// <summary>
    /// im2col: the patches of <paramref name="images"/> NHWC images as rows, [images·OH·OW, K·K·C],
    /// patch order (ky, kx, c) as a weight row [out, K, K, C] (zeros where the kernel leaves the image).
    /// </summary>
    public virtual void Im2Col(DeviceSpan x, int images, ConvGeometry geometry, DeviceSpan columns)
    {
        var cols = new float[images * geometry.Positions * geometry.PatchSize];
        ConvKernels.Im2Col(Read(x.Slice(0, images * geometry.InputSize)), images, geometry, cols);
        Write(cols, columns.Slice(0, cols.Length));
    }

    /// <summary>The adjoint of <see cref="Im2Col"/> (for a convolution's input gradient): dx is overwritten with the column entries summed onto their pixels.</summary>
    public virtual void Col2Im(DeviceSpan columns, int images, ConvGeometry geometry, DeviceSpan dx)
    {
        var result = new float[images * geometry.InputSize];
        ConvKernels.Col2Im(Read(columns.Slice(0, images * geometry.Positions * geometry.PatchSize)), images, geometry, result);
        Write(result, dx.Slice(0, result.Length));
    }

    /// <summary>2×2 max-pooling, stride 2, NHWC (odd edges dropped); <paramref name="argmax"/> keeps each maximum's index inside its image for <see cref="MaxPoolBackward"/>.</summary>
    public virtual void MaxPool(DeviceSpan x, int images, int height, int width, int channels, DeviceSpan y, DeviceSpan argmax)
    {
        int outLen = images * (height / 2) * (width / 2) * channels;
        var (yy, am) = (new float[outLen], new float[outLen]);
        ConvKernels.MaxPool(Read(x.Slice(0, images * height * width * channels)), images, height, width, channels, yy, am);
        Write(yy, y.Slice(0, outLen));
        Write(am, argmax.Slice(0, outLen));
    }

    /// <summary>The gradient of <see cref="MaxPool"/>: dx (overwritten) gets dy at each window's maximum, zero elsewhere.</summary>
    public virtual void MaxPoolBackward(DeviceSpan dy, DeviceSpan argmax, int images, int height, int width, int channels, DeviceSpan dx)
    {
        int outLen = images * (height / 2) * (width / 2) * channels;
        var result = new float[images * height * width * channels];
        ConvKernels.MaxPoolBackward(Read(dy.Slice(0, outLen)).ToArray(), Read(argmax.Slice(0, outLen)), images, height, width, channels, result);
        Write(result, dx.Slice(0, result.Length));
    }
}
