namespace FFLib.Analysis;

/// <summary>One measurement of one weight tensor during training.</summary>
/// <param name="Step">Number of batches trained before the measurement.</param>
/// <param name="Progress">Training progress in epochs (Step / batches per epoch).</param>
/// <param name="Layer">Layer name.</param>
/// <param name="Parameter">Tensor name ("weight", "forward", "backward").</param>
/// <param name="Sparsity">The four metrics.</param>
public sealed record SparsitySample(long Step, double Progress, string Layer, string Parameter, SparsityValues Sparsity);
