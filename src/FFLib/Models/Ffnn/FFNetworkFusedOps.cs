using System.Numerics.Tensors;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// The FFNN's fused operations, an optional capability of a backend: the layer-1 shortcut
/// (<see cref="FirstLayerShortcut"/>) and the embedding of the control vector. A backend that
/// implements this interface runs them in its own kernels (the GPU); the CPU's are here. Without
/// them the FFNN takes its plain path: the control vector is embedded by
/// <see cref="FFNetworkFusedOps.EmbedControl"/> from the public primitives and layer 1 is an
/// ordinary FF layer (the same maths; float rounding differs).
/// </summary>
internal interface IFFNetworkFusedOps
{
    /// <summary>Row r of dst = image_(r mod n) ⊕ control_r (px + k values): an FF layer's input.</summary>
    void EmbedControl(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows, DeviceSpan dst);

    /// <summary>dst (count × rows) = columns [first, first + count) of the rows × ld matrix w, transposed.</summary>
    void TransposeColumns(DeviceSpan w, int rows, int ld, int first, int count, DeviceSpan dst);

    /// <summary>The inverse of <see cref="TransposeColumns"/>: columns [first, first + count) of w set from src (count × rows).</summary>
    void ScatterColumns(DeviceSpan src, int rows, int ld, int first, int count, DeviceSpan w);

    /// <summary>dst = Σ_b src[b·blockLength .. (b+1)·blockLength), blocks summed in order.</summary>
    void SumBlocks(DeviceSpan src, int blockLength, int blocks, DeviceSpan dst);

    /// <summary>
    /// Layer 1 through the image/control split: for rows r whose image is r mod n,
    /// h_r = ReLU((p_(r mod n) + Σ_c control_rc·controlWeights_c)·invNorm_r + b); with
    /// <paramref name="computeNorms"/>, invNorm_r = 1/(√(‖image‖² + ‖control_r‖²) + 1e-4) first.
    /// </summary>
    void ControlRowsForward(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows,
        DeviceSpan p, DeviceSpan controlWeights, DeviceSpan bias, int width, DeviceSpan h, DeviceSpan invNorm, bool computeNorms);

    /// <summary>dst (k × width): row c = Σ_r control_rc·δ_r, rows in order, zero control entries skipped.</summary>
    void ControlGradient(DeviceSpan control, int k, DeviceSpan delta, int rows, int width, DeviceSpan dst);
}

/// <summary>Finds the FFNN's fused operations for a backend.</summary>
internal static class FFNetworkFusedOps
{
    /// <summary>The backend's own (a GPU), the CPU's, or null: the FFNN then takes its plain path.</summary>
    public static IFFNetworkFusedOps? For(ComputeBackend be) => be as IFFNetworkFusedOps ?? (be == ComputeBackend.Cpu ? Cpu.Instance : null);

    /// <summary>
    /// Row r of dst = image_(r mod n) ⊕ control_r: the backend's fused version, or the same copies
    /// from primitives (a gather into a temporary array, then two column blocks).
    /// </summary>
    public static void EmbedControl(ComputeBackend be, DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows, DeviceSpan dst)
    {
        if (For(be) is { } fused)
        {
            fused.EmbedControl(images, n, px, control, k, rows, dst);
            return;
        }
        var gathered = be.Allocate(Math.Max(1, rows * px));
        try
        {
            be.GatherRows(images, px, gathered.All, rows, 1, 1, n);
            be.CopyColumns(gathered.All, rows, px, dst, px + k, 0);
            be.CopyColumns(control, rows, k, dst, px + k, px);
        }
        finally { gathered.Release(); }
    }

    /// <summary>The CPU's versions (host memory, SIMD; rows split over <see cref="ComputeSettings.Threads"/>).</summary>
    internal sealed class Cpu : IFFNetworkFusedOps
    {
        public static readonly Cpu Instance = new();

        public void EmbedControl(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows, DeviceSpan dst)
        {
            var img = CpuBackend.Host(images);
            var ctrl = CpuBackend.Host(control);
            var d = CpuBackend.Host(dst);
            int inF = px + k;
            for (int r = 0; r < rows; r++)
            {
                img.Slice(r % n * px, px).CopyTo(d.Slice(r * inF, px));
                ctrl.Slice(r * k, k).CopyTo(d.Slice(r * inF + px, k));
            }
        }

