// The GPU check: everything scripts/gpu-check.sh measures on a CUDA machine, printed in one go.
// Usage: FFLib.GpuCheck MNIST_DIR [--simulate] [--paper-epochs N] [--parts numerics,ffnn,determinism,paper,bpnn,ffc,ffrnn,cnn]
//   --simulate: ILGPU's CPU accelerator instead of CUDA (a rehearsal on a machine without a GPU; small sizes).
using System.Diagnostics;
using FFLib.Compute;
using FFLib.Data;
using FFLib.Gpu;
using FFLib.Models;
using FFLib.Training;

if (args.Length < 1) { Console.Error.WriteLine("usage: FFLib.GpuCheck MNIST_DIR [--simulate] [--paper-epochs N]"); return 2; }
bool simulate = args.Contains("--simulate");
int paperEpochs = args.SkipWhile(a => a != "--paper-epochs").Skip(1).Select(int.Parse).FirstOrDefault(60);
var parts = (args.SkipWhile(a => a != "--parts").Skip(1).FirstOrDefault() ?? "numerics,ffnn,determinism,paper,checkpoint,streams,tf32,bpnn,ffc,ffrnn,cnn").Split(',').ToHashSet();
ComputeSettings.Threads = Environment.ProcessorCount;
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");

GpuBackend gpu;
try { gpu = simulate ? GpuBackend.CreateSimulator() : GpuBackend.CreateCuda(); }
catch (GpuUnavailableException e) { Console.WriteLine($"no GPU: {e.Message}"); return 3; }
Console.WriteLine($"backend: {gpu.Name} ({gpu.Description})");

var data = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { DataDirectory = args[0], AllowDownload = false });
var (train, validation) = data.Train.SplitLast(0.1);
if (simulate) (train, validation) = (train.Take(512), validation.Take(256));
var test = simulate ? data.Test.Take(300) : data.Test;
int[] widths = simulate ? [64, 64] : [2000, 2000];

// 1. Numerics: 3 Adam steps of a small FFNN on the GPU against the CPU backend (both layer-1 paths).
foreach (bool identity in parts.Contains("numerics") ? new[] { true, false } : [])
{
    FFNetwork Small() => new(new FFNetworkConfig { HiddenSizes = [300, 200] }, new FFRandom(11)) { UseInputIdentity = identity };
    var cpu = Small();
    var dev = Small();
    dev.Backend = gpu;
    var images = train.ToMatrix(0, 64);
    var labels = Enumerable.Range(0, 64).Select(train.Label).ToArray();
    var wrong = labels.Select(l => (l + 3) % 10).ToArray();
    double worstLoss = 0;
    for (int s = 0; s < 3; s++)
    {
        var a = cpu.TrainBatch(images, labels, wrong);
        var b = dev.TrainBatch(images, labels, wrong);
        worstLoss = Math.Max(worstLoss, a.Zip(b, (x, y) => Math.Abs(x - y) / Math.Max(1e-6, Math.Abs(x))).Max());
    }
    dev.SynchronizeToHost();
    double worst = 0, scale = 0;
    foreach (var (p, q) in cpu.Parameters().Zip(dev.Parameters()))
        for (int i = 0; i < p.Data.Length; i++) { worst = Math.Max(worst, Math.Abs(p.Data[i] - q.Data[i])); scale = Math.Max(scale, Math.Abs(p.Data[i])); }
    var probe = test.ToMatrix(0, 200);
    int agree = cpu.Predict(probe).Zip(dev.Predict(probe), (x, y) => x == y ? 1 : 0).Sum();
    Console.WriteLine($"numerics ({(identity ? "layer-1 shortcut" : "plain layer 1")}): 3 Adam steps, max |Δw| {worst:E2} (max |w| {scale:F3}, relative {worst / scale:E2}), max relative loss difference {worstLoss:E2}, predictions agree on {agree}/200");
}

