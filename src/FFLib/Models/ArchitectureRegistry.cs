namespace FFLib.Models;

/// <summary>
/// The one list of known architectures: the four built-in ones, plus any a program registers.
/// Everything that turns an id into a model (checkpoint loading, the CLI's <c>--model</c>, sweeps)
/// asks here.
/// </summary>
public static class ArchitectureRegistry
{
    private static readonly object Gate = new();
    private static Architecture[] _all = [new FFNetworkArchitecture(), new FFClassifierArchitecture(), new FFRecurrentArchitecture(), new BackpropArchitecture(), new FFConvArchitecture(), new BackpropConvArchitecture()];

    /// <summary>Every registered architecture, built-in ones first.</summary>
    public static IReadOnlyList<Architecture> All => Volatile.Read(ref _all);

    /// <summary>The registered ids, comma-separated (for messages).</summary>
    public static string KnownIds => string.Join(", ", All.Select(a => a.Id));

    /// <summary>
    /// Adds an architecture. Its id and aliases must be new (case-insensitive); registering the same
    /// instance again does nothing.
    /// </summary>
    public static void Register(Architecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (string.IsNullOrWhiteSpace(architecture.Id) || architecture.Id != architecture.Id.Trim().ToLowerInvariant())
            throw new ArgumentException($"An architecture id must be non-empty lower-case text without surrounding spaces, not '{architecture.Id}'.", nameof(architecture));
        lock (Gate)
        {
            if (_all.Contains(architecture)) return;
            foreach (var name in (IEnumerable<string>)[architecture.Id, .. architecture.Aliases])
                if (Find(name) is { } taken)
                    throw new ArgumentException($"The architecture name '{name}' is already taken by {taken.DisplayName} ({taken.Id}).", nameof(architecture));
            // A key is one setting everywhere (options, grids, run ids): a second declaration under a known key would make them ambiguous.
            var settings = architecture.Settings ?? throw new ArgumentException($"{architecture.Id} declares no settings list (null).", nameof(architecture));
            foreach (var s in settings)
            {
                if (s is null) throw new ArgumentException($"{architecture.Id} declares a null setting.", nameof(architecture));
                if (s.Key is "layers" or "lr") throw new ArgumentException($"{architecture.Id} declares a setting '{s.Key}'; every architecture has widths (layers) and a learning rate (lr) already.", nameof(architecture));
                if (FindSetting(s.Key) is { } known && !ReferenceEquals(known, s))
                    throw new ArgumentException($"{architecture.Id} declares its own setting '{s.Key}', a key another architecture already declares ({string.Join(", ", UsersOf(known).Select(a => a.Id))}); reuse that declaration.", nameof(architecture));
            }
            if (settings.GroupBy(s => s.Key).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new ArgumentException($"{architecture.Id} declares the setting '{twice.Key}' twice.", nameof(architecture));
            Volatile.Write(ref _all, [.. _all, architecture]);
        }
    }

    /// <summary>Every setting a registered architecture declares, each once, in the order first declared.</summary>
    public static IReadOnlyList<ModelSetting> Settings => All.SelectMany(a => a.Settings).Distinct().ToArray();

    /// <summary>
    /// The setting with this key (or its command-line spelling, "k-train" for "k_train", or a name
    /// older files used), case-insensitive, or null.
    /// </summary>
    public static ModelSetting? FindSetting(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim();
        return Settings.FirstOrDefault(s => string.Equals(s.Key, key, StringComparison.OrdinalIgnoreCase)
            || string.Equals(s.OptionName, key, StringComparison.OrdinalIgnoreCase)
            || s.FormerNames.Any(f => string.Equals(f, key, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>The registered architectures that declare <paramref name="setting"/>.</summary>
    public static IReadOnlyList<Architecture> UsersOf(ModelSetting setting) => All.Where(a => a.Uses(setting)).ToArray();

    /// <summary>The architecture with this id or alias (case-insensitive), or null.</summary>
    public static Architecture? Find(string idOrAlias)
    {
        ArgumentNullException.ThrowIfNull(idOrAlias);
        var key = idOrAlias.Trim();
        return All.FirstOrDefault(a => string.Equals(a.Id, key, StringComparison.OrdinalIgnoreCase)
            || a.Aliases.Any(x => string.Equals(x, key, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>The architecture with this id or alias; throws naming the known ids if there is none.</summary>
    public static Architecture Get(string idOrAlias) =>
        Find(idOrAlias) ?? throw new ArgumentException($"Unknown model '{idOrAlias}'. Known: {KnownIds}.");
}
