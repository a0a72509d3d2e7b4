namespace FFLib.Modules;

/// <summary>
/// Base of layers and models: a module declares its own parameters and its sub-modules, and
/// <see cref="Parameters"/> lists all of them recursively with dotted names (as PyTorch's
/// named_parameters does). The order is stable: own parameters first, then children in order.
/// </summary>
public abstract class Module
{
    /// <summary>
    /// This module's own parameters (not its children's), named relative to it: the same objects
    /// on every call (each holds its tensor's state: gradient, moments, device copies).
    /// </summary>
    protected internal virtual IEnumerable<LocalParameter> LocalParameters() => [];

    /// <summary>Called before <see cref="Parameters"/> hands out the host arrays (a model on a device brings them up to date).</summary>
    protected virtual void BeforeParametersRead() { }

    /// <summary>Sub-modules, in order.</summary>
    protected internal virtual IEnumerable<ChildModule> Children() => [];

    /// <summary>Every parameter of this module and its sub-modules, with full dotted names.</summary>
    public IReadOnlyList<Parameter> Parameters()
    {
        BeforeParametersRead();
        var list = new List<Parameter>();
        Collect(this, "", "", list);
        return list;
    }

    /// <summary>The parameter with this full name; throws naming the known ones if there is none.</summary>
    public Parameter GetParameter(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var all = Parameters();
        return all.FirstOrDefault(p => p.Name == name)
            ?? throw new KeyNotFoundException($"No parameter '{name}'. This model has: {string.Join(", ", all.Select(p => p.Name))}.");
    }

    /// <summary>Every parameter's state, this module's and its sub-modules', in <see cref="Parameters"/>' order, without bringing anything back from a device first.</summary>
    internal IEnumerable<LocalParameter> ParameterStates() =>
        LocalParameters().Concat(Children().SelectMany(c => c.Module.ParameterStates()));

    private static void Collect(Module module, string prefix, string label, List<Parameter> into)
    {
        foreach (var p in module.LocalParameters())
            into.Add(new Parameter(prefix + p.Name, label, p.Kind, p.Shape, p.Data, p.Trainable) { State = p });
        foreach (var c in module.Children())
            Collect(c.Module, prefix + c.Name + ".", c.Label, into);
    }
}
