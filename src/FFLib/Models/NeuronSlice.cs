namespace FFLib.Models;

/// <summary>
/// Which parameter slice a hidden neuron owns: along <see cref="Axis"/> of the named parameter,
/// neuron j of the hidden layer is index <see cref="Offset"/> + j (axis 0: its row or bias entry;
/// axis 1: the column through which the next layer, a neighbour or a classifier reads it).
/// </summary>
/// <param name="Parameter">Full parameter name, e.g. "layers.1.weight".</param>
/// <param name="Axis">The axis of the parameter: 0 (rows, output channels), 1 (columns); a convolution kernel [out, K, K, in] is read through axis 3 (input channels).</param>
/// <param name="Offset">Where the layer's neurons start along that axis (e.g. in a classifier over concatenated layers).</param>
public sealed record NeuronSlice(string Parameter, int Axis, int Offset = 0);