        public void TransposeColumns(DeviceSpan w, int rows, int ld, int first, int count, DeviceSpan dst)
        {
            var src = CpuBackend.Host(w);
            var d = CpuBackend.Host(dst);
            for (int j = 0; j < rows; j++)
                for (int c = 0; c < count; c++) d[c * rows + j] = src[j * ld + first + c];
        }

        public void ScatterColumns(DeviceSpan src, int rows, int ld, int first, int count, DeviceSpan w)
        {
            var s = CpuBackend.Host(src);
            var d = CpuBackend.Host(w);
            for (int j = 0; j < rows; j++)
                for (int c = 0; c < count; c++) d[j * ld + first + c] = s[c * rows + j];
        }

        public void SumBlocks(DeviceSpan src, int blockLength, int blocks, DeviceSpan dst)
        {
            var s = CpuBackend.Host(src);
            var d = CpuBackend.Host(dst).Slice(0, blockLength);
            s.Slice(0, blockLength).CopyTo(d);
            for (int b = 1; b < blocks; b++) TensorPrimitives.Add(d, s.Slice(b * blockLength, blockLength), d);
        }

        public unsafe void ControlRowsForward(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows,
            DeviceSpan p, DeviceSpan controlWeights, DeviceSpan bias, int width, DeviceSpan h, DeviceSpan invNorm, bool computeNorms)
        {
            // Row by row while the row is in L1; rows are independent, so they are split over the
            // threads (same bits for any split).
            fixed (float* pi = CpuBackend.Host(images)) fixed (float* pc = CpuBackend.Host(control)) fixed (float* ph = CpuBackend.Host(h)) fixed (float* pn = CpuBackend.Host(invNorm))
            fixed (float* pp = CpuBackend.Host(p)) fixed (float* pw = CpuBackend.Host(controlWeights)) fixed (float* pb = CpuBackend.Host(bias))
            {
                var job = new ControlRowsJob(pi, pc, ph, pn, pp, pw, pb, n, width, px, k, computeNorms);
                int blocks = (rows + 15) / 16;
                if (ComputeSettings.Threads > 1 && blocks > 1)
                    Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = ComputeSettings.Threads }, i => job.Run(i * 16, Math.Min(rows, i * 16 + 16)));
                else job.Run(0, rows);
            }
        }

        public void ControlGradient(DeviceSpan control, int k, DeviceSpan delta, int rows, int width, DeviceSpan dst)
        {
            var ctrl = CpuBackend.Host(control);
            var dl = CpuBackend.Host(delta);
            var gc = CpuBackend.Host(dst).Slice(0, k * width);
            gc.Clear();
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < k; c++)
                {
                    float v = ctrl[r * k + c];
                    if (v != 0f) TensorPrimitives.MultiplyAdd(dl.Slice(r * width, width), v, gc.Slice(c * width, width), gc.Slice(c * width, width));
                }
        }

        /// <summary>The per-row part of ControlRowsForward over a range of rows (pointers pinned by the caller).</summary>
        private sealed unsafe class ControlRowsJob(float* images, float* control, float* h, float* invNorm, float* p,
            float* controlWeights, float* bias, int n, int outF, int px, int k, bool computeNorms)
        {
            public void Run(int from, int to)
            {
                var b = new ReadOnlySpan<float>(bias, outF);
                for (int r = from; r < to; r++)
                {
                    int img = r % n;
                    var hr = new Span<float>(h + (long)r * outF, outF);
                    new ReadOnlySpan<float>(p + (long)img * outF, outF).CopyTo(hr);
                    float ctrlSq = 0;
                    for (int c = 0; c < k; c++)
                    {
                        float v = control[(long)r * k + c];
                        if (v == 0f) continue;
                        ctrlSq += v * v;
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(controlWeights + (long)c * outF, outF), v, hr, hr);
                    }
                    if (computeNorms)
                        invNorm[r] = 1f / (MathF.Sqrt(TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(images + (long)img * px, px)) + ctrlSq) + Kernels.NormEpsilon);
                    TensorPrimitives.MultiplyAdd(hr, invNorm[r], b, hr);
                    TensorPrimitives.Max(hr, 0f, hr);
                }
            }
        }
    }
}
