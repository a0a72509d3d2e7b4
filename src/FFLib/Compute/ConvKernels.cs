using System.Runtime.Intrinsics;

namespace FFLib.Compute;

/// <summary>
/// Convolution and pooling on host spans, NHWC (see <see cref="ConvGeometry"/>). The fast path is
/// im2col + the library's GEMM; beside it a plain direct convolution (the *Reference methods) that
/// the tests compare it with, as llm.c keeps matmul_forward_naive beside the fast one.
/// Patch order inside an im2col row is (ky, kx, c), matching a weight row [K, K, C].
/// </summary>
internal static class ConvKernels
{
    /// <summary>columns[(n·OH + oy)·OW + ox, (ky·K + kx)·C + c] = x[n, oy·S − P + ky, ox·S − P + kx, c] (0 outside the image).</summary>
    public static unsafe void Im2Col(ReadOnlySpan<float> x, int images, in ConvGeometry g, Span<float> columns)
    {
        int C = g.Channels, H = g.Height, W = g.Width, K = g.Kernel, S = g.Stride, P = g.Padding, OH = g.OutHeight, OW = g.OutWidth, patch = g.PatchSize;
        if (x.Length < (long)images * g.InputSize || columns.Length < (long)images * g.Positions * patch)
            throw new ArgumentException($"Im2Col needs {images} images of {g.InputSize} values and room for {images * g.Positions} rows of {patch}.");
        int span = K * C;
        fixed (float* px = x, pc = columns)
        {
            for (int n = 0; n < images; n++)
            {
                float* img = px + (long)n * g.InputSize;
                for (int oy = 0; oy < OH; oy++)
                    for (int ox = 0; ox < OW; ox++)
                    {
                        float* row = pc + ((long)(n * OH + oy) * OW + ox) * patch;
                        int ix0 = ox * S - P;
                        for (int ky = 0; ky < K; ky++)
                        {
                            int iy = oy * S - P + ky;
                            float* dst = row + ky * span;
                            if ((uint)iy >= (uint)H) { new Span<float>(dst, span).Clear(); continue; }
                            float* src = img + ((long)iy * W + ix0) * C;
                            if (ix0 >= 0 && ix0 + K <= W) { Copy(src, dst, span); continue; }
                            // Kernel taps left or right of the image are zero.
                            for (int kx = 0; kx < K; kx++)
                            {
                                if ((uint)(ix0 + kx) >= (uint)W) new Span<float>(dst + kx * C, C).Clear();
                                else Copy(src + kx * C, dst + kx * C, C);
                            }
                        }
                    }
            }
        }

        // Short runs (a 5-tap row of one channel) in a loop: a memmove call per 5 floats costs more than the copy.
        static void Copy(float* src, float* dst, int count)
        {
            if (count >= 32) { new ReadOnlySpan<float>(src, count).CopyTo(new Span<float>(dst, count)); return; }
            for (int i = 0; i < count; i++) dst[i] = src[i];
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx (cleared first) gathers every column entry back onto its pixel.</summary>
    public static void Col2Im(ReadOnlySpan<float> columns, int images, in ConvGeometry g, Span<float> dx)
    {
        int C = g.Channels, H = g.Height, W = g.Width, K = g.Kernel, S = g.Stride, P = g.Padding, OH = g.OutHeight, OW = g.OutWidth, patch = g.PatchSize;
        dx.Slice(0, images * g.InputSize).Clear();
        for (int n = 0; n < images; n++)
        {
            var img = dx.Slice(n * g.InputSize, g.InputSize);
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++)
                {
                    var row = columns.Slice(((n * OH + oy) * OW + ox) * patch, patch);
                    for (int ky = 0; ky < K; ky++)
                    {
                        int iy = oy * S - P + ky;
                        if ((uint)iy >= (uint)H) continue;
                        for (int kx = 0; kx < K; kx++)
                        {
                            int ix = ox * S - P + kx;
                            if ((uint)ix >= (uint)W) continue;
                            var src = row.Slice((ky * K + kx) * C, C);
                            var d = img.Slice((iy * W + ix) * C, C);
                            for (int c = 0; c < C; c++) d[c] += src[c];
                        }
                    }
                }
        }
    }

    /// <summary>
    /// 2×2 max-pooling with stride 2 (an odd last row or column is dropped, as PyTorch's floor mode):
    /// y[n, i, j, c] = max of the window; argmax holds each maximum's index inside its image (as a
    /// float, exact below 2²⁴ values per image), the first of equal values.
    /// </summary>
    public static unsafe void MaxPool(ReadOnlySpan<float> x, int images, int height, int width, int channels, Span<float> y, Span<float> argmax)
    {
        int OH = height / 2, OW = width / 2, C = channels, inSize = height * width * C, outSize = OH * OW * C;
        if (x.Length < (long)images * inSize || y.Length < (long)images * outSize || argmax.Length < (long)images * outSize)
            throw new ArgumentException($"MaxPool needs {images} images of {inSize} values and room for {images * outSize} outputs.");
        if (images == 0 || outSize == 0) return;
        if (!Vector512.IsHardwareAccelerated) { MaxPoolReference(x, images, height, width, channels, y, argmax); return; }
        // Vectors of 16 channels: the four window rows compared in the reference's order (a strict > keeps
        // the first of equal values, and a NaN never replaces), indices carried as exact floats.
        var lanes = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        fixed (float* px = x, py = y, pa = argmax)
        {
            for (int n = 0; n < images; n++)
            {
                float* img = px + (long)n * inSize;
                for (int i = 0; i < OH; i++)
                    for (int j = 0; j < OW; j++)
                    {
                        int ia = ((2 * i) * width + 2 * j) * C, ib = ia + C, ic = ia + width * C, id = ic + C;
                        long o = (long)n * outSize + (i * OW + j) * C;
                        int c = 0;
                        for (; c + 16 <= C; c += 16)
                        {
                            var best = Vector512.Load(img + ia + c);
                            var index = Vector512.Create((float)(ia + c)) + lanes;
                            Take(ref best, ref index, Vector512.Load(img + ib + c), ib + c, lanes);
                            Take(ref best, ref index, Vector512.Load(img + ic + c), ic + c, lanes);
                            Take(ref best, ref index, Vector512.Load(img + id + c), id + c, lanes);
                            best.Store(py + o + c);
                            index.Store(pa + o + c);
                        }
                        for (; c < C; c++)
                        {
                            int bestAt = ia + c;
                            if (img[ib + c] > img[bestAt]) bestAt = ib + c;
                            if (img[ic + c] > img[bestAt]) bestAt = ic + c;
                            if (img[id + c] > img[bestAt]) bestAt = id + c;
                            py[o + c] = img[bestAt];
                            pa[o + c] = bestAt;
                        }
                    }
            }
        }

        static void Take(ref Vector512<float> best, ref Vector512<float> index, Vector512<float> v, int at, Vector512<float> lanes)
        {
            var greater = Vector512.GreaterThan(v, best);
            best = Vector512.ConditionalSelect(greater, v, best);
            index = Vector512.ConditionalSelect(greater, Vector512.Create((float)at) + lanes, index);
        }
    }

    /// <summary>Plain reference for <see cref="MaxPool"/> (same results, bit for bit).</summary>
    public static void MaxPoolReference(ReadOnlySpan<float> x, int images, int height, int width, int channels, Span<float> y, Span<float> argmax)
    {
        int OH = height / 2, OW = width / 2, inSize = height * width * channels, outSize = OH * OW * channels;
        for (int n = 0; n < images; n++)
        {
            var img = x.Slice(n * inSize, inSize);
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++)
                    for (int c = 0; c < channels; c++)
                    {
                        int best = ((2 * i) * width + 2 * j) * channels + c;
                        foreach (int k in (ReadOnlySpan<int>)[((2 * i) * width + 2 * j + 1) * channels + c, ((2 * i + 1) * width + 2 * j) * channels + c, ((2 * i + 1) * width + 2 * j + 1) * channels + c])
                            if (img[k] > img[best]) best = k;
                        int o = n * outSize + (i * OW + j) * channels + c;
                        y[o] = img[best];
                        argmax[o] = best;
                    }
        }
    }

