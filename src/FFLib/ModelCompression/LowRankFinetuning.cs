using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Modules;
using FFLib.Training;

namespace FFLib.ModelCompression;

/// <summary>
/// Fine-tuning under a rank constraint: a model whose weight matrices were factored (W ≈ U·V at rank r,
/// <see cref="LowRank"/>) keeps training with its own rule (FF for FF models, backprop for the BPNN) while
/// every factored matrix stays at rank r. Each batch takes the model's ordinary step on W = U·V; before the
/// next batch (and once at the end) W returns to rank r by one subspace iteration warm-started from the
/// current factors: Q = orth(W·Vᵀ), V ← Qᵀ·W, U ← Q, W ← U·V — a projected gradient method on the
/// rank-r matrices. The step needs only the architecture's own training, so any registered architecture
/// works, and costs 3·r·m·n multiply-adds per matrix per batch.
/// </summary>
public static class LowRankFinetuning
{
    /// <summary>
    /// Trains <paramref name="model"/> (on the CPU backend, changed in place: it ends holding W = U·V) for
    /// <paramref name="options"/>' epochs with every matrix of <paramref name="factors"/> held at its rank,
    /// and returns the factors it ends with (same names, shapes and ranks; U with orthonormal columns).
    /// </summary>
    public static IReadOnlyList<LowRankMatrix> Finetune(ITrainableModel model, IReadOnlyList<LowRankMatrix> factors, ImageDataset data,
        TrainingOptions options, FFRandom random, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factors);
        ConstrainedTraining.Check(model, data, options, random, "Low-rank fine-tuning");
        var byName = model.Parameters().ToDictionary(p => p.Name);
        var held = new List<Held>();
        foreach (var f in factors)
        {
            if (!byName.TryGetValue(f.Name, out var p))
                throw new ArgumentException($"{f.Name} is not a parameter of this {model.Architecture.Id} model.", nameof(factors));
            if (p.Shape.Length != 2 || p.Rows != f.Rows || p.Cols != f.Cols)
                throw new ArgumentException($"{f.Name} is [{string.Join(", ", p.Shape)}] in the model but [{f.Rows}, {f.Cols}] in its factors.", nameof(factors));
            held.Add(new Held(f, p.Data));
        }
        foreach (var h in held) h.Apply(); // start from the factored weights
        ConstrainedTraining.Train(model, data, options, random, () => { foreach (var h in held) h.Project(); }, cancellationToken);
        return held.Select(h => h.Result()).ToList();
    }

    /// <summary>One matrix held at rank r: the parameter's values, and its factors as Qᵀ [r × m] and V [r × n].</summary>
    private sealed class Held
    {
        private readonly LowRankMatrix _source;
        private readonly float[] _weights;
        private readonly float[] _qt;
        private readonly float[] _v;

        public Held(LowRankMatrix source, float[] weights)
        {
            (_source, _weights) = (source, weights);
            _v = (float[])source.V.Clone();
            _qt = new float[(long)source.Rank * source.Rows];
        }

        private int Rows => _source.Rows;
        private int Cols => _source.Cols;
        private int Rank => _source.Rank;

        /// <summary>W = U·V from the given factors.</summary>
        public void Apply() => Gemm.Multiply(false, false, Rows, Cols, Rank, _source.U, Rank, _source.V, Cols, _weights, Cols, accumulate: false);

        /// <summary>W back to rank r: Qᵀ = orth(V·Wᵀ) (rows orthonormal), V = Qᵀ·W, W = Q·V.</summary>
        public void Project()
        {
            Gemm.Multiply(false, true, Rank, Rows, Cols, _v, Cols, _weights, Cols, _qt, Rows, accumulate: false);
            LowRank.Orthonormalise(_qt, Rank, Rows);
            Gemm.Multiply(false, false, Rank, Cols, Rows, _qt, Rows, _weights, Cols, _v, Cols, accumulate: false);
            Gemm.Multiply(true, false, Rows, Cols, Rank, _qt, Rows, _v, Cols, _weights, Cols, accumulate: false);
        }

        /// <summary>The current factors: U = Q [m × r], V [r × n].</summary>
        public LowRankMatrix Result()
        {
            var u = new float[(long)Rows * Rank];
            for (int k = 0; k < Rank; k++)
                for (int i = 0; i < Rows; i++) u[(long)i * Rank + k] = _qt[(long)k * Rows + i];
            return _source with { U = u, V = (float[])_v.Clone() };
        }
    }
}
