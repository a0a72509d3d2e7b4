using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using FFLib.Training;

// `dotnet run -c Release` trains the paper's 2×2000 FFNN for 10 epochs (~1.5 min on 2 cores, ~89%);
// `dotnet run -c Release -- 1 5000` is a quick check: 1 epoch on 5,000 images.
int epochs = args.Length > 0 ? int.Parse(args[0]) : 10, images = args.Length > 1 ? int.Parse(args[1]) : 60_000;

ComputeSettings.Threads = Environment.ProcessorCount;
var data = DatasetLoader.Load(DatasetKind.Mnist);              // finds the files (see "Data" below)
var (train, validation) = data.Train.Take(images).SplitLast(0.1); // the paper's last-10% validation split

var random = new FFRandom(seed: 42);                           // one seeded source: init, shuffles, negatives
var network = new FFNetwork(new FFNetworkConfig
{
    HiddenSizes = [2000, 2000], Threshold = 20f, Loss = LossDirection.Minimize, LearningRate = 0.02f,
}, random);

var trainer = new Trainer { EpochCompleted = m => Console.WriteLine($"epoch {m.Epoch}: {m.ValidationAccuracy:P2}") };
trainer.Train(network, train, validation, new TrainingOptions { Epochs = epochs, BatchSize = 128 }, random);

Console.WriteLine($"test accuracy {Evaluation.Accuracy(network, data.Test):P2}");
ModelCheckpoint.Save("model.safetensors", network);            // safetensors + JSON metadata, atomic
var reloaded = ModelCheckpoint.Load("model.safetensors").Model;
int[] predicted = reloaded.Predict(data.Test.ToMatrix(0, 10)); // try-every-label probe
Console.WriteLine($"first ten test images: {string.Join(" ", predicted)}");