// 2. Speed: the paper's FFNN (2×2000) on MNIST, one warm-up epoch, then timed epochs and prediction.
var trainer = new Trainer();
var options = new TrainingOptions { Epochs = 1, ValidateEachEpoch = false };
var epochTimes = new List<double> { 1 };
if (parts.Contains("ffnn")) {
var random = new FFRandom(42);
var net = new FFNetwork(new FFNetworkConfig { HiddenSizes = widths }, random) { Backend = gpu };
var sw = Stopwatch.StartNew();
trainer.Train(net, train, null, options, random);
gpu.Synchronize();
Console.WriteLine($"warm-up epoch (kernel compilation, cuBLAS start): {sw.Elapsed.TotalSeconds:F2} s");
epochTimes.Clear();
var activity = gpu.Activity;
for (int e = 0; e < (simulate ? 1 : 3); e++)
{
    sw.Restart();
    trainer.Train(net, train, null, options, random);
    gpu.Synchronize();
    epochTimes.Add(sw.Elapsed.TotalSeconds);
}
Console.WriteLine($"FFNN {string.Join("×", widths)} epoch ({train.Count} images, batch 128): {string.Join(", ", epochTimes.Select(t => $"{t:F3} s"))}");
Console.WriteLine("FFNN " + PerBatch(gpu.Activity - activity, epochTimes.Count, train.Count) + (gpu.UploadProblem is { } why ? $"; uploads WAIT for the device: {why}" : "; uploads queued"));
sw.Restart();
var testMatrix = test.ToMatrix();
var predicted = net.Predict(testMatrix);
gpu.Synchronize();
double predictSeconds = sw.Elapsed.TotalSeconds;
sw.Restart();
predicted = net.Predict(testMatrix);
double predictSeconds2 = sw.Elapsed.TotalSeconds;
double acc = predicted.Where((p, i) => p == test.Label(i)).Count() / (double)test.Count;
Console.WriteLine($"predict {test.Count} test images: {predictSeconds:F3} s, again {predictSeconds2:F3} s (accuracy after {1 + epochTimes.Count} epochs {acc:P2})");
}

// 3. Determinism: the same seed twice on the same GPU, 30 batches each.
// FNV-1a over the weights' bits (managed: no OpenSSL needed on the GPU machine).
string Hash(FFNetwork n)
{
    n.SynchronizeToHost();
    ulong h = 14695981039346656037;
    foreach (var p in n.Parameters())
        foreach (float v in p.Data) { h ^= BitConverter.SingleToUInt32Bits(v); h *= 1099511628211; }
    return h.ToString("X16");
}
string Run()
{
    var r = new FFRandom(7);
    var n = new FFNetwork(new FFNetworkConfig { HiddenSizes = widths }, r) { Backend = gpu };
    trainer.Train(n, train.Take(30 * 128), null, options, r);
    return Hash(n);
}
if (parts.Contains("determinism"))
{
    string h1 = Run(), h2 = Run();
    Console.WriteLine($"determinism: two runs with seed 7 give weight hashes {h1} and {h2} ({(h1 == h2 ? "identical" : "DIFFERENT")})");
}