    /// <summary>The gradient of <see cref="MaxPool"/>: dx (cleared first) receives dy at each window's maximum.</summary>
    public static void MaxPoolBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> argmax, int images, int height, int width, int channels, Span<float> dx)
    {
        int inSize = height * width * channels, outSize = (height / 2) * (width / 2) * channels;
        dx.Slice(0, images * inSize).Clear();
        for (int n = 0; n < images; n++)
            for (int o = 0; o < outSize; o++)
                dx[n * inSize + (int)argmax[n * outSize + o]] += dy[n * outSize + o];
    }

    /// <summary>Reference: y[n, oy, ox, o] = Σ_{ky,kx,c} w[o, ky, kx, c]·x[n, oy·S − P + ky, ox·S − P + kx, c], direct loops in double.</summary>
    public static void ConvolveReference(ReadOnlySpan<float> x, int images, in ConvGeometry g, ReadOnlySpan<float> weight, int outChannels, Span<float> y)
    {
        int C = g.Channels, K = g.Kernel;
        for (int n = 0; n < images; n++)
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                    for (int o = 0; o < outChannels; o++)
                    {
                        double s = 0;
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++)
                            {
                                int iy = oy * g.Stride - g.Padding + ky, ix = ox * g.Stride - g.Padding + kx;
                                if ((uint)iy >= (uint)g.Height || (uint)ix >= (uint)g.Width) continue;
                                for (int c = 0; c < C; c++)
                                    s += (double)weight[((o * K + ky) * K + kx) * C + c] * x[n * g.InputSize + (iy * g.Width + ix) * C + c];
                            }
                        y[((n * g.OutHeight + oy) * g.OutWidth + ox) * outChannels + o] = (float)s;
                    }
    }

    /// <summary>Reference weight gradient: dw[o, ky, kx, c] = Σ_{n,oy,ox} dy[n, oy, ox, o]·x[n, iy, ix, c], direct loops in double.</summary>
    public static void WeightGradientReference(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int images, in ConvGeometry g, int outChannels, Span<float> dw)
    {
        int C = g.Channels, K = g.Kernel;
        for (int o = 0; o < outChannels; o++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++)
                    for (int c = 0; c < C; c++)
                    {
                        double s = 0;
                        for (int n = 0; n < images; n++)
                            for (int oy = 0; oy < g.OutHeight; oy++)
                                for (int ox = 0; ox < g.OutWidth; ox++)
                                {
                                    int iy = oy * g.Stride - g.Padding + ky, ix = ox * g.Stride - g.Padding + kx;
                                    if ((uint)iy >= (uint)g.Height || (uint)ix >= (uint)g.Width) continue;
                                    s += (double)dy[((n * g.OutHeight + oy) * g.OutWidth + ox) * outChannels + o] * x[n * g.InputSize + (iy * g.Width + ix) * C + c];
                                }
                        dw[((o * K + ky) * K + kx) * C + c] = (float)s;
                    }
    }

    /// <summary>Reference input gradient: dx[n, iy, ix, c] = Σ over the outputs that read it of dy·w, direct loops in double.</summary>
    public static void InputGradientReference(ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, int images, in ConvGeometry g, int outChannels, Span<float> dx)
    {
        int C = g.Channels, K = g.Kernel;
        var acc = new double[images * g.InputSize];
        for (int n = 0; n < images; n++)
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                    for (int o = 0; o < outChannels; o++)
                    {
                        double d = dy[((n * g.OutHeight + oy) * g.OutWidth + ox) * outChannels + o];
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++)
                            {
                                int iy = oy * g.Stride - g.Padding + ky, ix = ox * g.Stride - g.Padding + kx;
                                if ((uint)iy >= (uint)g.Height || (uint)ix >= (uint)g.Width) continue;
                                for (int c = 0; c < C; c++)
                                    acc[n * g.InputSize + (iy * g.Width + ix) * C + c] += d * weight[((o * K + ky) * K + kx) * C + c];
                            }
                    }
        for (int i = 0; i < acc.Length; i++) dx[i] = (float)acc[i];
    }

    /// <summary>Channel-major (CHW, CIFAR's file order) images to NHWC.</summary>
    public static void ChannelMajorToNhwc(ReadOnlySpan<float> x, int images, int channels, int height, int width, Span<float> y)
    {
        int plane = height * width, size = plane * channels;
        for (int n = 0; n < images; n++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++)
                    y[n * size + p * channels + c] = x[n * size + c * plane + p];
    }
}
