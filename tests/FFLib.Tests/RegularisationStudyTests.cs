using FFLib.Compute;
using FFLib.Data;
using FFLib.Experiments;
using FFLib.Models;
using FFLib.Plotting;
using FFLib.Pruning;
using Xunit;

namespace FFLib.Tests;

/// <summary>The regularisation study end to end on a little real MNIST: runs, measurements, resume, summary, t-tests, plots.</summary>
public sealed class RegularisationStudyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-regstudy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void RunsAreTheBaselinePlusOneRegulariserAtATime()
    {
        var sweep = new SweepSpec { Models = [Architecture.Ffnn, Architecture.Ffc], Layers = [[20]], Epochs = 1, Seeds = 3 };
        var runs = RegularisationStudy.Runs(sweep, RegularisationStudy.DefaultGrids);
        Assert.Equal(2 * 3 * (1 + 9), runs.Count);
        Assert.Equal(runs.Count, runs.Select(SweepRunner.RunId).Distinct().Count());
        // The λ = 0 runs are the plain sweep's: their ids are those an ordinary sweep gives.
        var baseline = runs.Where(r => RegularisationStudy.Which(r, RegularisationStudy.DefaultGrids).Regulariser == "none").Select(SweepRunner.RunId).ToHashSet();
        Assert.Equal(sweep.Expand().Select(SweepRunner.RunId).ToHashSet(), baseline);
        Assert.All(runs, r => Assert.True(new[] { FFSettings.PeerNormalization, FFSettings.ActivityL1, FFSettings.WeightDecay }.Count(s => r.Model.Get(s) != 0) <= 1));
        var e = Assert.Throws<ArgumentException>(() => RegularisationStudy.Runs(sweep, [new RegulariserGrid(FFSettings.PeerNormalization, [0f, 0.1f])]));
        Assert.Contains("λ values > 0", e.Message);
        // The BPNN declares no regulariser: a grid over it is refused by the sweep's own check.
        Assert.ThrowsAny<ArgumentException>(() => RegularisationStudy.Runs(sweep with { Models = [Architecture.Bpnn] }, RegularisationStudy.DefaultGrids));
    }

    [Fact]
    public void DeadOverTrainingAveragesTheSeedsAtTheStepsTheyShare()
    {
        var sweep = new SweepSpec { Models = [Architecture.Ffnn], Layers = [[20]], Epochs = 1, Seeds = 2 };
        RegulariserGrid[] grids = [new(FFSettings.PeerNormalization, [0.1f]), new(FFSettings.WeightDecay, [0.01f])];
        var runs = RegularisationStudy.Runs(sweep, grids);
        RunRecord Record(Training.RunSpec run, params (long Step, int Dead)[] points) =>
            new(SweepRunner.RunId(run), "completed", null, "ffnn", "mnist", [20], "min", 0.02f, 20, (int)run.Seed, 1, 0.5, null, 1, "",
                DeadNeuronsOverTraining: points.Select(p => new Training.DeadNeuronSample(p.Step, p.Step / 10.0, 1, 20, p.Dead)).ToArray());
        Training.RunSpec Run(string reg, long seed) => runs.Single(r => RegularisationStudy.Which(r, grids).Regulariser == reg && r.Seed == seed);
        var records = new[]
        {
            Record(Run("none", 0), (0, 2), (5, 8), (10, 9)),
            Record(Run("none", 1), (0, 3), (10, 12)),           // no step 5: only steps 0 and 10 are shared
            Record(Run("peer_norm", 0), (0, 4), (10, 0)),
            Record(Run("weight_decay", 0), (0, 1), (10, 1)),    // another regulariser: not in peer_norm's view
        };                                                      // peer_norm seed 1 has no record: left out
        var view = RegularisationReport.DeadOverTraining(runs, grids, "peer_norm", records);
        Assert.Equal(2, view.Count);
        Assert.Equal(0f, view[0].Lambda);
        Assert.Equal([0L, 10L], view[0].Samples.Select(x => x.Step));
        Assert.Equal([3, 11], view[0].Samples.Select(x => x.Dead)); // 2.5 → 3 (halves away from 0), 10.5 → 11
        Assert.Equal(0.1f, view[1].Lambda);
        Assert.Equal([4, 0], view[1].Samples.Select(x => x.Dead));
        Assert.Empty(RegularisationReport.DeadOverTraining(runs, grids, "peer_norm", records.Select(r => r with { DeadNeuronsOverTraining = null }).ToArray()));
    }

    [Fact]
    public void KeepForReachesTheCompressionTargetWithTheLargestLayers()
    {
        var model = Architecture.Ffnn.Create(new ModelSettings { HiddenSizes = [60, 60] }, 30, 4, new FFRandom(1));
        long full = NeuronPruning.ParameterCount(model);
        var ranking = NeuronPruning.RandomRanking(model, new FFRandom(0));
        foreach (double target in new[] { 2.0, 8.0 })
        {
            int k = RegularisationStudy.KeepFor(model, target);
            Assert.True(full >= target * NeuronPruning.ParameterCount(NeuronPruning.Prune(model, ranking, k)), $"keep {k} for {target}×");
            Assert.True(full < target * NeuronPruning.ParameterCount(NeuronPruning.Prune(model, ranking, k + 1)), $"keep {k + 1} would also reach {target}×");
        }
    }

    [Fact]
    public void StudyOnRealMnistMeasuresSummarisesResumesAndPlots()
    {
        var sweep = new SweepSpec
        {
            Models = [Architecture.Ffnn], Layers = [[24, 24]], Epochs = 1, Seeds = 2, TrainLimit = 600, TestLimit = 300,
            Base = new ModelSettings().With(FFSettings.Threshold, 2f), Data = new DatasetLoadOptions { AllowDownload = false }, TrackSparsityEvery = 1,
        };
        RegulariserGrid[] grids = [new(FFSettings.PeerNormalization, [0.05f]), new(FFSettings.ActivityL1, [0.01f])];
        var runs = RegularisationStudy.Runs(sweep, grids);
        Assert.Equal(6, runs.Count);
        SweepRunner.Run(runs, _dir, new SweepWorkerOptions { SaveModels = true });
        var log = new List<string>();
        var measured = RegularisationStudy.MeasureAll(runs, _dir, grids, log: log.Add, pruneSeeds: 2);
        Assert.Equal(6, measured.Count);
        Assert.Equal(6, log.Count(l => l.StartsWith("measured ", StringComparison.Ordinal)));
        foreach (var m in measured)
        {
            Assert.InRange(m.Accuracy, 0.05, 1);
            Assert.Equal(2, m.Hoyer.Length);
            Assert.Equal(2, m.DeadFraction.Length);
            Assert.Equal(2, m.Pruned.Count);
            Assert.True(m.Pruned[0].Ratio >= 6 && m.Pruned[1].Ratio >= 15, $"ratios {m.Pruned[0].Ratio}, {m.Pruned[1].Ratio}");
        }
        // The records carry the dead-neuron series over training (read back from their JSON), and the study's
        // per-λ view of them is the seeds' mean at every step.
        var records = SweepResults.Read(_dir).Records;
        Assert.All(records, r => Assert.True(r.DeadNeuronsOverTraining is { Count: > 0 }, r.Id));
        var overTraining = RegularisationReport.DeadOverTraining(runs, grids, "activity_l1", records);
        Assert.Equal([0f, 0.01f], overTraining.Select(o => o.Lambda));
        var l1Runs = runs.Where(r => RegularisationStudy.Which(r, grids).Regulariser == "activity_l1").Select(SweepRunner.RunId).ToHashSet();
        var l1Series = records.Where(r => l1Runs.Contains(r.Id)).Select(r => r.DeadNeuronsOverTraining!).ToArray();
        var last = overTraining[1].Samples.Where(x => x.Layer == 2).MaxBy(x => x.Step)!;
        Assert.Equal((int)Math.Round(l1Series.Average(r => r.Single(x => x.Step == last.Step && x.Layer == 2).Dead), MidpointRounding.AwayFromZero), last.Dead);
        string deadPng = Path.Combine(_dir, "dead.png");
        DeadNeuronPlots.OverTraining(deadPng, overTraining.Concat(RegularisationReport.DeadOverTraining(runs, grids, "peer_norm", records).Skip(1))
            .Select(o => ($"λ = {o.Lambda}", o.Samples)).ToArray(), "test");
        Assert.True(new FileInfo(deadPng).Length > 10_000);

        // Strong L1 leaves more of layer 2 dead than none does, on both seeds.
        double Dead(string reg) => measured.Where(m => m.Regulariser == reg).Average(m => m.DeadFraction[1]);
        Assert.True(Dead("activity_l1") > Dead("none"), $"dead with L1 {Dead("activity_l1")}, without {Dead("none")}");

        // Resumes from the CSV: nothing measured twice, even with the models gone.
        Directory.Delete(Path.Combine(_dir, "models"), recursive: true);
        log.Clear();
        var again = RegularisationStudy.MeasureAll(runs, _dir, grids, log: log.Add);
        Assert.Empty(log);
        Assert.Equal(measured.Select(m => m.Id), again.Select(m => m.Id));
        Assert.Equal(measured.Select(m => m.DeadFraction[1]), again.Select(m => m.DeadFraction[1]));

        var summary = RegularisationReport.Summarise(again);
        var accuracy = summary.Where(r => r.Metric == "accuracy").ToArray();
        Assert.Equal(3, accuracy.Length);
        Assert.Null(accuracy.Single(r => r.Regulariser == "none").PValue);
        Assert.All(accuracy.Where(r => r.Regulariser != "none"), r => Assert.InRange(r.PValue!.Value, 0, 1));
        var baseline = again.Where(m => m.Regulariser == "none").Select(m => m.Accuracy * 100).ToArray();
        Assert.Equal(baseline.Average(), accuracy.Single(r => r.Regulariser == "none").Mean, 9);
        var peer = again.Where(m => m.Regulariser == "peer_norm").Select(m => m.Accuracy * 100).ToArray();
        Assert.Equal(TTest.Welch(peer, baseline).PValue, accuracy.Single(r => r.Regulariser == "peer_norm").PValue!.Value, 9);
        string md = RegularisationReport.Markdown(summary, "test");
        Assert.Contains("| none | 0 | 2 |", md);
        Assert.Contains("accuracy_at_8x", md);
        RegularisationReport.WriteCsv(Path.Combine(_dir, "regularisation.csv"), summary);
        Assert.Equal(summary.Count + 1, File.ReadAllLines(Path.Combine(_dir, "regularisation.csv")).Length);
        foreach (var png in RegularisationPlots.Effects(_dir, "peer", summary, "peer_norm", "test"))
            Assert.True(new FileInfo(png).Length > 10_000, png);

        // The ordinary sweep report keeps runs that differ only in a regulariser apart.
        string report = SweepReport.Write(SweepResults.Read(_dir).Records, _dir);
        Assert.Contains("peer-norm 0.05", report);
        Assert.Contains("activity-l1 0.01", report);
    }

    [Fact]
    public void MalformedMeasurementFilesNameTheLine()
    {
        string path = Path.Combine(_dir, "bad.csv");
        File.WriteAllText(path, "not the header\n");
        Assert.Contains("line 1", Assert.Throws<InvalidDataException>(() => RegularisationStudy.ReadRunsCsv(path)).Message);
        File.WriteAllText(path, "id,model,regulariser,lambda,seed,accuracy,hoyer,gini,dead_fraction,pruned\nabc,ffnn,none,zero,0,0.5,,,,\n");
        Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => RegularisationStudy.ReadRunsCsv(path)).Message);
        File.WriteAllText(path, "");
        Assert.Throws<InvalidDataException>(() => RegularisationStudy.ReadRunsCsv(path));
    }
}
