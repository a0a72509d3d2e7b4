using System.Globalization;
using System.Text;
using FFLib.Analysis;
using FFLib.IO;
using FFLib.Models;

namespace FFLib.Training;

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

    /// <summary>
    /// Continues a run from a checkpoint taken after <paramref name="step"/> batches: keeps the
    /// samples recorded before that step (e.g. read back with <see cref="ReadCsv"/>) and counts on
    /// from there, so a resumed run records what an uninterrupted one would.
    /// </summary>
    public void Restore(IEnumerable<SparsitySample> samples, long step)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be non-negative.");
        _samples.Clear();
        _samples.AddRange(samples.Where(s => s.Step < step));
        _step = step;
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

    private const string CsvHeader = "step,epoch,layer,parameter,l1_entropy,l2_entropy,hoyer,gini";

    /// <summary>Reads a file written by <see cref="WriteCsv"/>; throws <see cref="InvalidDataException"/> naming the line of any malformed row.</summary>
    public static IReadOnlyList<SparsitySample> ReadCsv(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var result = new List<SparsitySample>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (lineNo == 1)
            {
                if (line != CsvHeader) throw new InvalidDataException($"{path}: line 1 is not the sparsity.csv header '{CsvHeader}'.");
                continue;
            }
            if (line.Length == 0) continue;
            var f = line.Split(',');
            var inv = CultureInfo.InvariantCulture;
            if (f.Length != 8
                || !long.TryParse(f[0], NumberStyles.Integer, inv, out long step) || step < 0
                || !double.TryParse(f[1], NumberStyles.Float, inv, out double epoch)
                || !double.TryParse(f[4], NumberStyles.Float, inv, out double l1) || !double.TryParse(f[5], NumberStyles.Float, inv, out double l2)
                || !double.TryParse(f[6], NumberStyles.Float, inv, out double hoyer) || !double.TryParse(f[7], NumberStyles.Float, inv, out double gini))
                throw new InvalidDataException($"{path}: line {lineNo} is not 'step,epoch,layer,parameter' and four numbers: '{line}'.");
            result.Add(new SparsitySample(step, epoch, f[2], f[3], new SparsityValues(l1, l2, hoyer, gini)));
        }
        if (lineNo == 0) throw new InvalidDataException($"{path} is empty.");
        return result;
    }

    /// <summary>Writes the samples as CSV (step, epoch, layer, parameter, l1_entropy, l2_entropy, hoyer, gini), atomically.</summary>
    public void WriteCsv(string path)
    {
        var sb = new StringBuilder(CsvHeader + "\n");
        foreach (var s in _samples)
            sb.Append(CultureInfo.InvariantCulture, $"{s.Step},{s.Progress:F4},{s.Layer},{s.Parameter},{s.Sparsity.L1NegativeEntropy:G9},{s.Sparsity.L2NegativeEntropy:G9},{s.Sparsity.Hoyer:G9},{s.Sparsity.Gini:G9}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}
