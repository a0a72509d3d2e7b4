namespace FFLib.Modules;

/// <summary>
/// One named parameter tensor of a model: the live array the model computes with (not a copy),
/// its shape, and the labels the analysis tables use, with the state its module keeps for it
/// (<see cref="State"/>: optimiser moments, gradient buffer, device copies). Generic code (checkpoints,
/// cloning, analysis, pruning, quantisation, optimisers) works over a model's list of these.
/// </summary>
/// <param name="Name">Dotted path, e.g. "layers.0.weight", "classifier.bias", "layers.1.backward_weight"; the tensor name in model files.</param>
/// <param name="Layer">Human label of the layer it belongs to, e.g. "layer 1", "output", "classifier".</param>
/// <param name="Kind">Human label of the tensor inside its layer: "weight", "bias", "forward", "backward".</param>
/// <param name="Shape">Row-major shape: [out, in] for weight matrices, [out] for biases.</param>
/// <param name="Data">The values, updated in place by training.</param>
/// <param name="Trainable">Whether optimisers update it.</param>
public sealed record Parameter(string Name, string Layer, string Kind, int[] Shape, float[] Data, bool Trainable = true)
{
    /// <summary>The module's own record of this tensor, which holds its state (null for a parameter made by hand).</summary>
    public LocalParameter? State { get; init; }

    /// <summary>
    /// Whether this is a weight tensor (two or more axes), as opposed to a vector (biases). A
    /// convolution kernel [out, K, K, in] counts as a matrix of one row per output channel.
    /// </summary>
    public bool IsMatrix => Shape.Length >= 2;

    /// <summary>Rows of a matrix (neurons, output channels); the length of a vector.</summary>
    public int Rows => Shape[0];

    /// <summary>Columns of a matrix: the product of every axis after the first (inputs; K·K·in for a kernel); 1 for a vector.</summary>
    public int Cols => Shape.Length >= 2 ? Data.Length / Math.Max(1, Shape[0]) : 1;

    /// <summary>The shape as text, e.g. "[2000, 794]".</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>A sub-module with its name in parameter paths ("layers.0") and its human label ("layer 1").</summary>
public readonly record struct ChildModule(string Name, string Label, Module Module);
