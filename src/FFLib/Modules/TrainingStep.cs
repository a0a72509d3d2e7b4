namespace FFLib.Modules;

/// <summary>
/// One optimiser step of a model as its step observer sees it, before the step (tests and
/// diagnostics). The same shape for every model: FF layers report per layer (and FFRNN frame), the
/// BPNN one step over all its parameters, the FFNN+C classifier as the layer after its stack.
/// </summary>
/// <param name="Layer">0-based layer (the BPNN: 0; the FFNN+C classifier: the number of FF layers).</param>
/// <param name="Frame">FFRNN frame; 0 otherwise.</param>
/// <param name="Loss">The loss before the step.</param>
/// <param name="MeanSquares">Per-row mean squared activations, positives first (FF layers); empty otherwise.</param>
/// <param name="Gradients">The gradients in the optimiser's parameter order (e.g. W, b; FFRNN Wf, Wb, b).</param>
internal sealed record TrainingStep(int Layer, int Frame, float Loss, float[] MeanSquares, IReadOnlyList<float[]> Gradients);
