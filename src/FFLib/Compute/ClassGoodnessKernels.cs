using System.Numerics.Tensors;

namespace FFLib.Compute;

/// <summary>
/// A competitive FF layer's class goodnesses and their gradient on the host (the CPU backend's
/// kernels and every backend's default). Maps are rows × (positions·C) in NHWC order; each channel's
/// class is given as a float (what a device reads), each class's factor in <c>weight</c> (e.g. 1/(positions·|class|)).
/// </summary>
internal static class ClassGoodnessKernels
{
    /// <summary>goodness[r, k] = weight[k] · Σ_{p, c: group[c] = k} h[r, p·C + c]²: per channel over the positions in float (SIMD across channels), then per class in double.</summary>
    public static void Forward(ReadOnlySpan<float> h, int rows, ReadOnlySpan<float> group, ReadOnlySpan<float> weight, Span<float> goodness)
    {
        int channels = group.Length, classes = weight.Length, rowSize = h.Length / Math.Max(1, rows);
        Span<float> perChannel = channels <= 1024 ? stackalloc float[channels] : new float[channels];
        Span<double> sums = classes <= 256 ? stackalloc double[classes] : new double[classes];
        for (int r = 0; r < rows; r++)
        {
            perChannel.Clear();
            var map = h.Slice(r * rowSize, rowSize);
            for (int q = 0; q < rowSize; q += channels)
            {
                var block = map.Slice(q, channels);
                TensorPrimitives.MultiplyAdd(block, block, perChannel, perChannel);
            }
            var g = goodness.Slice(r * classes, classes);
            sums.Clear();
            for (int c = 0; c < channels; c++) sums[(int)group[c]] += perChannel[c];
            for (int k = 0; k < classes; k++) g[k] = (float)(sums[k] * weight[k]);
        }
    }

    /// <summary>delta[r, p·C + c] = 2·h[r, p·C + c]·dg[r, k]·weight[k] with k = group[c] (in place when delta is h).</summary>
    public static void Backward(ReadOnlySpan<float> h, int rows, ReadOnlySpan<float> group, ReadOnlySpan<float> weight, ReadOnlySpan<float> dg, Span<float> delta)
    {
        int channels = group.Length, classes = weight.Length, rowSize = h.Length / Math.Max(1, rows);
        Span<float> factor = channels <= 1024 ? stackalloc float[channels] : new float[channels];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < channels; c++) { int k = (int)group[c]; factor[c] = 2f * dg[r * classes + k] * weight[k]; }
            int o = r * rowSize;
            for (int q = 0; q < rowSize; q += channels)
                TensorPrimitives.Multiply(h.Slice(o + q, channels), factor, delta.Slice(o + q, channels));
        }
    }
}
