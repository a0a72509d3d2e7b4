using FFLib.Compute;
using FFLib.Data;
using FFLib.Gpu;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;

// `dotnet run -c Release` trains the paper's FFNN (2×2000, 60 epochs) on the first CUDA GPU;
// `dotnet run -c Release -- --simulate 1 256 64` runs the same code on ILGPU's CPU accelerator
// (no GPU needed, slow: 1 epoch, 256 images, 2×64).
bool simulate = args.Contains("--simulate");
int[] n = args.Where(a => a != "--simulate").Select(int.Parse).ToArray();
int epochs = n.Length > 0 ? n[0] : 60, images = n.Length > 1 ? n[1] : 60_000, width = n.Length > 2 ? n[2] : 2000;

// CreateCuda throws GpuUnavailableException with the reason when there is no driver, GPU or cuBLAS.
using var gpu = simulate ? GpuBackend.CreateSimulator() : GpuBackend.CreateCuda();
Console.WriteLine($"on {gpu.Description}");
var data = DatasetLoader.Load(DatasetKind.Mnist);
var test = data.Test.Take(Math.Min(images, data.Test.Count));

var random = new FFRandom(seed: 42);
var network = new FFNetwork(new FFNetworkConfig { HiddenSizes = [width, width] }, random) { Backend = gpu };
new Trainer().Train(network, data.Train.Take(images), null, new TrainingOptions { Epochs = epochs }, random);
Console.WriteLine($"test accuracy {Evaluation.Accuracy(network, test):P2}; the GPU holds {gpu.MemoryInUse / 1e6:F1} MB");

ModelCheckpoint.Save("model.safetensors", network); // the same file a CPU run writes: loads anywhere
network.ReleaseDeviceMemory();                       // done with it on the GPU: free its memory now
Console.WriteLine($"after release: {gpu.MemoryInUse / 1e6:F1} MB (the resident training set)");
