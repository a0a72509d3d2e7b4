using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;
using FFLib.Training;

// Hooks: a learning-rate schedule before every epoch and an observer of every layer's activations.
// `dotnet run -c Release -- 1 600` is a quick check (1 epoch on 600 images; the FFRNN is slow).
int epochs = args.Length > 0 ? int.Parse(args[0]) : 5, images = args.Length > 1 ? int.Parse(args[1]) : 60_000;
var (train, validation) = DatasetLoader.Load(DatasetKind.Mnist).Train.Take(images).SplitLast(0.1);

var model = new FFRecurrentNetwork(new FFRecurrentConfig { HiddenSizes = [2000, 2000] }, new FFRandom(1));
int observed = 0;
model.ActivationObserver = (in LayerActivation a) => { if (observed++ < 4) Console.WriteLine($"layer {a.Layer} frame {a.Frame}: {a.Rows}×{a.Width}"); };
var trainer = new Trainer
{
    BeforeEpoch = e => { foreach (var o in e.Model.AllOptimizers) o.Settings = o.Settings with { LearningRate = 0.02f * MathF.Pow(0.95f, e.Epoch - 1) }; },
    EpochCompleted = m => Console.WriteLine($"epoch {m.Epoch}: validation {m.ValidationAccuracy:P2}"),
};
trainer.Train(model, train, validation, new TrainingOptions { Epochs = epochs, Negatives = NegativeMode.HardSampled }, new FFRandom(2));
