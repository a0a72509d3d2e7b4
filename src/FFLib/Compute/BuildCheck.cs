using System.Diagnostics;
using System.Reflection;

namespace FFLib.Compute;

/// <summary>
/// Says once, on stderr, when this library runs unoptimised (a Debug build of a project that
/// references it): the kernels are written for the optimiser and run an order of magnitude slower
/// without it (README: 44.7 s against 3.9 s for the same epoch), which otherwise looks like a slow library.
/// </summary>
internal static class BuildCheck
{
    private static int s_warned;

    /// <summary>Whether the JIT optimiser is off for this assembly (it was compiled in Debug).</summary>
    public static bool Unoptimised { get; } =
        typeof(BuildCheck).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true;

    /// <summary>Prints the warning the first time it is called in an unoptimised build; nothing otherwise.</summary>
    public static void WarnIfUnoptimised()
    {
        if (!Unoptimised || Interlocked.Exchange(ref s_warned, 1) != 0) return;
        Console.Error.WriteLine("warning: FFLib is running unoptimised (a Debug build), about 10× slower than it should; build and run with -c Release (dotnet run -c Release).");
    }
}