// 4. The paper's run: 60 epochs of FFNN 2×2000, then the test set (skipped when an epoch is too slow for the device time).
if (!parts.Contains("paper")) { }
else if (!simulate && epochTimes.Average() * paperEpochs < 240)
{
    var r = new FFRandom(42);
    var paper = new FFNetwork(new FFNetworkConfig(), r) { Backend = gpu };
    var sw = Stopwatch.StartNew();
    new Trainer().Train(paper, train, validation, new TrainingOptions { Epochs = paperEpochs, ValidateEachEpoch = false }, r);
    gpu.Synchronize();
    double trainSeconds = sw.Elapsed.TotalSeconds;
    double paperAcc = Evaluation.Accuracy(paper, test);
    Console.WriteLine($"paper FFNN: {paperEpochs} epochs in {trainSeconds:F1} s ({trainSeconds / paperEpochs:F3} s/epoch), {sw.Elapsed.TotalSeconds:F1} s with the test; test accuracy {paperAcc:P2}");
}
else Console.WriteLine($"paper FFNN: skipped ({paperEpochs} epochs at {epochTimes.Average():F2} s would exceed the time budget)");
// 4b. Files and resume: a model trained on the GPU saved and scored on the CPU; a run stopped after
// one epoch and resumed from its training checkpoint on the GPU against an uninterrupted one.
if (parts.Contains("checkpoint"))
{
    string dir = Directory.CreateTempSubdirectory("fflib-gpu-").FullName;
    var small = train.Take(simulate ? 256 : 10_000);
    var r1 = new FFRandom(21);
    var net1 = new FFNetwork(new FFNetworkConfig { HiddenSizes = widths }, r1) { Backend = gpu };
    trainer.Train(net1, small, null, options, r1);
    string file = Path.Combine(dir, "model.safetensors");
    FFLib.IO.ModelCheckpoint.Save(file, net1);
    var onCpu = (FFNetwork)FFLib.IO.ModelCheckpoint.Load(file).Model;
    var probe = test.ToMatrix(0, Math.Min(1000, test.Count));
    var gpuScores = net1.LabelScores(probe).Data;
    var cpuScores = onCpu.LabelScores(probe).Data;
    double worst = gpuScores.Zip(cpuScores, (a, b) => Math.Abs(a - b) / Math.Max(1e-3, Math.Abs(b))).Max();
    int agree = net1.Predict(probe).Zip(onCpu.Predict(probe), (a, b) => a == b ? 1 : 0).Sum();
    Console.WriteLine($"checkpoint: trained on the GPU, saved, loaded on the CPU: predictions agree on {agree}/{probe.Rows}, label scores within {worst:E2} relative");

    var two = options with { Epochs = 2 };
    var ra = new FFRandom(22);
    var whole = new FFNetwork(new FFNetworkConfig { HiddenSizes = widths }, ra) { Backend = gpu };
    trainer.Train(whole, small, null, two, ra);
    var rb = new FFRandom(22);
    var first = new FFNetwork(new FFNetworkConfig { HiddenSizes = widths }, rb) { Backend = gpu };
    trainer.Train(first, small, null, options, rb); // epoch 1 of the run; then checkpoint, reload, finish with epoch 2
    string ckpt = Path.Combine(dir, "checkpoint.safetensors");
    FFLib.Training.TrainingCheckpoint.Save(ckpt, first, rb, 1, [], new RunSpec());
    var state = FFLib.Training.TrainingCheckpoint.Load(ckpt);
    ((FFNetwork)state.Model).Backend = gpu;
    trainer.Train(state.Model, small, null, two, state.Random, startEpoch: 2);
    Console.WriteLine($"resume on the GPU: uninterrupted 2 epochs {Hash(whole)}, 1 epoch + checkpoint + 1 epoch {Hash((FFNetwork)state.Model)} ({(Hash(whole) == Hash((FFNetwork)state.Model) ? "identical" : "DIFFERENT")})");
    Directory.Delete(dir, recursive: true);
}

// 4c. Several runs at once (the sweep stretch goal): the same runs of the paper's FFNN through the
// sweep runner, one after another on one stream, then four at a time on four streams of the GPU.
if (parts.Contains("streams"))
try
{
    int seeds = simulate ? 2 : 8, epochs = simulate ? 1 : 3;
    var runs = new FFLib.Experiments.SweepSpec
    {
        Layers = [widths], Seeds = seeds, Epochs = epochs, TrainLimit = simulate ? 600 : null, TestLimit = simulate ? 100 : null,
        Data = new DatasetLoadOptions { DataDirectory = args[0], AllowDownload = false },
    }.Expand();
    string root = Directory.CreateTempSubdirectory("fflib-streams-").FullName;
    double Sweep(IReadOnlyList<ComputeBackend> backends, string name)
    {
        var watch = Stopwatch.StartNew();
        var outcome = FFLib.Experiments.SweepRunner.RunConcurrently(runs, Path.Combine(root, name), backends);
        if (outcome.Written.Count != runs.Count) Console.WriteLine($"streams: {name} wrote {outcome.Written.Count} of {runs.Count} records");
        return watch.Elapsed.TotalSeconds;
    }
    // A baseline: the earlier parts' models (out of scope, never released by this program) collected.
    GC.Collect();
    GC.WaitForPendingFinalizers();
    string before = GpuMemoryUsed();
    long heldBefore = gpu.MemoryInUse;
    double one = Sweep([gpu], "one");
    long heldAfterOne = gpu.MemoryInUse;
    var extra = Enumerable.Range(0, 3).Select(_ => gpu.CreateStream()).ToArray();
    double four = Sweep([gpu, .. extra], "four");
    foreach (var e in extra) e.Dispose();
    // Each run frees its model's device memory when it ends: what stays is one resident training set and scratch.
    string after = GpuMemoryUsed();
    long heldAfter = gpu.MemoryInUse;
    GC.Collect();
    GC.WaitForPendingFinalizers();
    Console.WriteLine($"streams: GPU memory in use (nvidia-smi) before the {2 * runs.Count} runs {before}, after them {after}, after a full collection {GpuMemoryUsed()}; " +
        $"held by the backend's arrays: {heldBefore / 1e6:F2} MB before, {heldAfterOne / 1e6:F2} MB after the one-stream sweep, {heldAfter / 1e6:F2} MB after the four-stream one, {gpu.MemoryInUse / 1e6:F2} MB after the collection");
    var same = runs.Select(FFLib.Experiments.SweepRunner.RunId).All(id =>
        FFLib.Experiments.SweepResults.TryRead(Path.Combine(root, "one", "runs", id + ".json")).Record?.TestAccuracy ==
        FFLib.Experiments.SweepResults.TryRead(Path.Combine(root, "four", "runs", id + ".json")).Record?.TestAccuracy);
    // Runs per hour as 60-epoch runs: each run here is `epochs` epochs plus its test and analysis.
    double perHour(double seconds) => runs.Count * 3600 / seconds * epochs / 60;
    Console.WriteLine($"streams: {runs.Count} FFNN {string.Join("×", widths)} runs of {epochs} epoch(s) each (with test and sparsity): one stream {one:F1} s, four streams {four:F1} s ({one / four:F2}× the throughput); " +
        $"{perHour(one):F0} vs {perHour(four):F0} runs per hour scaled to 60 epochs; test accuracies {(same ? "identical" : "DIFFERENT")} run by run");
    Directory.Delete(root, recursive: true);
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    // One part failing must not cost the rest of the device call.
    Console.WriteLine($"streams: FAILED: {e.GetType().Name}: {e.Message}");
}

