using System.CommandLine;
using System.Globalization;
using FFLib.Experiments;
using FFLib.IO;

namespace FFLib.Cli;

/// <summary><c>fflib status</c> and <c>fflib report</c>: reading a results folder.</summary>
internal static partial class SweepCommand
{
    public static Command CreateStatus()
    {
        var results = new Option<string>("--results") { Description = "Results folder of a sweep.", Required = true };
        var claimTimeout = new Option<double>("--claim-timeout") { Description = "The workers' --claim-timeout, seconds: older heartbeats are shown as stale.", DefaultValueFactory = _ => 300 };
        var cmd = new Command("status", "Show a sweep in progress: finished runs, runs being trained (worker, heartbeat, checkpoint), interrupted runs waiting for a worker, files that are not records.") { results, claimTimeout };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string dir = ResultsFolder(pr.GetValue(results)!);
            double timeout = pr.GetValue(claimTimeout);
            if (!(timeout >= 1)) throw new UsageException($"--claim-timeout must be at least 1 second, not {timeout}.");
            var st = SweepStatus.Read(dir, TimeSpan.FromSeconds(timeout));
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"{dir}: {st.Completed} completed, {st.Diverged} diverged; {st.Claimed.Count} being trained; {st.Interrupted.Count} interrupted; {st.Workers} worker(s) so far{(st.Skipped.Count > 0 ? $"; {st.Skipped.Count} file(s) in runs/ are not records" : "")}"));
            foreach (var c in st.Claimed)
                Console.WriteLine(string.Create(inv, $"  running      {c.Id}  {c.Description ?? "(settings not recorded)"}  {c.Worker}  heartbeat {c.HeartbeatAge.TotalSeconds:F0} s ago{(c.Stale ? " (stale: the next worker takes it over)" : "")}{(c.ClockNote is null ? "" : $" ({c.ClockNote})")}  {(c.Checkpoint is null ? "no checkpoint yet" : "checkpoint " + c.Checkpoint)}"));
            foreach (var r in st.Interrupted)
                Console.WriteLine($"  interrupted  {r.Id}  {r.Description ?? "(settings not recorded)"}  checkpoint {r.Checkpoint}; the next worker continues it");
            foreach (var s in st.Skipped) Console.WriteLine($"  not a record {Path.GetFileName(s.Path)}: {s.Reason}");
            return 0;
        }));
        return cmd;
    }

    public static Command CreateReport()
    {
        var results = new Option<string>("--results") { Description = "Results folder of a sweep.", Required = true };
        var cmd = new Command("report", "Write report.md and table2/3/5.csv (mean ± std over seeds, weight sparsity, loss max vs min t-tests) and the figures for a results folder; files that are not run records are listed and skipped (exit code 6).") { results };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            string dir = ResultsFolder(pr.GetValue(results)!);
            var read = SweepResults.Read(dir);
            var md = WriteReport(read, dir);
            Console.WriteLine(md);
            return Skipped(read);
        }));
        return cmd;
    }

    /// <summary>The report, its tables and figures as one set of files; the written paths are printed.</summary>
    private static string WriteReport(SweepResults read, string dir)
    {
        using var files = new FileSet();
        string md;
        string[] pngs;
        try
        {
            md = SweepReport.Write(read.Records, dir, read.Skipped, files);
            pngs = Heatmaps(read.Records, dir, files.Stage).ToArray();
            // Beside the paper: only when some run was trained at its Table 1 settings.
            var cells = PaperComparison.Cells(read.Records);
            if (cells.Any(c => c.Ours.HasValue))
            {
                files.WriteAllText(Path.Combine(dir, "paper-comparison.md"), PaperComparison.Markdown(cells, "Our results beside the paper's Tables 2–5"));
                files.WriteAllText(Path.Combine(dir, "paper-comparison.csv"), PaperComparison.Csv(cells));
                pngs = [.. pngs, Path.Combine(dir, "paper-comparison.md")];
            }
        }
        catch (IOException e)
        {
            // Nothing is committed yet: the folder keeps its previous report, whole.
            throw new IOException($"writing the report into {dir} failed ({e.Message.Split(" : '")[0]}); no report file was replaced.", e);
        }
        files.Commit();
        Console.Error.WriteLine($"written: {Path.Combine(dir, "report.md")}, table2.csv, table3.csv, table5.csv");
        foreach (var png in pngs) Console.Error.WriteLine($"written: {png}");
        return md;
    }

    /// <summary>Exit code 6 ("done, with warnings") when files were skipped, each named on stderr.</summary>
    private static int Skipped(SweepResults read)
    {
        foreach (var s in read.Skipped) Console.Error.WriteLine($"warning: skipped {s.Path}: {s.Reason}");
        if (read.Skipped.Count == 0) return 0;
        Console.Error.WriteLine($"done with warnings: {read.Skipped.Count} file(s) in runs/ are not run records (listed in report.md)");
        return Cli.DoneWithWarnings;
    }

    /// <summary>Draws the report's figures, each into <paramref name="stage"/>(its path); returns the final paths.</summary>
    internal static IEnumerable<string> Heatmaps(IReadOnlyList<RunRecord> records, string dir, Func<string, string> stage)
    {
        // Figures 9–12: sparsity over training, one line per model and layer size (from runs swept with --track-sparsity).
        foreach (var (title, series) in SweepReport.LayerSizeProgressions(records))
        {
            var samples = series.SelectMany(s => s.Epochs.Select((e, i) => new FFLib.Analysis.SparsitySample(i, e, s.Label, "weight", s.Values[i]))).ToArray();
            string dataset = title.Split(':')[0];
            // These plots name their own files (one per metric): drawn in a scratch folder, then staged.
            string scratch = Directory.CreateTempSubdirectory("fflib-report-").FullName;
            try
            {
                foreach (var png in FFLib.Plotting.Plots.SparsityOverTraining(samples, scratch, title, $"sparsity_by_size_{dataset}"))
                {
                    string target = Path.Combine(dir, Path.GetFileName(png));
                    File.Copy(png, stage(target));
                    yield return target;
                }
            }
            finally { Directory.Delete(scratch, recursive: true); }
        }
        foreach (var g in SweepReport.SensitivityGrids(records))
        {
            // "ffnn layers 2000,2000 on mnist (loss min)" → ffnn_2000-2000_mnist_loss-min
            string stem = string.Join("_", g.Title.Replace("loss ", "loss-").Replace(',', '-').Split(' ', '(', ')').Where(x => x.Length > 0 && x is not ("layers" or "on")));
            foreach (bool hoyer in new[] { false, true })
            {
                string png = Path.Combine(dir, $"heatmap_{(hoyer ? "hoyer" : "accuracy")}_{stem}.png");
                FFLib.Plotting.Plots.SensitivityHeatmap(stage(png), g, hoyer);
                yield return png;
            }
        }
    }

    /// <summary>A --results folder that status and report can read, or a usage error saying what one is.</summary>
    private static string ResultsFolder(string dir)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--results {dir}: the folder does not exist.");
        if (Directory.Exists(Path.Combine(dir, "runs")) && !File.Exists(Path.Combine(dir, "run.json"))) return dir;
        // fflib train's own folders (runs/, runs/latest, runs/TIME-MODEL-DATASET) hold single runs, not sweep results.
        bool trainingRun = File.Exists(Path.Combine(dir, "run.json")) || Directory.Exists(Path.Combine(dir, "latest"))
            || Directory.EnumerateDirectories(dir).Any(d => File.Exists(Path.Combine(d, "run.json")));
        throw new UsageException(trainingRun
            ? $"--results {dir} holds single training runs (fflib train's folders), not a sweep's results; read those with fflib eval, analyze or visualize --model FOLDER. A results folder is what fflib sweep --results DIR or fflib reproduce writes: DIR/runs/ID.json, one record per run."
            : $"--results {dir} is not a sweep results folder: it has no runs/ subfolder of run records. fflib sweep --results DIR or fflib reproduce makes one.");
    }
}
