using FFLib.Compute;
using PackedMatrix = FFLib.IO.PackedMatrix;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Modules;
using FFLib.Training;

namespace FFLib.ModelCompression;

/// <summary>
/// Trained quantisation (Deep Compression's second stage, Han et al. 2016): a model whose matrices share
/// a codebook each keeps training with its own rule while the sharing holds. The codes (which shared
/// value each weight uses) stay fixed; the shared values move. Here every batch takes the model's ordinary
/// step on the tied weights, and before the next batch (and once at the end) each codebook value becomes the
/// mean of its members' weights, which all take it again: a value moves by the mean of its members' steps.
/// (Deep Compression, with plain SGD, moves it by the sum of their gradients; with Adam's per-weight
/// steps the mean is the form that keeps the step size independent of how many weights share a value.)
/// Outlier columns stay free floats and train as ordinary weights.
/// </summary>
public static class TrainedQuantization
{
    /// <summary>
    /// Trains <paramref name="model"/> (on the CPU backend, changed in place: it ends holding the tied weights) for
    /// <paramref name="options"/>' epochs with the codebook matrices of <paramref name="packed"/> tied, and returns
    /// those matrices with the same codes and moved codebooks (and outlier values); other packed matrices pass through.
    /// </summary>
    public static IReadOnlyList<PackedMatrix> Finetune(ITrainableModel model, IReadOnlyList<PackedMatrix> packed, ImageDataset data,
        TrainingOptions options, FFRandom random, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(packed);
        ConstrainedTraining.Check(model, data, options, random, "Trained quantisation");
        var byName = model.Parameters().ToDictionary(p => p.Name);
        var tied = new List<Tie>();
        foreach (var m in packed.Where(m => m.Scheme == WeightScheme.Codebook))
        {
            if (!byName.TryGetValue(m.Name, out var p))
                throw new ArgumentException($"{m.Name} is not a parameter of this {model.Architecture.Id} model (a low-rank factor? trained quantisation ties whole matrices only).", nameof(packed));
            if (p.Data.Length != m.Codes.Length)
                throw new ArgumentException($"{m.Name} holds {p.Data.Length} weights but its codes are {m.Rows}×{m.Cols}.", nameof(packed));
            tied.Add(new Tie(m, p.Data));
        }
        foreach (var t in tied) t.Apply(); // start from the shared values k-means found
        ConstrainedTraining.Train(model, data, options, random, () => { foreach (var t in tied) t.Retie(); }, cancellationToken);
        var moved = tied.ToDictionary(t => t.Matrix.Name, t => t.Result());
        return packed.Select(m => moved.TryGetValue(m.Name, out var r) ? r : m).ToList();
    }

    /// <summary>One matrix tied to its codebook: the parameter's values, its codes, and which columns are free.</summary>
    private sealed class Tie(PackedMatrix matrix, float[] weights)
    {
        private readonly float[] _book = (float[])matrix.Codebook!.Clone();
        private readonly bool[] _free = FreeColumns(matrix);
        private readonly double[] _sums = new double[matrix.Codebook!.Length];
        private readonly long[] _counts = new long[matrix.Codebook!.Length];

        public PackedMatrix Matrix { get; } = matrix;

        private static bool[] FreeColumns(PackedMatrix m)
        {
            var free = new bool[m.Cols];
            foreach (int c in m.OutlierColumns ?? []) free[c] = true;
            return free;
        }

        /// <summary>Every tied weight takes its code's value (outlier columns keep theirs).</summary>
        public void Apply()
        {
            int cols = Matrix.Cols;
            var codes = Matrix.Codes;
            if (Matrix.OutlierColumns is { Length: > 0 } outliers)
                for (int r = 0; r < Matrix.Rows; r++)
                    for (int j = 0; j < outliers.Length; j++) weights[r * cols + outliers[j]] = Matrix.OutlierValues![r * outliers.Length + j];
            for (int r = 0, i = 0; r < Matrix.Rows; r++)
                for (int c = 0; c < cols; c++, i++)
                    if (!_free[c]) weights[i] = _book[codes[i]];
        }

        /// <summary>Each value becomes the mean of its members' weights (in double), and they all take it; an unused value stays.</summary>
        public void Retie()
        {
            int cols = Matrix.Cols;
            var codes = Matrix.Codes;
            Array.Clear(_sums);
            Array.Clear(_counts);
            for (int r = 0, i = 0; r < Matrix.Rows; r++)
                for (int c = 0; c < cols; c++, i++)
                {
                    if (_free[c]) continue;
                    _sums[codes[i]] += weights[i];
                    _counts[codes[i]]++;
                }
            for (int k = 0; k < _book.Length; k++)
                if (_counts[k] > 0) _book[k] = (float)(_sums[k] / _counts[k]);
            for (int r = 0, i = 0; r < Matrix.Rows; r++)
                for (int c = 0; c < cols; c++, i++)
                    if (!_free[c]) weights[i] = _book[codes[i]];
        }

        /// <summary>The matrix with its moved codebook and its outlier columns' current values.</summary>
        public PackedMatrix Result()
        {
            float[]? outlierValues = null;
            if (Matrix.OutlierColumns is { Length: > 0 } outliers)
            {
                outlierValues = new float[Matrix.Rows * outliers.Length];
                for (int r = 0; r < Matrix.Rows; r++)
                    for (int j = 0; j < outliers.Length; j++) outlierValues[r * outliers.Length + j] = weights[r * Matrix.Cols + outliers[j]];
            }
            return Matrix with { Codebook = (float[])_book.Clone(), OutlierValues = outlierValues ?? Matrix.OutlierValues };
        }
    }
}