// 4d. --precision tf32, measured on its own: the deviation from the CPU after 3 Adam steps, the
// FFNN epoch, and the paper's run's accuracy (when an epoch is fast enough).
if (parts.Contains("tf32"))
try
{
    using var tf = simulate ? GpuBackend.CreateSimulator(GpuPrecision.Tf32) : GpuBackend.CreateCuda(0, GpuPrecision.Tf32);
    var cpu = new FFNetwork(new FFNetworkConfig { HiddenSizes = [300, 200] }, new FFRandom(11));
    var dev = new FFNetwork(new FFNetworkConfig { HiddenSizes = [300, 200] }, new FFRandom(11)) { Backend = tf };
    var images = train.ToMatrix(0, 64);
    var labels = Enumerable.Range(0, 64).Select(train.Label).ToArray();
    var wrong = labels.Select(l => (l + 3) % 10).ToArray();
    for (int step = 0; step < 3; step++) { cpu.TrainBatch(images, labels, wrong); dev.TrainBatch(images, labels, wrong); }
    dev.SynchronizeToHost();
    double worst = 0, scale = 0;
    foreach (var (p, q) in cpu.Parameters().Zip(dev.Parameters()))
        for (int i = 0; i < p.Data.Length; i++) { worst = Math.Max(worst, Math.Abs(p.Data[i] - q.Data[i])); scale = Math.Max(scale, Math.Abs(p.Data[i])); }
    Console.WriteLine($"tf32 numerics: 3 Adam steps, max |Δw| {worst:E2} from the CPU (relative {worst / scale:E2})");
    var r = new FFRandom(42);
    var net = new FFNetwork(new FFNetworkConfig { HiddenSizes = widths }, r) { Backend = tf };
    trainer.Train(net, train, null, options, r);
    tf.Synchronize();
    var times = new List<double>();
    for (int e = 0; e < (simulate ? 1 : 3); e++)
    {
        var watch = Stopwatch.StartNew();
        trainer.Train(net, train, null, options, r);
        tf.Synchronize();
        times.Add(watch.Elapsed.TotalSeconds);
    }
    Console.WriteLine($"tf32 FFNN {string.Join("×", widths)} epoch: {string.Join(", ", times.Select(t => $"{t:F3} s"))}; test accuracy after {1 + times.Count} epochs {Evaluation.Accuracy(net, test):P2}");
    if (!simulate && parts.Contains("paper") && times.Average() * paperEpochs < 240)
    {
        var rp = new FFRandom(42);
        var paper = new FFNetwork(new FFNetworkConfig(), rp) { Backend = tf };
        var watch = Stopwatch.StartNew();
        new Trainer().Train(paper, train, validation, new TrainingOptions { Epochs = paperEpochs, ValidateEachEpoch = false }, rp);
        tf.Synchronize();
        Console.WriteLine($"tf32 paper FFNN: {paperEpochs} epochs in {watch.Elapsed.TotalSeconds:F1} s, test accuracy {Evaluation.Accuracy(paper, test):P2}");
    }
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    // One part failing must not cost the rest of the device call.
    Console.WriteLine($"tf32: FAILED: {e.GetType().Name}: {e.Message}");
}

