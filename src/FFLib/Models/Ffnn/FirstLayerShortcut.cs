using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// The FFNN's layer 1 through the split of its input into image and control vector
/// (docs/performance.md, "layer-1 identities"): x·Wᵀ = image·W_imgᵀ + control·W_ctrlᵀ and
/// ‖x‖² = ‖image‖² + ‖control‖². Many rows share an image (a batch's positive and negative rows,
/// a test image's ten labels), so the image product is computed once per image. Exact maths;
/// float rounding differs from the plain path.
/// </summary>
internal sealed class FirstLayerShortcut(FFNetwork network, IFFNetworkFusedOps ops)
{
    /// <summary>
    /// Layer-1 activations of rows r = 0..rows−1, row r being image (r mod n) ⊕ control_r:
    /// h = ReLU((P_(r mod n) + control_r·W_ctrlᵀ)·invNorm_r + b) with P = images·W_imgᵀ.
    /// <paramref name="prepared"/>: W_img prepared by the backend for several calls.
    /// </summary>
    public void Forward(FFNetworkWorkspace w, DeviceSpan images, int n, int rows, bool computeNorms, object? prepared)
    {
        var be = network.Backend;
        var layer = network.Layers[0];
        int px = network.Config.ImageFeatures, k = network.Config.Classes, inF = layer.InFeatures, outF = layer.OutFeatures;
        var (weight, bias) = network.LayerOnDevice(0);
        var p = w.P.Slice(0, n * outF);
        be.Gemm(n, outF, px, images, px, prepared, transB: true, weight, inF, p, outF, accumulate: false);
        // W_ctrlᵀ (row c = column px + c of W) is laid out contiguously in ControlWeights on the CPU for the per-row sums.
        var h = w.Buffers(0, rows, inF, outF).H;
        ops.TransposeColumns(weight, outF, inF, px, k, w.ControlWeights);
        ops.ControlRowsForward(images, n, px, w.Control, k, rows, p, w.ControlWeights, bias, outF, h, w.InvNorm, computeNorms);
    }

    /// <summary>
    /// Layer-1 weight gradient from row gradients δ̃ in the output buffer (already divided by the
    /// row norms): dW_img = (Σ over the rows sharing an image of δ̃)ᵀ·images, dW_ctrl[:, c] = Σ_r control_r[c]·δ̃_r.
    /// </summary>
    public void WeightGradient(FFNetworkWorkspace w, DeviceSpan images, int n, int rows)
    {
        var be = network.Backend;
        var layer = network.Layers[0];
        int px = network.Config.ImageFeatures, k = network.Config.Classes, inF = layer.InFeatures, outF = layer.OutFeatures;
        var delta = w.Buffers(0, rows, inF, outF).H;
        var gradW = network.GradientsOnDevice(0).Weight;
        // The sum over rows sharing an image reuses the image-product buffer (free during the step).
        var sum = w.P.Slice(0, n * outF);
        ops.SumBlocks(delta, n * outF, rows / n, sum);
        be.Gemm(true, false, outF, px, n, sum, outF, images, px, gradW, inF, accumulate: false);
        // dW_ctrl into the scratch (k × width), then into W's control columns.
        ops.ControlGradient(w.Control, k, delta, rows, outF, w.ControlWeights);
        ops.ScatterColumns(w.ControlWeights, outF, inF, px, k, gradW);
    }
}
