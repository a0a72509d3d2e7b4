using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace FFLib.Gpu;

/// <summary>
/// Compiles every kernel of the backend to PTX for a given GPU architecture without a GPU:
/// ILGPU's CPU accelerator runs kernels that the PTX backend cannot compile (exp and log, for
/// instance, need ILGPU.Algorithms there), so the tests compile them for Hopper too.
/// </summary>
internal static class PtxCheck
{
    /// <summary>The PTX of every kernel (name, assembly text); throws on the first kernel that does not compile.</summary>
    public static IReadOnlyList<(string Kernel, string Ptx)> CompileAll(CudaArchitecture architecture, CudaInstructionSet instructionSet)
    {
        using var context = Context.Create(b => b.Cuda().EnableAlgorithms());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
        var result = new List<(string, string)>();
        foreach (var method in typeof(GpuKernels).GetMethods(BindingFlags.Public | BindingFlags.Static))
        {
            var parameters = method.GetParameters();
            if (parameters.Length == 0) continue;
            // Kernels indexed by Index1D are implicitly grouped; the row reductions pick their own groups.
            var entry = parameters[0].ParameterType == typeof(Index1D)
                ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
                : EntryPointDescription.FromExplicitlyGroupedKernel(method);
            var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization(null, null));
            result.Add((method.Name, compiled.PTXAssembly));
        }
        return result;
    }
}
