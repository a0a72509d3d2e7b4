using System.CommandLine;
using FFLib.Models;

namespace FFLib.Cli;

/// <summary>
/// The command line's options for every setting a registered architecture declares, derived from
/// the declarations (<see cref="Architecture.Settings"/>): <c>--</c> + the key with '-' for '_', its
/// help, default and the architectures that have it. A new hyperparameter gets its option here
/// without any change to the commands.
/// </summary>
internal sealed class SettingOptions
{
    private readonly (ModelSetting Setting, Option<string?> Option)[] _options =
        ArchitectureRegistry.Settings.Select(s => (s, new Option<string?>("--" + s.OptionName)
        {
            Description = $"{s.Help} Default {s.Format(s.DefaultValue)}; {Users(s)}.",
        })).ToArray();

    /// <summary>The options, to add to a command.</summary>
    public IEnumerable<Option> Options => _options.Select(o => o.Option);

    /// <summary>
    /// <paramref name="settings"/> with every setting option the user gave, parsed; refuses an option
    /// of a setting <paramref name="architecture"/> does not declare, naming the ones that do.
    /// </summary>
    public ModelSettings Apply(ParseResult parse, Architecture architecture, ModelSettings settings)
    {
        foreach (var (setting, option) in _options)
        {
            if (parse.GetValue(option) is not string text) continue;
            if (!architecture.Uses(setting))
                throw new UsageException($"--{setting.OptionName} is a setting of {string.Join(", ", ArchitectureRegistry.UsersOf(setting).Select(a => a.Id))}; {architecture.Id} has no such setting (its settings: {Describe(architecture)}).");
            try { settings = settings.With(setting, setting.Parse(text)); }
            catch (FormatException e) { throw new UsageException($"--{setting.OptionName}: {e.Message}."); }
        }
        return settings;
    }

    /// <summary>The option the user typed for a setting key, as a validation exception names it ("k_test_high" → "--k-test-high").</summary>
    public static string OptionFor(string? key) => key is null ? "an option" : "--" + key.Replace('_', '-');

    /// <summary>Checks <paramref name="settings"/> for <paramref name="architecture"/>, naming the option at fault.</summary>
    public static void Validate(Architecture architecture, ModelSettings settings)
    {
        try { architecture.ValidateSettings(settings); }
        catch (ArgumentOutOfRangeException e) { throw new UsageException($"{OptionFor(e.ParamName)} {e.ActualValue}: {Cli.Clean(e.Message)}"); }
    }

    private static string Describe(Architecture a) =>
        a.Settings.Count == 0 ? "--layers and --lr only" : string.Join(", ", a.Settings.Select(s => "--" + s.OptionName));

    private static string Users(ModelSetting s) => ArchitectureRegistry.UsersOf(s) is { Count: > 0 } users
        ? (users.Count == ArchitectureRegistry.All.Count ? "every model" : string.Join(", ", users.Select(a => a.Id)) + " only")
        : "no model";
}
