namespace FFLib.Models;

/// <summary>
/// The one list of known architectures: the four built-in ones, plus any a program registers.
/// Everything that turns an id into a model (checkpoint loading, the CLI's <c>--model</c>, sweeps)
/// asks here.
/// </summary>
public static class ArchitectureRegistry
{
    private static readonly object Gate = new();
    private static Architecture[] _all = [new FFNetworkArchitecture(), new FFClassifierArchitecture(), new FFRecurrentArchitecture(), new BackpropArchitecture()];

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
            Volatile.Write(ref _all, [.. _all, architecture]);
        }
    }

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
