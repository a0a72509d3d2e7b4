using Spectre.Console;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary>
/// Training progress on stderr: a live Spectre.Console bar (batch, loss, samples/s, ETA) on a
/// terminal, plain lines (every ~10% of an epoch and at each epoch end) when stderr is redirected.
/// Reports arrive synchronously on the training thread.
/// </summary>
internal sealed class ProgressDisplay : IProgress<TrainingProgress>, IRunPhaseObserver, IDisposable
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private readonly IAnsiConsole _console;
    private readonly Thread? _renderThread;
    private readonly ManualResetEventSlim _done = new();
    private volatile string _status = "starting";
    private double _fraction;
    private DateTime _lastPlain = DateTime.MinValue;
    private (long Seen, TimeSpan Elapsed, double Done)? _first;

    public ProgressDisplay()
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error),
            Interactive = _interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (_interactive)
        {
            _renderThread = new Thread(Render) { IsBackground = true, Name = "fflib-progress" };
            _renderThread.Start();
        }
    }

    public void Report(TrainingProgress p)
    {
        double doneFraction = ((p.Epoch - 1) + (double)p.Batch / p.Batches) / p.Epochs;
        // Speed and ETA count from the first report of this process: a resumed run's earlier samples
        // were not trained in this process's time (they would inflate the speed many times over).
        _first ??= (p.SamplesSeen, p.Elapsed, doneFraction);
        var (seen0, elapsed0, done0) = _first.Value;
        double seconds = (p.Elapsed - elapsed0).TotalSeconds;
        string speed = seconds > 0 && doneFraction > done0
            ? $"{(p.SamplesSeen - seen0) / seconds:F0} samples/s ETA {TimeSpan.FromSeconds(seconds * (1 - doneFraction) / (doneFraction - done0)):hh\\:mm\\:ss}"
            : "measuring speed";
        _status = $"epoch {p.Epoch}/{p.Epochs} batch {p.Batch}/{p.Batches} loss {p.Loss:F4} {speed}";
        Volatile.Write(ref _fraction, doneFraction);
        if (!_interactive && (DateTime.UtcNow - _lastPlain).TotalSeconds >= 10)
        {
            _lastPlain = DateTime.UtcNow;
            Console.Error.WriteLine(_status);
        }
    }

    public void EpochCompleted(EpochMetrics m)
    {
        string val = m.ValidationAccuracy is double v ? $"validation accuracy {v * 100:F2}%" : "no validation";
        if (m.ClassifierPending && m.Phase == FFLib.Models.TrainingPhase.ForwardForward && m.ValidationAccuracy is not null)
            val += " (through the classifier, which is trained in the second half: not yet)";
        string phase = m.Phase == FFLib.Models.TrainingPhase.Classifier ? " (classifier)" : "";
        // "layer 1" → L1: the losses labelled, short.
        var losses = m.LayerLosses.Select((l, i) => $"{Label(i < m.LossNames.Count ? m.LossNames[i] : "")} {l:F4}".Trim());
        string line = $"epoch {m.Epoch}{phase}: loss {string.Join(" / ", losses)}, {val}, {m.TrainSeconds:F1} s train + {m.ValidationSeconds:F1} s validation";
        Print(line);
    }

    private static string Label(string name) => name.StartsWith("layer ", StringComparison.Ordinal) ? "L" + name[6..] : name;

    /// <inheritdoc />
    public void PhaseStarted(string description)
    {
        _status = description;
        Print(description);
    }

    private void Print(string line)
    {
        if (_interactive) _pending.Enqueue(line);
        else Console.Error.WriteLine(line);
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _pending = new();

    private void Render()
    {
        _console.Progress()
            .AutoClear(true)
            .Columns(new ProgressBarColumn(), new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: 1.0);
                while (!_done.Wait(200))
                {
                    while (_pending.TryDequeue(out var line)) _console.MarkupLine(Markup.Escape(line));
                    task.Description = Markup.Escape(_status);
                    task.Value = Volatile.Read(ref _fraction);
                }
                while (_pending.TryDequeue(out var line)) _console.MarkupLine(Markup.Escape(line));
                task.Value = 1.0;
            });
    }

    public void Dispose()
    {
        _done.Set();
        _renderThread?.Join();
    }
}
