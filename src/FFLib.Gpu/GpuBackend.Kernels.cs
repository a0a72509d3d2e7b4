using ILGPU;
using ILGPU.Runtime;

namespace FFLib.Gpu;

// The loaded kernels (their own file: the backend's operations stay readable).
public sealed partial class GpuBackend
{
    /// <summary>The loaded kernels (compiled once per accelerator).</summary>
    private sealed class Kernels(Accelerator a)
    {
        public readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<float>, int> RowReduce = a.LoadKernel<ArrayView<float>, int, ArrayView<float>, int>(GpuKernels.RowReduce);
        public readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, ArrayView<float>, int, ArrayView<float>> ControlRowNormsGrouped =
            a.LoadKernel<ArrayView<float>, int, int, ArrayView<float>, int, ArrayView<float>>(GpuKernels.ControlRowNormsGrouped);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, float, int, float, ArrayView<float>, ArrayView<float>> FFLossRows =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, float, int, float, ArrayView<float>, ArrayView<float>>(GpuKernels.FFLossRows);
        public readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<float>, int, float, int, float, ArrayView<float>, ArrayView<float>> GoodnessAndLossRows =
            a.LoadKernel<ArrayView<float>, int, ArrayView<float>, int, float, int, float, ArrayView<float>, ArrayView<float>>(GpuKernels.GoodnessAndLossRows);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> CrossEntropyRows =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GpuKernels.CrossEntropyRows);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>> GatherIndexed =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>>(GpuKernels.GatherIndexed);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>> MeanInOrder = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(GpuKernels.MeanInOrder);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>> ScaleBiasRelu = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>>(GpuKernels.ScaleBiasRelu);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, int> BiasActivation = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, int>(GpuKernels.BiasActivation);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, int, int> CopyColumns = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, int, int>(GpuKernels.CopyColumns);
        public readonly Action<AcceleratorStream, Index1D, float, ArrayView<float>, float, ArrayView<float>> AddScaled = a.LoadAutoGroupedKernel<Index1D, float, ArrayView<float>, float, ArrayView<float>>(GpuKernels.AddScaled);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> Copy = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>>(GpuKernels.Copy);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>> BroadcastRow = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(GpuKernels.BroadcastRow);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, int, int, int> GatherRows = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, int, int, int>(GpuKernels.GatherRows);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, float, ArrayView<float>> DampedRelu = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, float, ArrayView<float>>(GpuKernels.DampedRelu);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, int> DampedReluBackward = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, int>(GpuKernels.DampedReluBackward);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> ReluBackward = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>>(GpuKernels.ReluBackward);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>> Multiply = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>>(GpuKernels.Multiply);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> ClassGoodness =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GpuKernels.ClassGoodness);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> ClassGoodnessBackward =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GpuKernels.ClassGoodnessBackward);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>> ScaleRows = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(GpuKernels.ScaleRows);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, ArrayView<float>> ColumnSums = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>>(GpuKernels.ColumnSums);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, int, ArrayView<float>> TransposeColumns = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, int, ArrayView<float>>(GpuKernels.TransposeColumns);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, int, ArrayView<float>> ScatterColumns = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, int, ArrayView<float>>(GpuKernels.ScatterColumns);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, ArrayView<float>> SumBlocks = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>>(GpuKernels.SumBlocks);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, ArrayView<float>, int, ArrayView<float>> EmbedControl = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>, int, ArrayView<float>>(GpuKernels.EmbedControl);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, ArrayView<float>> ControlRowsForward =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, ArrayView<float>>(GpuKernels.ControlRowsForward);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, int, int, ArrayView<float>> ControlGradient = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, int, int, ArrayView<float>>(GpuKernels.ControlGradient);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamScalars> Adam3 =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamScalars>(GpuKernels.Adam3);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>> BatchNormStatistics =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>>(GpuKernels.BatchNormStatistics);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> BatchNormAffine =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GpuKernels.BatchNormAffine);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> BatchNormGradientSums =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GpuKernels.BatchNormGradientSums);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> BatchNormInputGradient =
            a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GpuKernels.BatchNormInputGradient);
        public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape> Gemm = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>(GpuKernels.Gemm);
    }
}
