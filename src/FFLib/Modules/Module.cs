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

    /// <summary>
    /// This module's own training state that is no parameter (e.g. a regulariser's running means):
    /// kept on a device with the parameters, saved in training checkpoints, not in model files
    /// (prediction does not read it). The same objects on every call.
    /// </summary>
    protected internal virtual IEnumerable<LocalParameter> LocalBuffers() => [];

    /// <summary>Every buffer (see <see cref="LocalBuffers"/>) of this module and its sub-modules, with full dotted names.</summary>
    public IReadOnlyList<Parameter> Buffers()
    {
        BeforeParametersRead();
        var list = new List<Parameter>();
        Collect(this, "", "", list, buffers: true);
        return list;
    }

    /// <summary>Every parameter's and buffer's state, this module's and its sub-modules', without bringing anything back from a device first.</summary>
    internal IEnumerable<LocalParameter> ParameterStates() =>
        LocalParameters().Concat(LocalBuffers()).Concat(Children().SelectMany(c => c.Module.ParameterStates()));

    private static void Collect(Module module, string prefix, string label, List<Parameter> into, bool buffers = false)
    {
        foreach (var p in buffers ? module.LocalBuffers() : module.LocalParameters())
            into.Add(new Parameter(prefix + p.Name, label, p.Kind, p.Shape, p.Data, p.Trainable) { State = p });
        foreach (var c in module.Children())
            Collect(c.Module, prefix + c.Name + ".", c.Label, into, buffers);
    }
}
