using System.Globalization;
using System.Text;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Analysis;

/// <summary>One measurement of one weight tensor during training.</summary>
/// <param name="Step">Number of batches trained before the measurement.</param>
/// <param name="Progress">Training progress in epochs (Step / batches per epoch).</param>
/// <param name="Layer">Layer name.</param>
/// <param name="Parameter">Tensor name ("weight", "forward", "backward").</param>
/// <param name="Sparsity">The four metrics.</param>
public sealed record SparsitySample(long Step, double Progress, string Layer, string Parameter, SparsityValues Sparsity);

/// <summary>
/// Records the four sparsity metrics of every weight tensor every N batches (the paper's
/// Figures 9–12 and 15–18). Hook it into a <see cref="Trainer"/> through <see cref="BeforeBatch"/>
/// and call <see cref="RecordFinal"/> after training.
/// </summary>
public sealed class SparsityTracker
{
    private readonly List<SparsitySample> _samples = [];
    private long _step;
    private int _batchesPerEpoch = 1;

    /// <summary>Records every <paramref name="everyBatches"/> batches (the first record is before any training).</summary>
    public SparsityTracker(int everyBatches)
    {
        if (everyBatches < 1) throw new ArgumentOutOfRangeException(nameof(everyBatches), everyBatches, "The tracking interval must be at least 1 batch.");
        EveryBatches = everyBatches;
    }

    /// <summary>The interval in batches.</summary>
    public int EveryBatches { get; }

    /// <summary>Everything recorded so far.</summary>
    public IReadOnlyList<SparsitySample> Samples => _samples;

    /// <summary>Pass to <see cref="Trainer.BeforeBatch"/>.</summary>
    public void BeforeBatch(BatchStart b)
    {
        _batchesPerEpoch = b.Batches;
        if (_step % EveryBatches == 0) Record(b.Model);
        _step++;
    }

    /// <summary>Records the state after the last batch.</summary>
    public void RecordFinal(IClassifierModel model)
    {
        if (_samples.Count == 0 || _samples[^1].Step != _step) Record(model);
    }

    private void Record(IClassifierModel model)
    {
        double progress = (double)_step / _batchesPerEpoch;
        foreach (var p in ModelAnalysis.TrackedWeights(model))
            _samples.Add(new SparsitySample(_step, progress, p.Layer, p.Parameter, Sparsity.All(p.Values)));
    }

    /// <summary>Writes the samples as CSV (step, epoch, layer, parameter, l1_entropy, l2_entropy, hoyer, gini), atomically.</summary>
    public void WriteCsv(string path)
    {
        var sb = new StringBuilder("step,epoch,layer,parameter,l1_entropy,l2_entropy,hoyer,gini\n");
        foreach (var s in _samples)
            sb.Append(CultureInfo.InvariantCulture, $"{s.Step},{s.Progress:F4},{s.Layer},{s.Parameter},{s.Sparsity.L1NegativeEntropy:G9},{s.Sparsity.L2NegativeEntropy:G9},{s.Sparsity.Hoyer:G9},{s.Sparsity.Gini:G9}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}
