using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// The FF CNN's label channels without materialising them. A layer reading K constant one-hot
/// planes after its own C channels computes conv(x ⊕ planes, W) = conv(x, W_own) + Σ_c v_c·T_c,
/// where v is the row's control vector and T_c[position, out] sums W's label-c weights over the taps
/// that fall inside the image at that position (zero padding drops the others). Its weight gradient
/// for label c and tap (ky, kx) is the sum, over the positions where that tap is inside the image,
/// of D_c = Σ_rows v_c·δ. The same sums in another order: <c>ConvModelTests</c> compares this path
/// with the materialised planes (relative 1e-4). It removes the planes from im2col: the first layer
/// of a grey image reads 25 values per patch instead of 275.
/// </summary>
internal static class LabelPlaneShortcut
{
    /// <summary>W [out, K, K, own + classes] → W_own [out, K·K·own] and the tap sums T [classes, positions, out] for geometry g (own channels).</summary>
    public static void Split(ReadOnlySpan<float> weight, in ConvGeometry g, int outChannels, int classes, Span<float> ownWeight, Span<float> tapSums)
    {
        int k = g.Kernel, own = g.Channels, wide = own + classes, taps = k * k, positions = g.Positions;
        for (int o = 0; o < outChannels; o++)
            for (int t = 0; t < taps; t++)
                weight.Slice((o * taps + t) * wide, own).CopyTo(ownWeight.Slice((o * taps + t) * own, own));
        tapSums.Slice(0, classes * positions * outChannels).Clear();
        for (int oy = 0; oy < g.OutHeight; oy++)
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int pos = oy * g.OutWidth + ox;
                for (int ky = 0; ky < k; ky++)
                {
                    int iy = oy * g.Stride - g.Padding + ky;
                    if ((uint)iy >= (uint)g.Height) continue;
                    for (int kx = 0; kx < k; kx++)
                    {
                        int ix = ox * g.Stride - g.Padding + kx;
                        if ((uint)ix >= (uint)g.Width) continue;
                        int t = ky * k + kx;
                        for (int o = 0; o < outChannels; o++)
                        {
                            var w = weight.Slice((o * taps + t) * wide + own, classes);
                            for (int c = 0; c < classes; c++) tapSums[(c * positions + pos) * outChannels + o] += w[c];
                        }
                    }
                }
            }
    }

    /// <summary>dW [out, K, K, own + classes] from dW_own [out, K·K·own] and D [classes, positions, out] (D_c = Σ_rows v_c·δ).</summary>
    public static void MergeGradient(ReadOnlySpan<float> ownGradient, ReadOnlySpan<float> labelDeltas, in ConvGeometry g, int outChannels, int classes, Span<float> gradient)
    {
        int k = g.Kernel, own = g.Channels, wide = own + classes, taps = k * k, positions = g.Positions;
        var sums = new double[classes];
        for (int o = 0; o < outChannels; o++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                {
                    int t = ky * k + kx;
                    ownGradient.Slice((o * taps + t) * own, own).CopyTo(gradient.Slice((o * taps + t) * wide, own));
                    Array.Clear(sums);
                    for (int oy = 0; oy < g.OutHeight; oy++)
                    {
                        int iy = oy * g.Stride - g.Padding + ky;
                        if ((uint)iy >= (uint)g.Height) continue;
                        for (int ox = 0; ox < g.OutWidth; ox++)
                        {
                            int ix = ox * g.Stride - g.Padding + kx;
                            if ((uint)ix >= (uint)g.Width) continue;
                            int pos = oy * g.OutWidth + ox;
                            for (int c = 0; c < classes; c++) sums[c] += labelDeltas[(c * positions + pos) * outChannels + o];
                        }
                    }
                    for (int c = 0; c < classes; c++) gradient[(o * taps + t) * wide + own + c] = (float)sums[c];
                }
    }
}
