using System.CommandLine;
using FFLib.Data;
using FFLib.IO;
using FFLib.IO.Torch;

namespace FFLib.Cli;

/// <summary><c>fflib import</c>: a model saved by the original PyTorch FFLib, as our checkpoint.</summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "A .pt file the original FFLib's suite saved (FFNet, FFC, FFRNN, or a BPNN of nn.Linear layers)." };
        var dataset = new Option<string?>("--dataset") { Description = "The dataset it was trained on, which the file does not record (default: mnist for 28×28 inputs, cifar10 for 32×32×3)." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Output folder (model.safetensors); default: a new runs/TIME-import-ARCH." };
        var overwrite = Cli.OverwriteOption();
        var cmd = new Command("import", "Read a model saved by the original PyTorch FFLib and write it as our checkpoint, for eval, analyze, prune, visualize and export.") { file, dataset, outDir, overwrite };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string path = pr.GetValue(file)!;
            if (!File.Exists(path)) throw new UsageException($"{path} does not exist.");
            ImportedModel imported;
            try { imported = OriginalModelImport.Import(path); }
            catch (InvalidDataException e) { throw new UsageException(e.Message); }
            string ds = pr.GetValue(dataset) is string given
                ? DatasetCatalog.IdOf(Cli.ParseDataset(given))
                : imported.Model.ImageFeatures == 3072 ? "cifar10" : "mnist";
            int features = ds == "cifar10" ? 3072 : 784;
            if (features != imported.Model.ImageFeatures)
                throw new UsageException($"--dataset {ds} has {features} values per image but the model in {path} takes {imported.Model.ImageFeatures}.");
            imported.Training["dataset"] = ds;
            string arch = imported.Model.Architecture.Id;
            var (dir, hold) = Cli.ClaimOutput(pr.GetValue(outDir), $"import-{arch}", pr.GetValue(overwrite), "model.safetensors");
            using var held = hold;
            string modelPath = Path.Combine(dir, "model.safetensors");
            ModelCheckpoint.Save(modelPath, imported.Model, imported.Training);
            Console.WriteLine(OriginalModelImport.Summary(imported));
            Console.WriteLine($"written: {modelPath} (next: fflib eval --model {dir})");
            return 0;
        }));
        return cmd;
    }
}
