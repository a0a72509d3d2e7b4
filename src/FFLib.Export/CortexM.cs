using System.Diagnostics;
using System.Globalization;

namespace FFLib.Export;

/// <summary>Flash and RAM of exported C when built for an ARM Cortex-M4F with Debian's gcc-arm-none-eabi.</summary>
/// <param name="Text">Code (.text), bytes.</param>
/// <param name="ReadOnlyData">Constants (.rodata): the weights, bytes.</param>
/// <param name="Data">Initialised data (.data), bytes.</param>
/// <param name="Bss">Zeroed data (.bss): the scratch buffer, bytes.</param>
public sealed record McuFootprint(long Text, long ReadOnlyData, long Data, long Bss)
{
    /// <summary>Flash: code, constants and the initial values of .data.</summary>
    public long Flash => Text + ReadOnlyData + Data;

    /// <summary>Static RAM: .data and .bss (the stack comes on top: fflib_predict uses a few dozen bytes of it).</summary>
    public long Ram => Data + Bss;
}

/// <summary>Builds exported C for a Cortex-M4F (arm-none-eabi-gcc -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -Os) and measures it.</summary>
public static class CortexM
{
    /// <summary>The compiler's name, looked up on PATH.</summary>
    public const string Compiler = "arm-none-eabi-gcc";

    /// <summary>Whether the cross-compiler is installed.</summary>
    public static bool IsAvailable =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => d.Length > 0 && File.Exists(Path.Combine(d, Compiler)));

    /// <summary>The footprint of <paramref name="model"/>'s C export with <paramref name="options"/> (written to a temporary folder, then removed).</summary>
    public static McuFootprint Measure(Models.IClassifierModel model, ExportOptions options)
    {
        string dir = Directory.CreateTempSubdirectory("fflib-cortex-m-").FullName;
        try
        {
            CExporter.Save(model, dir, options);
            return Measure(dir);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Compiles <paramref name="folder"/>/model.c to an object file and sums its sections.</summary>
    public static McuFootprint Measure(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!IsAvailable) throw new InvalidOperationException($"{Compiler} is not installed (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi).");
        string source = Path.Combine(folder, "model.c"), obj = Path.Combine(folder, "model.cortex-m4.o");
        Run(Compiler, $"-std=c99 -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -Os -ffunction-sections -fdata-sections -c \"{source}\" -o \"{obj}\"");
        long text = 0, rodata = 0, data = 0, bss = 0;
        foreach (var line in Run("arm-none-eabi-size", $"-A \"{obj}\"").Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long size)) continue;
            if (parts[0].StartsWith(".text", StringComparison.Ordinal)) text += size;
            else if (parts[0].StartsWith(".rodata", StringComparison.Ordinal)) rodata += size;
            else if (parts[0].StartsWith(".data", StringComparison.Ordinal)) data += size;
            else if (parts[0].StartsWith(".bss", StringComparison.Ordinal)) bss += size;
        }
        return new McuFootprint(text, rodata, data, bss);
    }

    private static string Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed (exit {p.ExitCode}): {err.Result.Trim()}");
        return output;
    }
}