// The GPU's memory in use (nvidia-smi), or why not.
string GpuMemoryUsed()
{
    if (simulate) return "n/a (simulated)";
    try
    {
        var psi = new ProcessStartInfo("nvidia-smi", "--query-gpu=memory.used --format=csv,noheader") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return text;
    }
    catch (Exception e) { return $"n/a ({e.Message})"; }
}

// Kernel launches, products and transfers per training batch; waits for the device per epoch.
static string PerBatch(GpuActivity a, int epochs, int images, int batchSize = 128)
{
    double batches = epochs * Math.Ceiling(images / (double)batchSize);
    return $"per batch: {a.Launches / batches:F1} kernel launches, {a.Products / batches:F1} products, {a.Uploads / batches:F2} uploads, {a.Downloads / batches:F3} downloads; {a.Waits / (double)epochs:F1} waits for the device per epoch";
}

// 5. The other architectures at the paper's sizes: a warm-up on a few batches, one timed epoch, prediction.
void Architecture(string name, ITrainableModel model, Action<ITrainableModel> run, double limitSeconds, int epochs = 1)
{
    ((FFLib.Modules.ComputeModule)model).Backend = gpu;
    var r = new FFRandom(3);
    trainer.Train(model, train.Take(simulate ? 128 : 1280), null, options, r);
    gpu.Synchronize();
    var before = gpu.Activity;
    var watch = Stopwatch.StartNew();
    run(model);
    gpu.Synchronize();
    Console.WriteLine($"{name}: {watch.Elapsed.TotalSeconds:F3} s; {PerBatch(gpu.Activity - before, epochs, train.Count)}");
    watch.Restart();
    double a = Evaluation.Accuracy(model, test, chunk: test.Count);
    gpu.Synchronize();
    Console.WriteLine($"{name}: predict {test.Count} test images {watch.Elapsed.TotalSeconds:F3} s (accuracy {a:P2})");
}
var fullEpoch = new TrainingOptions { Epochs = 1, ValidateEachEpoch = false };
if (parts.Contains("bpnn"))
    Architecture($"BPNN {string.Join("×", widths)} epoch ({train.Count} images)", new BackpropNetwork(new BackpropNetworkConfig { HiddenSizes = widths }, new FFRandom(5)),
        m => trainer.Train(m, train, null, fullEpoch, new FFRandom(6)), 60);
if (parts.Contains("ffc"))
    Architecture($"FFNN+C {string.Join("×", widths)} FF epoch + classifier epoch ({train.Count} images each)", new FFClassifierNetwork(new FFNetworkConfig { HiddenSizes = widths }, 1e-4f, new FFRandom(5)),
        m =>
        {
            var epochs = trainer.Train(m, train, null, fullEpoch with { Epochs = 2 }, new FFRandom(6));
            Console.WriteLine("FFNN+C phases: " + string.Join(", ", epochs.Select(e => $"{e.Phase} {e.TrainSeconds:F3} s")));
        }, 60, epochs: 2);
