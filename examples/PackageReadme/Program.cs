using FFLib.Compute; using FFLib.Data; using FFLib.Models; using FFLib.Training;

var data = DatasetLoader.Load(DatasetKind.Mnist);
var (train, validation) = data.Train.SplitLast(0.1);
var random = new FFRandom(42);
var network = new FFNetwork(new FFNetworkConfig { HiddenSizes = [2000, 2000] }, random);
new Trainer().Train(network, train, validation, new TrainingOptions { Epochs = 60 }, random);
Console.WriteLine(Evaluation.Accuracy(network, data.Test)); // about 0.98 at the paper's settings
