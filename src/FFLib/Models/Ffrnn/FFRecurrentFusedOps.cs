using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// The FFRNN's fused operations, an optional capability of a backend: a backend that implements
/// this interface runs each in one kernel (the GPU); the CPU's versions are here; any other
/// backend gets <see cref="FFRecurrentFusedOps.For"/>'s fallback built from the public primitives.
/// </summary>
internal interface IFFRecurrentFusedOps
{
    /// <summary>The damped update: pre += b (in place), result = β·ReLU(pre) + (1 − β)·old.</summary>
    void DampedRelu(DeviceSpan pre, int rows, int cols, DeviceSpan bias, DeviceSpan old, float beta, DeviceSpan result);

    /// <summary>The pre-activation gradient, in place: pre_rj = pre_rj &gt; 0 ? (coef_r·β)·new_rj : 0.</summary>
    void DampedReluBackward(DeviceSpan pre, DeviceSpan fresh, DeviceSpan coefficient, float beta, int rows, int cols);
}

/// <summary>Finds the FFRNN's fused operations for a backend.</summary>
internal static class FFRecurrentFusedOps
{
    /// <summary>The backend's own (a GPU), the CPU's, or the fallback from primitives.</summary>
    public static IFFRecurrentFusedOps For(ComputeBackend be) =>
        be as IFFRecurrentFusedOps ?? (be == ComputeBackend.Cpu ? Cpu.Instance : new FromPrimitives(be));

    /// <summary>The CPU's SIMD versions (the reference the others are compared with).</summary>
    internal sealed class Cpu : IFFRecurrentFusedOps
    {
        public static readonly Cpu Instance = new();

        public void DampedRelu(DeviceSpan pre, int rows, int cols, DeviceSpan bias, DeviceSpan old, float beta, DeviceSpan result)
        {
            var p = CpuBackend.Host(pre);
            var b = CpuBackend.Host(bias);
            var o = CpuBackend.Host(old);
            var res = CpuBackend.Host(result);
            for (int r = 0; r < rows; r++)
            {
                var pr = p.Slice(r * cols, cols);
                TensorPrimitives.Add(pr, b, pr);
                var rr = res.Slice(r * cols, cols);
                TensorPrimitives.Max(pr, 0f, rr);
                TensorPrimitives.Multiply(rr, beta, rr);
                TensorPrimitives.MultiplyAdd(o.Slice(r * cols, cols), 1f - beta, rr, rr);
            }
        }

        public void DampedReluBackward(DeviceSpan pre, DeviceSpan fresh, DeviceSpan coefficient, float beta, int rows, int cols)
        {
            var p = CpuBackend.Host(pre);
            var n = CpuBackend.Host(fresh);
            var coef = CpuBackend.Host(coefficient);
            for (int r = 0; r < rows; r++)
            {
                float c = coef[r] * beta;
                var pr = p.Slice(r * cols, cols);
                var nr = n.Slice(r * cols, cols);
                // SIMD select of the same products: bit-identical to the scalar loop below.
                int j = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    var cv = new Vector<float>(c);
                    var pv = MemoryMarshal.Cast<float, Vector<float>>(pr);
                    var nv = MemoryMarshal.Cast<float, Vector<float>>(nr);
                    for (int v = 0; v < pv.Length; v++) pv[v] = Vector.ConditionalSelect(Vector.GreaterThan(pv[v], Vector<float>.Zero), cv * nv[v], Vector<float>.Zero);
                    j = pv.Length * Vector<float>.Count;
                }
                for (; j < cols; j++) pr[j] = pr[j] > 0f ? c * nr[j] : 0f;
            }
        }
    }

    /// <summary>
    /// The same maths from the public primitives, for a backend without its own: a few more passes
    /// over memory and a temporary array, the same products and sums (the tests compare it with the CPU's).
    /// </summary>
    internal sealed class FromPrimitives(ComputeBackend be) : IFFRecurrentFusedOps
    {
        public void DampedRelu(DeviceSpan pre, int rows, int cols, DeviceSpan bias, DeviceSpan old, float beta, DeviceSpan result)
        {
            int count = rows * cols;
            be.BiasActivation(pre, rows, cols, bias, relu: false);
            var res = result.Slice(0, count);
            be.Copy(pre.Slice(0, count), res);
            be.ReluBackward(res, res); // ReLU in place
            be.AddScaled(1f - beta, old.Slice(0, count), beta, res);
        }

        public void DampedReluBackward(DeviceSpan pre, DeviceSpan fresh, DeviceSpan coefficient, float beta, int rows, int cols)
        {
            int count = rows * cols;
            var scale = be.Allocate(Math.Max(1, rows));
            var delta = be.Allocate(Math.Max(1, count));
            try
            {
                be.AddScaled(beta, coefficient.Slice(0, rows), 0f, scale.Slice(0, rows)); // coef_r·β
                be.Copy(fresh.Slice(0, count), delta.Slice(0, count));
                be.ScaleRows(delta.All, rows, cols, scale.All);
                be.ReluBackward(delta.Slice(0, count), pre.Slice(0, count)); // zero where pre ≤ 0
                be.Copy(delta.Slice(0, count), pre.Slice(0, count));
            }
            finally
            {
                scale.Release();
                delta.Release();
            }
        }
    }
}