if (parts.Contains("ffrnn"))
{
    // A tenth of an epoch first: the full one only if it fits the device time.
    var rnn = new FFRecurrentNetwork(new FFRecurrentConfig { HiddenSizes = widths }, new FFRandom(5)) { Backend = gpu };
    var r = new FFRandom(6);
    trainer.Train(rnn, train.Take(simulate ? 64 : 1280), null, options, r);
    gpu.Synchronize();
    var part = train.Take(simulate ? 128 : train.Count / 10);
    var before = gpu.Activity;
    var watch = Stopwatch.StartNew();
    trainer.Train(rnn, part, null, options, r);
    gpu.Synchronize();
    double tenth = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"FFRNN {string.Join("×", widths)}: {part.Count} images in {tenth:F2} s ({part.Count / tenth:F0} images/s); {PerBatch(gpu.Activity - before, 1, part.Count)}");
    if (!simulate && tenth * 10 < 90)
    {
        watch.Restart();
        trainer.Train(rnn, train, null, options, r);
        gpu.Synchronize();
        Console.WriteLine($"FFRNN {string.Join("×", widths)} epoch ({train.Count} images): {watch.Elapsed.TotalSeconds:F2} s");
    }
    watch.Restart();
    double a = Evaluation.Accuracy(rnn, test, chunk: test.Count);
    gpu.Synchronize();
    Console.WriteLine($"FFRNN: predict {test.Count} test images {watch.Elapsed.TotalSeconds:F2} s (accuracy {a:P2})");
}
// 6. The competitive FF CNN of docs/cnn.md (40,80,160, 5p,3p,3, batch 64) and its batch-normalised 32,64,128 form:
// two training steps on the GPU against the CPU, then a warm-up, one timed epoch and prediction on the GPU.
if (parts.Contains("cnn"))
{
    try
    {
        foreach (var (label, layers, bn) in new[] { ("FF CNN 40,80,160", new[] { 40, 80, 160 }, false), ("FF CNN 32,64,128 batch-norm", new[] { 32, 64, 128 }, true) })
        {
            var settings = new ModelSettings { HiddenSizes = simulate ? layers.Select(c => Math.Max(10, c / 4)).ToArray() : layers, LearningRate = 0.003f }
                .With(CnnSettings.Conv, "5p,3p,3").With(CnnSettings.Objective, ConvObjective.Competitive).With(CnnSettings.BatchNorm, bn);
            var arch = ArchitectureRegistry.Get("ffcnn");
            var cpuNet = arch.Create(settings, 784, 10, new FFRandom(42));
            var gpuNet = arch.Create(settings, 784, 10, new FFRandom(42));
            ((FFLib.Modules.ComputeModule)gpuNet).Backend = gpu;
            var steps = new TrainingOptions { Epochs = 1, BatchSize = 64, ValidateEachEpoch = false };
            new Trainer().Train(cpuNet, train.Take(128), null, steps, new FFRandom(1));
            new Trainer().Train(gpuNet, train.Take(128), null, steps, new FFRandom(1));
            var probe = test.Take(200);
            var (sc, sg) = (((FFConvNetwork)cpuNet).LabelScores(probe.ToMatrix()), ((FFConvNetwork)gpuNet).LabelScores(probe.ToMatrix()));
            double worst = 0;
            for (int i = 0; i < sc.Data.Length; i++) worst = Math.Max(worst, Math.Abs(sc.Data[i] - sg.Data[i]) / Math.Max(1e-6, Math.Abs(sc.Data[i])));
            int agree = cpuNet.Predict(probe.ToMatrix()).Zip(gpuNet.Predict(probe.ToMatrix()), (x, y) => x == y ? 1 : 0).Sum();
            Console.WriteLine($"{label} numerics: 2 steps, max relative score difference {worst:E2}, predictions agree on {agree}/200");
            var net = arch.Create(settings, 784, 10, new FFRandom(42));
            ((FFLib.Modules.ComputeModule)net).Backend = gpu;
            // The simulator runs the kernels one element at a time: a rehearsal there takes a few batches only.
            var (epochSet, testSet) = simulate ? (train.Take(128), test.Take(100)) : (train, test);
            new Trainer().Train(net, train.Take(simulate ? 64 : 640), null, steps, new FFRandom(2));
            gpu.Synchronize();
            var before = gpu.Activity;
            var watch = Stopwatch.StartNew();
            new Trainer().Train(net, epochSet, null, steps, new FFRandom(3));
            gpu.Synchronize();
            double epoch = watch.Elapsed.TotalSeconds;
            Console.WriteLine($"{label} epoch ({epochSet.Count} images, batch 64): {epoch:F2} s ({epochSet.Count / epoch:F0} images/s); {PerBatch(gpu.Activity - before, 1, epochSet.Count, 64)}");
            watch.Restart();
            double acc = Evaluation.Accuracy(net, testSet);
            gpu.Synchronize();
            Console.WriteLine($"{label}: predict {testSet.Count} test images {watch.Elapsed.TotalSeconds:F2} s (accuracy after 1 epoch {acc:P2})");
            ((FFLib.Modules.ComputeModule)net).ReleaseDeviceMemory();
            ((FFLib.Modules.ComputeModule)gpuNet).ReleaseDeviceMemory();
        }
    }
    catch (Exception e) when (e is not OutOfMemoryException)
    {
        Console.WriteLine($"cnn: FAILED: {e.GetType().Name}: {e.Message}");
    }
}
gpu.Dispose();
return 0;
