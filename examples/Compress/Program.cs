using FFLib.Coding;
using FFLib.Data;
using FFLib.IO;
using FFLib.ModelCompression;
using FFLib.Training;

// `dotnet run -c Release -- runs/latest`: a trained model as rank-32 factors quantised to int8,
// stored with rANS-coded weights; the file loads back as an ordinary model that predicts as the
// compressed weights say.
string path = args.Length > 0 ? args[0] : "runs/latest";
if (Directory.Exists(path)) path = Path.Combine(path, "model.safetensors");
var model = ModelCheckpoint.Load(path).Model;

var factors = LowRank.Factor(model, rank: 32);                 // W ≈ U·V where that is smaller
var packed = WeightQuantizer.Pack(model, factors, WeightFormat.Uniform(8, symmetric: true));
CompressedWeights.Save("small.safetensors", model, packed, entropyCoded: true, lowRank: factors);
var small = ModelCheckpoint.Load("small.safetensors").Model;   // an ordinary model again

var test = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false }).Test.Take(1000);
byte[] file = File.ReadAllBytes("small.safetensors");
Console.WriteLine($"{new FileInfo(path).Length:N0} → {file.Length:N0} bytes (lzma: {LosslessCoders.Encode(LosslessCoder.Lzma, file).Length:N0}); "
    + $"accuracy on 1,000 test images {Evaluation.Accuracy(model, test):P2} → {Evaluation.Accuracy(small, test):P2}");
