using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.ModelCompression;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary><c>fflib distill</c>: a small student of any architecture trained from a big teacher's labels (and second choices).</summary>
internal static class DistillCommand
{
    public static Command Create()
    {
        var teacher = new Option<string>("--teacher") { Description = "The teacher: a model file or a run folder.", Required = true };
        var model = new Option<string>("--model") { Description = "The student's architecture (ffnn, ffc, ffrnn, bpnn, …).", DefaultValueFactory = _ => "ffnn" };
        var layers = new Option<string>("--layers") { Description = "The student's hidden sizes, comma-separated.", DefaultValueFactory = _ => "100,100" };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs of the student.", DefaultValueFactory = _ => 10 };
        var lr = new Option<float?>("--lr") { Description = "The student's learning rate (default: its architecture's)." };
        var batch = new Option<int>("--batch-size") { Description = "Positive images per batch.", DefaultValueFactory = _ => 128 };
        var negatives = new Option<string>("--negatives") { Description = "FF students' negative labels: teacher (its second choice, every epoch), sampled (drawn every epoch from the teacher's ranking of the wrong classes, rank r with weight decay^r) or random.", DefaultValueFactory = _ => "teacher" };
        var decay = new Option<double?>("--negative-decay") { Description = "With --negatives sampled: the weight ratio between successive ranks, in (0, 1] (1: uniform, as random). Default 0.5." };
        var alone = new Option<bool>("--alone") { Description = "Also train the same student (same seed) on the dataset's own labels, for comparison." };
        var seed = new Option<long>("--seed") { Description = "Seed of the student's initialisation and shuffles.", DefaultValueFactory = _ => 1 };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Train on only the first N training images." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Evaluate on only the first N test images." };
        var outDir = new Option<string?>("--out", "-o") { Description = "Output folder (student.safetensors, alone.safetensors, distill.json); default: a new runs/TIME-distill-MODEL." };
        var overwrite = Cli.OverwriteOption();
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder holding the dataset's files." };
        var noDownload = new Option<bool>("--no-download") { Description = "Never download." };
        var cmd = new Command("distill", "Train a small student of any architecture from a trained teacher's labels (FF students: and its second choices as negatives); with --alone, beside the same student trained on the true labels.")
        {
            teacher, model, layers, epochs, lr, batch, negatives, decay, alone, seed, trainLimit, testLimit, outDir, overwrite, threads, dataDir, noDownload,
        };
        cmd.SetAction(pr => Cli.Run(() =>
        {
            int nThreads = pr.GetValue(threads);
            if (nThreads < 1) throw new UsageException($"--threads must be at least 1, not {nThreads}.");
            ComputeSettings.Threads = nThreads;
            var arch = ArchitectureRegistry.Find(pr.GetValue(model)!) ?? throw new UsageException($"--model {pr.GetValue(model)}: no such architecture ({string.Join(", ", ArchitectureRegistry.All.Select(a => a.Id))}).");
            var sizes = TrainCommand.ParseLayers(pr.GetValue(layers)!, "--layers");
            int nEpochs = pr.GetValue(epochs) is var e && e >= 1 ? e : throw new UsageException($"--epochs must be at least 1, not {e}.");
            int batchSize = pr.GetValue(batch) is var bs && bs >= 1 ? bs : throw new UsageException($"--batch-size must be at least 1, not {bs}.");
            float? rate = pr.GetValue(lr) is float r0 ? (r0 > 0 && float.IsFinite(r0) ? r0 : throw new UsageException($"--lr must be a positive number, not {r0.ToString(CultureInfo.InvariantCulture)}.")) : null;
            var negativeKind = pr.GetValue(negatives)!.Trim().ToLowerInvariant() switch
            {
                "teacher" => StudentNegatives.SecondChoice,
                "sampled" => StudentNegatives.Sampled,
                "random" => StudentNegatives.Random,
                var other => throw new UsageException($"--negatives must be teacher, sampled or random, not '{other}'."),
            };
            double negativeDecay = pr.GetValue(decay) ?? 0.5;
            if (!(negativeDecay > 0 && negativeDecay <= 1)) throw new UsageException($"--negative-decay must be in (0, 1], not {negativeDecay.ToString(CultureInfo.InvariantCulture)}.");
            if (negativeKind != StudentNegatives.Sampled && pr.GetValue(decay) is not null) throw new UsageException("--negative-decay applies to --negatives sampled only.");
            string negativeId = negativeKind switch { StudentNegatives.SecondChoice => "teacher", StudentNegatives.Sampled => "sampled", _ => "random" };
            string negativeWords = negativeKind switch
            {
                StudentNegatives.SecondChoice => " and second choices",
                StudentNegatives.Sampled => string.Create(CultureInfo.InvariantCulture, $" and negatives sampled from its ranking (decay {negativeDecay})"),
                _ => "",
            };
            var settings = new ModelSettings { HiddenSizes = sizes, LearningRate = rate };
            try { arch.ValidateSettings(settings); }
            catch (ArgumentException ex) { throw new UsageException($"--model {arch.Id}: {ex.Message}"); }
            var (teacherPath, loaded) = Cli.LoadModel(pr.GetValue(teacher)!);
            ModelCheckpoint.RequireFinite(loaded.Model, teacherPath);
            string dsName = loaded.Dataset ?? throw new UsageException($"{teacherPath} does not record its dataset.");
            var kind = Cli.ParseDataset(dsName);
            var data = DatasetLoader.Load(kind, Cli.DataOptions(pr.GetValue(dataDir), pr.GetValue(noDownload)));
            var train = pr.GetValue(trainLimit) is int tl ? (tl >= 1 ? data.Train.Take(tl) : throw new UsageException($"--train-limit must be at least 1, not {tl}.")) : data.Train;
            var test = pr.GetValue(testLimit) is int sl ? (sl >= 1 ? data.Test.Take(sl) : throw new UsageException($"--test-limit must be at least 1, not {sl}.")) : data.Test;
            if (train.Features != loaded.Model.ImageFeatures) throw new UsageException($"{teacherPath} takes {loaded.Model.ImageFeatures} values per image; {dsName} has {train.Features}.");
            var (dir, hold) = Cli.ClaimOutput(pr.GetValue(outDir), $"distill-{arch.Id}", pr.GetValue(overwrite), "student.safetensors", "alone.safetensors", "distill.json");
            using var held = hold;
            long studentSeed = pr.GetValue(seed);

            var clock = Stopwatch.StartNew();
            double teacherAccuracy = Evaluation.Accuracy(loaded.Model, test);
            var signal = Distillation.Teach(loaded.Model, train);
            double teachSeconds = clock.Elapsed.TotalSeconds;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"teacher {ModelCheckpoint.ArchitectureId(loaded.Architecture)} ({teacherPath}): {teacherAccuracy:P2} on {test.Count} test images; labelled {train.Count} training images in {teachSeconds:F1} s, {signal.Agreement:P2} of them as the dataset does"));
            var options = new TrainingOptions { Epochs = nEpochs, BatchSize = batchSize, ValidateEachEpoch = false };
            var trainer = new Trainer { EpochCompleted = m => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  epoch {m.Epoch}{(m.Phase == TrainingPhase.Classifier ? " (classifier)" : "")}: loss {string.Join(" / ", m.LayerLosses.Select(l => l.ToString("F4", CultureInfo.InvariantCulture)))}, {m.TrainSeconds:F1} s")) };
            JsonObject Meta(string how) => new() { ["dataset"] = DatasetCatalog.IdOf(kind), ["epochs"] = nEpochs, ["seed"] = studentSeed, ["trained_on"] = how, ["teacher"] = teacherPath };

            Console.Error.WriteLine($"student {arch.Id} {string.Join(",", sizes)} from the teacher's labels{negativeWords}:");
            var student = arch.Create(settings, train.Features, train.Classes, new FFRandom(studentSeed));
            clock.Restart();
            Distillation.TrainStudent(student, train, null, signal, options, new FFRandom(studentSeed + 1), negativeKind, negativeDecay, studentSeed + 2, trainer);
            double studentSeconds = clock.Elapsed.TotalSeconds;
            double studentAccuracy = Evaluation.Accuracy(student, test);
            ModelCheckpoint.Save(Path.Combine(dir, "student.safetensors"), student, Meta(negativeKind switch { StudentNegatives.SecondChoice => "teacher labels and negatives", StudentNegatives.Sampled => "teacher labels and sampled negatives", _ => "teacher labels" }));
            var result = new JsonObject
            {
                ["teacher"] = teacherPath, ["teacher_accuracy"] = teacherAccuracy, ["teacher_agreement_on_train"] = signal.Agreement,
                ["student"] = arch.Id, ["layers"] = ConfigJson.IntArray(sizes), ["epochs"] = nEpochs, ["seed"] = studentSeed,
                ["negatives"] = negativeId, ["train_images"] = train.Count, ["test_images"] = test.Count,
                ["student_accuracy"] = studentAccuracy, ["student_seconds"] = studentSeconds, ["teach_seconds"] = teachSeconds,
            };
            if (negativeKind == StudentNegatives.Sampled) result["negative_decay"] = negativeDecay;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"distilled student: {studentAccuracy:P2} on {test.Count} test images ({studentSeconds:F1} s)"));
            if (pr.GetValue(alone))
            {
                Console.Error.WriteLine($"the same student from the dataset's own labels:");
                var solo = arch.Create(settings, train.Features, train.Classes, new FFRandom(studentSeed));
                clock.Restart();
                trainer.Train(solo, train, null, options, new FFRandom(studentSeed + 1));
                double soloAccuracy = Evaluation.Accuracy(solo, test);
                ModelCheckpoint.Save(Path.Combine(dir, "alone.safetensors"), solo, Meta("dataset labels"));
                result["alone_accuracy"] = soloAccuracy;
                result["alone_seconds"] = clock.Elapsed.TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"student alone:     {soloAccuracy:P2} ({(studentAccuracy - soloAccuracy) * 100:+0.00;-0.00} points from distillation)"));
            }
            AtomicFile.WriteAllText(Path.Combine(dir, "distill.json"), result.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"written: {Path.Combine(dir, "student.safetensors")}{(pr.GetValue(alone) ? ", alone.safetensors" : "")}, distill.json");
            return 0;
        }));
        return cmd;
    }
}
