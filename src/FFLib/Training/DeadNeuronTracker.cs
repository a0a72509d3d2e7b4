using System.Globalization;
using System.Text;
using FFLib.Analysis;
using FFLib.Compute;
using FFLib.IO;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>One record of <see cref="DeadNeuronTracker"/>: after <see cref="Step"/> batches (<see cref="Progress"/> in epochs), a layer's dead neurons on the probe.</summary>
public sealed record DeadNeuronSample(long Step, double Progress, int Layer, int Neurons, int Dead);

/// <summary>
/// Counts every hidden layer's dead neurons (<see cref="DeadNeurons"/>) on a fixed probe set every N
/// batches (at least a quarter epoch apart), beside <see cref="SparsityTracker"/>'s weight metrics; a resumed run records what an
/// uninterrupted one would. Hook it into a <see cref="Trainer"/> through <see cref="BeforeBatch"/>.
/// </summary>
public sealed class DeadNeuronTracker
{
    private const string CsvHeader = "step,epoch,layer,neurons,dead";
    private readonly List<DeadNeuronSample> _samples = [];
    private readonly Matrix _images;
    private readonly int[] _labels;
    private readonly int _classes;
    private long _step;
    private int _batchesPerEpoch = 1;

    /// <summary>Records every <paramref name="everyBatches"/> batches on the probe <paramref name="images"/> (each fed its own label).</summary>
    public DeadNeuronTracker(int everyBatches, Matrix images, int[] labels, int classes)
    {
        if (everyBatches < 1) throw new ArgumentOutOfRangeException(nameof(everyBatches), everyBatches, "The tracking interval must be at least 1 batch.");
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.Rows == 0 || labels.Length != images.Rows) throw new ArgumentException($"The probe needs images and one label each; got {images.Rows} images and {labels.Length} labels.", nameof(labels));
        EveryBatches = everyBatches;
        (_images, _labels, _classes) = (images, labels, classes);
    }

    /// <summary>The interval in batches asked for.</summary>
    public int EveryBatches { get; }

    /// <summary>
    /// The interval used in an epoch of <paramref name="batches"/> batches: <see cref="EveryBatches"/>, but at
    /// least a quarter epoch — each record runs the model over the probe (for the FFRNN, over all its frames),
    /// which at the few-batch intervals weight metrics allow would cost more than the training.
    /// </summary>
    public int Interval(int batches) => Math.Max(EveryBatches, (batches + 3) / 4);

    /// <summary>Everything recorded so far.</summary>
    public IReadOnlyList<DeadNeuronSample> Samples => _samples;

    /// <summary>Pass to <see cref="Trainer.BeforeBatch"/> (models that give no activations are skipped).</summary>
    public void BeforeBatch(BatchStart b)
    {
        _batchesPerEpoch = b.Batches;
        if (_step % Interval(b.Batches) == 0) Record(b.Model);
        _step++;
    }

    /// <summary>Keeps the samples before <paramref name="step"/> (a checkpoint's batch count) and counts on from there.</summary>
    public void Restore(IEnumerable<DeadNeuronSample> samples, long step)
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
        if (model is not IActivationSource source) return;
        double progress = (double)_step / _batchesPerEpoch;
        foreach (var d in DeadNeurons.Count(source, _images, _labels, _classes))
            _samples.Add(new DeadNeuronSample(_step, progress, d.Layer, d.Neurons, d.Dead));
    }

    /// <summary>Writes the samples as CSV (step, epoch, layer, neurons, dead), atomically.</summary>
    public void WriteCsv(string path)
    {
        var sb = new StringBuilder(CsvHeader + "\n");
        foreach (var s in _samples) sb.Append(CultureInfo.InvariantCulture, $"{s.Step},{s.Progress:F4},{s.Layer},{s.Neurons},{s.Dead}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Reads a file written by <see cref="WriteCsv"/>; throws <see cref="InvalidDataException"/> naming the line of any malformed row.</summary>
    public static IReadOnlyList<DeadNeuronSample> ReadCsv(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var result = new List<DeadNeuronSample>();
        int lineNo = 0;
        var inv = CultureInfo.InvariantCulture;
        foreach (var line in File.ReadLines(path))
        {
            if (++lineNo == 1)
            {
                if (line != CsvHeader) throw new InvalidDataException($"{path}: line 1 is not the dead-neurons.csv header '{CsvHeader}'.");
                continue;
            }
            if (line.Length == 0) continue;
            var f = line.Split(',');
            if (f.Length != 5
                || !long.TryParse(f[0], NumberStyles.Integer, inv, out long step) || step < 0
                || !double.TryParse(f[1], NumberStyles.Float, inv, out double epoch)
                || !int.TryParse(f[2], NumberStyles.Integer, inv, out int layer) || layer < 1
                || !int.TryParse(f[3], NumberStyles.Integer, inv, out int neurons) || neurons < 0
                || !int.TryParse(f[4], NumberStyles.Integer, inv, out int dead) || dead < 0 || dead > neurons)
                throw new InvalidDataException($"{path}: line {lineNo} is not 'step,epoch,layer,neurons,dead' with 0 ≤ dead ≤ neurons: '{line}'.");
            result.Add(new DeadNeuronSample(step, epoch, layer, neurons, dead));
        }
        if (lineNo == 0) throw new InvalidDataException($"{path} is empty.");
        return result;
    }
}
