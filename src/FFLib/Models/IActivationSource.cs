using FFLib.Compute;

namespace FFLib.Models;

/// <summary>A model whose hidden layers' activations can be read for given inputs (activation and HSV maps).</summary>
public interface IActivationSource
{
    /// <summary>
    /// Each hidden layer's activations (rows = images). <paramref name="label"/> is the control
    /// vector's label for FF models (null: all zeros); the BPNN ignores it. FFRNN: the states
    /// after K_testhigh frames.
    /// </summary>
    Matrix[] LayerActivations(Matrix images, int? label);

    /// <summary>Whether the activations depend on the label (FF models); false for models that ignore it (BPNN).</summary>
    bool ActivationsDependOnLabel => true;
}
