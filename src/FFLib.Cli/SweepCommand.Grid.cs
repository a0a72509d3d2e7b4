using System.Globalization;
using FFLib.Experiments;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary>The sweep commands' option parsing: grids, lists, shards, threads.</summary>
internal static partial class SweepCommand
{
    private static void SetThreads(int n)
    {
        if (n < 1) throw new UsageException($"--threads must be at least 1, not {n}.");
        Compute.ComputeSettings.Threads = n;
    }

    /// <summary>A comma-separated list, every entry non-empty.</summary>
    private static string[] StrictList(string s, string option)
    {
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        if (parts.All(p => p.Length == 0)) throw new UsageException($"{option} lists no values.");
        if (parts.Any(p => p.Length == 0)) throw new UsageException($"{option} '{s}' has an empty entry.");
        return parts;
    }

    private static LearningRateSchedule ParseSchedule(string s)
    {
        try { return LearningRateSchedules.Parse(s); }
        catch (FormatException e) { throw new UsageException($"--lr-schedule: {e.Message}"); }
    }

    private static Architecture ParseModel(string s)
    {
        try { return ModelCheckpoint.ParseArchitecture(s); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    /// <summary>
    /// Every --grid, parsed strictly: known names, each once, every value well-formed. Besides lr and
    /// layers, any setting a registered architecture declares can be varied, under its key or its
    /// option's spelling (k_train or k-train; theta for threshold).
    /// </summary>
    internal static SweepSpec ApplyGrids(SweepSpec spec, IEnumerable<string> grids)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var grid = new Dictionary<ModelSetting, IReadOnlyList<object>>(spec.Grid);
        foreach (var g in grids)
        {
            int eq = g.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--grid '{g}' must look like name=v1,v2.");
            string name = g[..eq].Trim().ToLowerInvariant(), values = g[(eq + 1)..];
            if (name == "theta") name = "threshold";
            var setting = name is "lr" or "layers" ? null : ArchitectureRegistry.FindSetting(name);
            if (setting is not null) name = setting.OptionName;
            if (!seen.Add(name)) throw new UsageException($"--grid {name} is given twice; list all its values in one --grid {name}=….");
            string option = $"--grid {name}";
            if (name == "lr")
            {
                spec = spec with
                {
                    LearningRates = StrictList(values, option).Select(v => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 && float.IsFinite(f)
                        ? f : throw new UsageException($"{option}: '{v}' is not a positive finite number.")).ToArray(),
                };
            }
            else if (name == "layers") spec = spec with { Layers = StrictLayers(values) };
            else if (setting is null)
                throw new UsageException($"--grid: unknown parameter '{name}' (lr, layers, {string.Join(", ", ArchitectureRegistry.Settings.Select(s => s.OptionName))}).");
            else
            {
                grid[setting] = StrictList(values, option).Select(v =>
                {
                    object value;
                    try { value = setting.Parse(v); }
                    catch (FormatException e) { throw new UsageException($"{option}: {e.Message}."); }
                    return setting.Problem(value) is { } why ? throw new UsageException($"{option}: '{v}': {why}.") : value;
                }).ToArray();
            }
        }
        return spec with { Grid = grid };
    }

    /// <summary>layers=2000x2000;500: ';' between configurations, 'x' between the widths of one.</summary>
    private static int[][] StrictLayers(string values)
    {
        var configs = values.Split(';', StringSplitOptions.TrimEntries);
        if (configs.All(c => c.Length == 0)) throw new UsageException("--grid layers lists no values.");
        return configs.Select(c =>
        {
            var widths = c.Split('x');
            if (c.Length == 0 || widths.Any(w => w.Length == 0 || !w.All(char.IsAsciiDigit)))
                throw new UsageException($"--grid layers: '{c}' is not a list of widths like 2000x2000.");
            return widths.Select(w => int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1
                ? n : throw new UsageException($"--grid layers: '{w}' in '{c}' is not a width from 1 to {int.MaxValue}.")).ToArray();
        }).ToArray();
    }

    /// <summary>A validation message with the command-line names of the grid's parameters.</summary>
    private static string OptionNamed(string message) => message
        .Replace("The grid lists model", "--model lists").Replace("The grid lists dataset", "--dataset lists")
        .Replace("The grid lists ", "--grid lists ").Replace("The grid varies ", "--grid varies ").Replace("The grid's ", "--grid ").Replace("Seeds must", "--seeds must").Replace("Epochs must", "--epochs must")
        .Replace("The batch size must", "--batch-size must").Replace("The training limit must", "--train-limit must")
        .Replace("The test limit must", "--test-limit must").Replace("Sparsity tracking needs", "--track-sparsity needs");

    private static (int Index, int Count) ParseShard(string? shard, int? shards)
    {
        if (shard is not null)
        {
            if (shards is not null) throw new UsageException("Give either --shard i/N or --shards N, not both.");
            var parts = shard.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || i >= n)
                throw new UsageException($"--shard must be i/N with 0 ≤ i < N, not '{shard}'.");
            return (i, n);
        }
        if (shards is null) return (0, 1);
        if (shards < 1) throw new UsageException($"--shards must be at least 1, not {shards}.");
        foreach (var name in new[] { "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX" })
        {
            string? v = Environment.GetEnvironmentVariable(name);
            if (v is null) continue;
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int env))
                throw new UsageException($"--shards {shards}: {name}='{v}' is not a shard index.");
            if (env >= shards)
                throw new UsageException($"--shards {shards}: {name}={env} is not below {shards}; fixed shards need an array numbered 0..{shards - 1}. Leave out --shards and workers divide the runs between themselves, with any array numbering.");
            return (env, shards.Value);
        }
        throw new UsageException($"--shards {shards} needs a shard index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, and neither is set; use --shard i/N, or leave both out.");
    }
}
