using System.CommandLine;
using System.Globalization;
using FFLib.Analysis;
using FFLib.IO;

namespace FFLib.Cli;

/// <summary><c>fflib analyze</c>: weight sparsity and statistics of a saved model (Tables 3–4).</summary>
internal static class AnalyzeCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string>("--model", "-m") { Description = "A model file (model.safetensors) or a run folder written by fflib train.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON instead of a table." };
        var outPath = new Option<string?>("--out", "-o") { Description = "Where to write analysis.json (default: beside the model)." };
        var cmd = new Command("analyze", "Report every layer's weight sparsity (L1/L2 negative entropy, Hoyer, Gini) and weight/bias statistics.") { modelPath, json, outPath };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            var (path, loaded) = Cli.LoadModel(pr.GetValue(modelPath)!);
            var report = ModelAnalysis.Analyze(loaded.Model);
            string target = pr.GetValue(outPath) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "analysis.json");
            AtomicFile.WriteAllText(target, report.ToJsonString() + "\n");
            if (pr.GetValue(json))
            {
                Console.WriteLine(report.ToJsonString());
                return 0;
            }
            Console.WriteLine($"{path}: {ModelCheckpoint.ArchitectureId(report.Architecture)}");
            Console.WriteLine($"{"layer",-11} {"tensor",-13} {"values",9} {"L1 ent",7} {"L2 ent",7} {"Hoyer",7} {"Gini",7} {"min",9} {"max",9} {"mean",9} {"std",9}");
            foreach (var p in report.Parameters)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{p.Layer,-11} {p.Parameter,-13} {p.Count,9} {p.Sparsity.L1NegativeEntropy,7:F3} {p.Sparsity.L2NegativeEntropy,7:F3} {p.Sparsity.Hoyer,7:F3} {p.Sparsity.Gini,7:F3} {p.Stats.Min,9:F4} {p.Stats.Max,9:F4} {p.Stats.Mean,9:F4} {p.Stats.Std,9:F4}"));
            Console.WriteLine($"written: {target}");
            return 0;
        }));
        return cmd;
    }
}
