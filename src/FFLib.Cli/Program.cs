using System.CommandLine;

namespace FFLib.Cli;

internal static class Program
{
    internal static int Main(string[] args)
    {
        var root = new RootCommand("FFLib: train, evaluate and inspect Forward-Forward networks.");
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(AnalyzeCommand.Create());
        root.Subcommands.Add(VisualizeCommand.Create());
        root.Subcommands.Add(PruneCommand.Create());
        root.Subcommands.Add(CompressCommand.Create());
        root.Subcommands.Add(CompressCommand.CreateCompare());
        root.Subcommands.Add(DistillCommand.Create());
        root.Subcommands.Add(PruneCommand.CreateCompare());
        root.Subcommands.Add(SweepCommand.CreateSweep());
        root.Subcommands.Add(SweepCommand.CreateStatus());
        root.Subcommands.Add(SweepCommand.CreateReport());
        root.Subcommands.Add(SweepCommand.CreateReproduce());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        var result = root.Parse(args);
        // Mistakes on the command line are one line and exit 2, not the whole help text.
        return result.Errors.Count > 0 ? ParseErrors.Report(result) : result.Invoke();
    }
}
