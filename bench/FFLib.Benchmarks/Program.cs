using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;
using FFLib.IO;
using FFLib.Training;
using Architecture = FFLib.Models.Architecture;

// FFLib benchmarks. Timings drift on shared machines: every comparison is measured in the same run.
//   dotnet run -c Release --project bench/FFLib.Benchmarks -- gemm  [--threads N] [--openblas]
//   dotnet run -c Release --project bench/FFLib.Benchmarks -- train [--model ffnn|ffc|bpnn|ffrnn] [--threads N] [--train-limit N] [--test-limit N] [--torch]
//   dotnet run -c Release --project bench/FFLib.Benchmarks -- ffnn  (= train --model ffnn)
//   (train/ffnn --plain: the exact shortcuts off, for an A/B comparison)
//   dotnet run -c Release --project bench/FFLib.Benchmarks -- profile   (each part of an FFNN 2×2000 batch, timed alone)
//   dotnet run -c Release --project bench/FFLib.Benchmarks -- sparsity  (dead neurons per layer during FFNN training)
//   dotnet run -c Release --project bench/FFLib.Benchmarks -- regularisers [--model ffnn|ffrnn] [--rounds N]  (each regulariser's epoch cost, same run)
//   dotnet run -c Release --project bench/FFLib.Benchmarks -- cnn [--train-limit N] [--test-limit N] [--torch]  (competitive FF CNN 40,80,160 epoch; --torch: tests/reference/cnn_torch.py in the same run)
// --openblas compares with OpenBLAS's sgemm (Debian libopenblas0-pthread, OPENBLAS_CORETYPE=SkylakeX set here);
// --torch runs tests/reference/ffnn_torch.py (Debian python3-torch) on the same data and prints the ratio.
var argv = args.ToList();
string mode = argv.Count > 0 && !argv[0].StartsWith("--") ? argv[0] : "gemm";
int threads = Opt("--threads", Environment.ProcessorCount);
if (argv.Contains("--pack-a")) FFLib.Compute.Gemm.DirectAColumns = 0; // A/B: pack A even for narrow C
int trainLimit = Opt("--train-limit", 60000);
ComputeSettings.Threads = threads;
Console.WriteLine($"hardware: {Environment.ProcessorCount} logical cores, SIMD {ComputeSettings.SimdPath} (Vector512 {Vector512.IsHardwareAccelerated}, Vector256 {Vector256.IsHardwareAccelerated}), {RuntimeInformation.OSArchitecture}, {RuntimeInformation.FrameworkDescription}; threads {threads}");
if (mode == "gemm") Gemm(argv.Contains("--openblas"));
else if (mode == "ffnn") TrainBench("ffnn", argv.Contains("--torch"));
else if (mode == "train") TrainBench(OptString("--model", "ffnn"), argv.Contains("--torch"));
else if (mode == "profile") Profile();
else if (mode == "sparsity") SparsityProbe();
else if (mode == "memory") MemoryProbe();
else if (mode == "regularisers") RegulariserCost(OptString("--model", "ffnn"), Opt("--rounds", 3));
else if (mode == "cnn") CnnBench(argv.Contains("--torch"));
else { Console.Error.WriteLine($"unknown mode '{mode}' (gemm, train, ffnn, profile, sparsity, memory, regularisers, cnn)"); return 2; }
return 0;

string OptString(string name, string fallback)
{
    int i = argv.IndexOf(name);
    return i >= 0 && i + 1 < argv.Count ? argv[i + 1] : fallback;
}

int Opt(string name, int fallback)
{
    int i = argv.IndexOf(name);
    return i >= 0 && i + 1 < argv.Count ? int.Parse(argv[i + 1], CultureInfo.InvariantCulture) : fallback;
}

void Gemm(bool openblas)
{
    if (openblas)
    {
        Environment.SetEnvironmentVariable("OPENBLAS_CORETYPE", "SkylakeX");
        OpenBlas.openblas_set_num_threads(threads);
    }
    var shapes = new (string Name, bool Ta, bool Tb, int M, int N, int K)[]
    {
        ("x·W1ᵀ 128×794·794×2000 (NT)", false, true, 128, 2000, 794),
        ("x·W2ᵀ 256×2000·2000×2000 (NT)", false, true, 256, 2000, 2000),
        ("δᵀ·x 2000×128·128×784 (TN)", true, false, 2000, 784, 128),
        ("δᵀ·x 2000×256·256×2000 (TN)", true, false, 2000, 2000, 256),
        ("δ·W 256×2000·2000×2000 (NN)", false, false, 256, 2000, 2000),
        ("2048³ (NN)", false, false, 2048, 2048, 2048),
    };
    // --cnn: the six products of one batch of 64 of the CNN benchmark (40,80,160 channels, 5p,3p,3): im2col rows · kernelᵀ, δᵀ · im2col.
    if (argv.Contains("--cnn"))
        shapes =
        [
            ("L1 cols·Wᵀ 50176×25·25×40 (NT)", false, true, 50176, 40, 25),
            ("L1 δᵀ·cols 40×50176·50176×25 (TN)", true, false, 40, 25, 50176),
            ("L2 cols·Wᵀ 12544×360·360×80 (NT)", false, true, 12544, 80, 360),
            ("L2 δᵀ·cols 80×12544·12544×360 (TN)", true, false, 80, 360, 12544),
            ("L3 cols·Wᵀ 3136×720·720×160 (NT)", false, true, 3136, 160, 720),
            ("L3 δᵀ·cols 160×3136·3136×720 (TN)", true, false, 160, 720, 3136),
        ];
    double ceiling = 0;
    var rng = new FFRandom(1);
    foreach (var (name, ta, tb, m, n, k) in shapes)
    {
        var a = Fill(m * k); var b = Fill(k * n); var c = new float[m * n];
        int lda = ta ? m : k, ldb = tb ? k : n;
        double flops = 2.0 * m * n * k;
        double ours = Time(() => FFLib.Compute.Gemm.Multiply(ta, tb, m, n, k, a, lda, b, ldb, c, n, false, threads), flops);
        ceiling = Math.Max(ceiling, ours);
        string line = $"{name,-34} FFLib {ours,7:F1} GF/s ({flops / ours / 1e6:F2} ms)";
        if (openblas)
        {
            double blas = Time(() => OpenBlas.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, n), flops);
            line += $"   OpenBLAS {blas,7:F1} GF/s   ratio {ours / blas:F2}";
        }
        Console.WriteLine(line);
    }
    // The plain reference on a small shape, to show what the packing and micro-kernel buy.
    {
        int m = 128, n = 256, k = 256;
        var a = Fill(m * k); var b = Fill(k * n); var c = new float[m * n];
        double refGf = Time(() => GemmReference.Multiply(false, true, m, n, k, a, k, b, k, c, n, false), 2.0 * m * n * k, minSeconds: 0.5);
        double fast = Time(() => FFLib.Compute.Gemm.Multiply(false, true, m, n, k, a, k, b, k, c, n, false, threads), 2.0 * m * n * k);
        Console.WriteLine($"{"scalar reference 128×256·256×256",-34} {refGf,7:F2} GF/s vs FFLib {fast:F1} GF/s ({fast / refGf:F0}×)");
    }
    Console.WriteLine($"best FFLib product: {ceiling:F1} GF/s");

    float[] Fill(int len) { var x = new float[len]; for (int i = 0; i < len; i++) x[i] = rng.NextSingle() - 0.5f; return x; }
}

static double Time(Action run, double flops, double minSeconds = 1.0)
{
    for (int w = 0; w < 3; w++) run();
    int reps = 0;
    var sw = Stopwatch.StartNew();
    while (sw.Elapsed.TotalSeconds < minSeconds || reps < 3) { run(); reps++; }
    return flops * reps / sw.Elapsed.TotalSeconds / 1e9;
}

void TrainBench(string model, bool torch)
{
    var arch = ModelCheckpoint.ParseArchitecture(model);
    int testLimit = Opt("--test-limit", 10000);
    var data = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false });
    var (train, _) = data.Train.Take(trainLimit).SplitLast(0.1);
    var test = data.Test.Take(testLimit);
    var spec = new RunSpec { Architecture = arch };
    // The product ceiling of this machine, measured now: the best of the layer-2 products.
    double ceiling = 0;
    {
        var rng = new FFRandom(5);
        float[] Fill(int len) { var x = new float[len]; for (int i = 0; i < len; i++) x[i] = rng.NextSingle() - 0.5f; return x; }
        var a = Fill(256 * 2000); var w = Fill(2000 * 2000); var c = new float[2000 * 2000];
        ceiling = Math.Max(Time(() => FFLib.Compute.Gemm.Multiply(false, true, 256, 2000, 2000, a, 2000, w, 2000, c, 2000, false, threads), 2.0 * 256 * 2000 * 2000, 0.5),
                           Time(() => FFLib.Compute.Gemm.Multiply(true, false, 2000, 2000, 256, a, 2000, a, 2000, c, 2000, false, threads), 2.0 * 256 * 2000 * 2000, 0.5));
    }
    Console.WriteLine($"product ceiling measured now (layer-2 shapes): {ceiling:F0} GF/s");
    // Warm-up: a few batches so the JIT has optimised the hot loop.
    new Trainer().Train(TrainingRun.CreateModel(spec, 784, 10, new FFRandom(42)), train.Take(1280), null,
        new TrainingOptions { Epochs = arch == Architecture.Ffc ? 2 : 1, ValidateEachEpoch = false }, new FFRandom(1));
    var net = TrainingRun.CreateModel(spec, 784, 10, new FFRandom(42));
    // A/B switches for the exact shortcuts (same bits either way, so only the time changes).
    if (argv.Contains("--plain"))
    {
        if (net is FFNetwork f) { f.UseSparseGradient = false; }
        if (net is FFRecurrentNetwork rn) { rn.UseSparseGradient = false; rn.ShareImageProduct = false; }
        Console.WriteLine("--plain: dead-neuron shortcut and FFRNN image-product sharing off");
    }
    // FFNN+C: one epoch of each phase (FF stack, then the classifier on the frozen stack).
    // Allocation in the steady state: counted from the second batch on (the first sizes the model's buffers).
    long allocated = 0;
    int gcs = 0, counted = 0;
    var trainer = new Trainer
    {
        BeforeBatch = b =>
        {
            if (b.Epoch == 1 && b.Batch == 2) { allocated = GC.GetTotalAllocatedBytes(precise: true); gcs = GC.CollectionCount(0); }
            if (b.Epoch == 1 && b.Batch >= 2) counted++;
        },
    };
    var history = trainer.Train(net, train, null, new TrainingOptions { Epochs = arch == Architecture.Ffc ? 2 : 1, ValidateEachEpoch = false }, new FFRandom(2));
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    gcs = GC.CollectionCount(0) - gcs;
    double epoch = history[0].TrainSeconds;
    var sw = Stopwatch.StartNew();
    double acc = Evaluation.Accuracy(net, test);
    double predict = sw.Elapsed.TotalSeconds;
    long peak = PeakRssBytes();
    string name = arch.DisplayName;
    Console.WriteLine($"{name} 2×2000 epoch ({history[0].Phase}): {train.Count} images in {epoch:F1} s ({train.Count / epoch:F0} samples/s)");
    int batchCount = counted + (history.Count - 1) * ((train.Count + 127) / 128);
    Console.WriteLine($"  managed allocation while training: {allocated / 1024.0 / Math.Max(1, batchCount):F1} KiB per batch after the first ({gcs} gen-0 collections)");
    if (arch == Architecture.Ffc) Console.WriteLine($"FFNN+C classifier-phase epoch: {history[1].TrainSeconds:F1} s ({train.Count / history[1].TrainSeconds:F0} samples/s)");
    if (arch == Architecture.Ffnn)
    {
        // docs/performance.md cost model with its identities 1–5: 5.3 GF per 128-image batch. Skipped dead-neuron
        // rows count as done (they are exact zeros), so this is the rate a dense implementation would need.
        double gf = 5.3 * train.Count / 128.0;
        Console.WriteLine($"  cost-model rate: {gf / epoch:F0} GF/s = {gf / epoch / ceiling:P0} of the product ceiling");
    }
    Console.WriteLine($"predict {test.Count:N0} test images: {predict:F2} s (accuracy after this short training {acc:P2})");
    Console.WriteLine($"peak resident memory of this process: {peak / 1e6:F0} MB");
    if (!torch) return;
    // The PyTorch baseline of the same architecture (tests/reference/ffnn_torch.py) on the same data, in this run.
    var Field = RunTorch("ffnn_torch.py", $"train {data.Location.Folder} --model {ModelCheckpoint.ArchitectureId(arch)} --layers 2000,2000 --epochs 1 --train-limit {trainLimit} --test-limit {testLimit}",
        "PyTorch reference (same data, same run): ");
    double tTrain = Field("train"), tTest = Field("test");
    string classifier = arch == Architecture.Ffc ? $", classifier phase {Field("classifier") / history[1].TrainSeconds:F2}×" : "";
    Console.WriteLine($"ratio (PyTorch / FFLib): epoch {tTrain / epoch:F2}×{classifier}, prediction {tTest / predict:F2}×");
}

void Profile()
{
    var rng = new FFRandom(3);
    float[] F(int len) { var x = new float[len]; for (int i = 0; i < len; i++) x[i] = rng.NextSingle(); return x; }
    int b = 128, rows = 256, h = 2000, px = 784;
    var img = F(b * px); var w1 = F(h * 794); var w2 = F(h * h); var x2 = F(rows * h); var out2 = new float[rows * h]; var p1 = new float[b * h];
    var g2 = new float[h * h]; var g1 = new float[h * 794];
    var m2 = new float[h * h]; var v2 = new float[h * h]; var s2 = new float[h * h];
    var inv = F(rows); var bias = F(h); var ms = new float[rows]; var cs = new float[h];
    void T(string name, Action a)
    {
        for (int i = 0; i < 3; i++) a();
        long bytes = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew(); int n = 0;
        while (sw.Elapsed.TotalSeconds < 1 || n < 5) { a(); n++; }
        double ms = sw.Elapsed.TotalMilliseconds / n;
        Console.WriteLine($"{name,-40} {ms,8:F3} ms  {(GC.GetTotalAllocatedBytes(true) - bytes) / (double)n,8:F0} B allocated per call");
    }
    T("L1 image product 128x784x2000", () => FFLib.Compute.Gemm.Multiply(false, true, b, h, px, img, px, w1, 794, p1, h, false, threads));
    T("L1 grad 2000x128x784", () => FFLib.Compute.Gemm.Multiply(true, false, h, px, b, p1, h, img, px, g1, 794, false, threads));
    T("L2 forward 256x2000x2000", () => FFLib.Compute.Gemm.Multiply(false, true, rows, h, h, x2, h, w2, h, out2, h, false, threads));
    T("L2 grad 2000x256x2000", () => FFLib.Compute.Gemm.Multiply(true, false, h, h, rows, out2, h, x2, h, g2, h, false, threads));
    T("Adam 4M", () => Kernels.AdamStep(w2, g2, m2, v2, 0.001f, 0.9f, 0.999f, 1e-8f, 10, threads));
    T("Adam 1.6M", () => Kernels.AdamStep(w1.AsSpan(), g1, m2.AsSpan(0, w1.Length), v2.AsSpan(0, w1.Length), 0.001f, 0.9f, 0.999f, 1e-8f, 10, threads));
    var po = new ParallelOptions { MaxDegreeOfParallelism = threads };
    T("empty Parallel.For over 2", () => Parallel.For(0, 2, po, i => { }));
    T("empty Parallel.For over 64", () => Parallel.For(0, 64, po, i => { }));
    T("ScaleBiasRelu 256x2000", () => Kernels.ScaleBiasRelu(out2, rows, h, inv, bias));
    T("MeanSquares 256x2000", () => Kernels.MeanSquares(out2, rows, h, ms));
    T("ScaleRows 256x2000", () => Kernels.ScaleRows(out2, rows, h, inv));
    T("ColumnSums 256x2000", () => Kernels.ColumnSums(out2, rows, h, cs));
    T("InverseRowNorms 256x2000", () => Kernels.InverseRowNorms(x2, rows, h, inv));
}

// Each regulariser's cost on an FF epoch, against no regulariser in the same run: configurations alternate
// within each round, every run trains a fresh model from the same seed for 2 epochs and keeps its faster
// epoch; the median over rounds is reported. "plain" runs turn the dead-neuron shortcut off, so the ratio
// between them is the regulariser's own arithmetic, not the work of the units it keeps alive.
void RegulariserCost(string model, int rounds)
{
    var arch = ModelCheckpoint.ParseArchitecture(model);
    var data = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false });
    var (train, _) = data.Train.Take(trainLimit == 60000 ? 12000 : trainLimit).SplitLast(0.1);
    var baseSettings = new ModelSettings { HiddenSizes = arch == Architecture.Ffrnn ? [500, 500] : [2000, 2000] };
    var configs = new (string Name, ModelSettings Settings, bool Plain)[]
    {
        ("none", baseSettings, false),
        ("peer-norm 0.03", baseSettings.With(FFSettings.PeerNormalization, 0.03f), false),
        ("activity-l1 1e-5", baseSettings.With(FFSettings.ActivityL1, 1e-5f), false),
        ("weight-decay 1e-2", baseSettings.With(FFSettings.WeightDecay, 1e-2f), false),
        ("none, plain", baseSettings, true),
        ("peer-norm 0.03, plain", baseSettings.With(FFSettings.PeerNormalization, 0.03f), true),
    };
    Console.WriteLine($"{arch.DisplayName} {string.Join('×', baseSettings.HiddenSizes)}, {train.Count} images, 2 epochs per run (faster kept), {rounds} rounds, threads {threads}");
    double Run(ModelSettings settings, bool plain, int epochs = 2)
    {
        var net = arch.Create(settings, 784, 10, new FFRandom(42));
        if (plain && net is FFNetwork f) f.UseSparseGradient = false;
        if (plain && net is FFRecurrentNetwork rn) rn.UseSparseGradient = false;
        var history = new Trainer().Train(net, train, null, new TrainingOptions { Epochs = epochs, ValidateEachEpoch = false }, new FFRandom(2));
        return history.Min(h => h.TrainSeconds);
    }
    Run(baseSettings, false, 1); // warm-up: the JIT's optimised code before the first timed run
    var times = configs.Select(_ => new List<double>()).ToArray();
    for (int round = 0; round < rounds; round++)
        for (int c = 0; c < configs.Length; c++)
        {
            times[c].Add(Run(configs[c].Settings, configs[c].Plain));
            Console.WriteLine($"  round {round + 1} {configs[c].Name,-24} {times[c][^1]:F2} s");
        }
    double Median(List<double> t) { var s = t.Order().ToArray(); return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }
    for (int c = 0; c < configs.Length; c++)
    {
        int baseline = configs[c].Plain ? 4 : 0;
        Console.WriteLine($"{configs[c].Name,-24} median {Median(times[c]):F2} s  ({string.Join(" / ", times[c].Select(t => t.ToString("F2", CultureInfo.InvariantCulture)))})  " +
            $"{(Median(times[c]) / Median(times[baseline]) - 1) * 100:+0;-0}% vs {configs[baseline].Name}");
    }
}

void SparsityProbe()
{
    var data = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false });
    var (train, _) = data.Train.Take(trainLimit).SplitLast(0.1);
    var net = new FFNetwork(new FFNetworkConfig { HiddenSizes = [2000, 2000] }, new FFRandom(42));
    int batch = 0;
    double[] zero = new double[2], deadCol = new double[2], grp8 = new double[2], grp32 = new double[2]; int n = 0;
    net.ActivationObserver = (in LayerActivation a) =>
    {
        int l = a.Layer, rows = a.Rows, w = a.Width; var h = a.Activations;
        long z = 0; for (int i = 0; i < rows * w; i++) if (h[i] == 0) z++;
        int dc = 0; for (int j = 0; j < w; j++) { bool all = true; for (int r = 0; r < rows; r++) if (h[r * w + j] != 0) { all = false; break; } if (all) dc++; }
        // (8 rows, neuron) all zero: what a forward micro-kernel over rows could skip; (8 neurons, row): what the gradient could skip.
        long g8 = 0, t8 = 0; for (int r0 = 0; r0 + 8 <= rows; r0 += 8) for (int j = 0; j < w; j++) { bool all = true; for (int r = r0; r < r0 + 8; r++) if (h[r * w + j] != 0) { all = false; break; } if (all) g8++; t8++; }
        long gn = 0, tn = 0; for (int r = 0; r < rows; r++) for (int j0 = 0; j0 + 8 <= w; j0 += 8) { bool all = true; for (int j = j0; j < j0 + 8; j++) if (h[r * w + j] != 0) { all = false; break; } if (all) gn++; tn++; }
        zero[l] += (double)z / (rows * w); deadCol[l] += (double)dc / w; grp8[l] += (double)g8 / t8; grp32[l] += (double)gn / tn;
        if (l == 1) { n++; batch++; if (batch % 100 == 0) { Console.WriteLine($"batch {batch}: " + string.Join(" | ", Enumerable.Range(0, 2).Select(k => $"L{k + 1} zeros {zero[k] / n:P1} dead-in-batch {deadCol[k] / n:P1} 8rows×neuron {grp8[k] / n:P1} row×8neurons {grp32[k] / n:P1}"))); Array.Clear(zero); Array.Clear(deadCol); Array.Clear(grp8); Array.Clear(grp32); n = 0; } }
    };
    new Trainer().Train(net, train, null, new TrainingOptions { Epochs = Opt("--epochs", 3), ValidateEachEpoch = false }, new FFRandom(2));
    var opts = (FFLib.Optim.AdamOptimizer[])typeof(FFNetwork).GetField("_optimizers", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(net)!;
    for (int l = 0; l < opts.Length; l++)
    {
        var mm = opts[l].FirstMoments[0]; var vv = opts[l].SecondMoments[0]; int cols = l == 0 ? 794 : 2000;
        int zeroRows = 0, tinyM = 0;
        for (int j = 0; j < mm.Length / cols; j++)
        {
            bool z = true; bool t = true;
            for (int c = 0; c < cols; c++) { if (mm[j * cols + c] != 0 || vv[j * cols + c] != 0) z = false; if (Math.Abs(mm[j * cols + c]) > 1e-30) t = false; }
            if (z) zeroRows++; if (t) tinyM++;
        }
        Console.WriteLine($"layer {l + 1}: rows with m = v = 0: {zeroRows}, rows with |m| <= 1e-30: {tinyM} of {mm.Length / cols}");
    }
}

void MemoryProbe()
{
    // Managed heap by generation after each epoch of a validated FFNN run: is resident memory live data or uncollected garbage?
    var data = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false });
    var (train, val) = data.Train.Take(trainLimit).SplitLast(0.1);
    var net = new FFNetwork(new FFNetworkConfig { HiddenSizes = [2000, 2000] }, new FFRandom(42));
    var trainer = new Trainer
    {
        EpochCompleted = m =>
        {
            var info = GC.GetGCMemoryInfo();
            string gens = string.Join(" ", info.GenerationInfo.ToArray().Select((g, i) => $"g{i} {g.SizeAfterBytes / 1e6:F0}"));
            Console.WriteLine($"epoch {m.Epoch}: heap {info.HeapSizeBytes / 1e6:F0} MB committed {info.TotalCommittedBytes / 1e6:F0} MB [{gens}] gen2 GCs {GC.CollectionCount(2)} RSS {Environment.WorkingSet / 1e6:F0} MB peak {PeakRssBytes() / 1e6:F0} MB threads {System.Diagnostics.Process.GetCurrentProcess().Threads.Count} " + string.Join(" ", File.ReadLines("/proc/self/status").Where(l => l.StartsWith("Rss")).Select(l => l.Replace(" ", "").Replace("\t", ""))));
            if (m.Epoch % 3 == 0) File.Copy("/proc/self/smaps", $"/tmp/smaps_{m.Epoch}", true);
        },
    };
    trainer.Train(net, train, val, new TrainingOptions { Epochs = Opt("--epochs", 12), ValidateEachEpoch = true }, new FFRandom(2));
}

static long PeakRssBytes()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    return Process.GetCurrentProcess().PeakWorkingSet64;
}

// The competitive FF CNN of docs/cnn.md (40,80,160 channels, 5p,3p,3, batch 64, lr 0.003): one epoch and one prediction pass,
// then the same network and loop in PyTorch (tests/reference/cnn_torch.py) on the same images, in this run.
void CnnBench(bool torch)
{
    int testLimit = Opt("--test-limit", 10000);
    var data = DatasetLoader.Load(DatasetKind.Mnist, new DatasetLoadOptions { AllowDownload = false });
    var train = data.Train.Take(trainLimit);
    var test = data.Test.Take(testLimit);
    var settings = new ModelSettings { HiddenSizes = [40, 80, 160], LearningRate = 0.003f }
        .With(CnnSettings.Conv, "5p,3p,3").With(CnnSettings.Objective, ConvObjective.Competitive);
    var arch = ArchitectureRegistry.Get("ffcnn");
    // Warm-up: a few batches so the JIT has optimised the hot loop.
    new Trainer().Train(arch.Create(settings, 784, 10, new FFRandom(42)), train.Take(640), null, new TrainingOptions { Epochs = 1, BatchSize = 64, ValidateEachEpoch = false }, new FFRandom(1));
    var net = arch.Create(settings, 784, 10, new FFRandom(42));
    var history = new Trainer().Train(net, train, null, new TrainingOptions { Epochs = 1, BatchSize = 64, ValidateEachEpoch = false }, new FFRandom(2));
    double epoch = history[0].TrainSeconds;
    var sw = Stopwatch.StartNew();
    double acc = Evaluation.Accuracy(net, test);
    double predict = sw.Elapsed.TotalSeconds;
    Console.WriteLine($"FFLib competitive FF CNN 40,80,160 epoch: {train.Count} images in {epoch:F1} s ({train.Count / epoch:F0} samples/s); predict {test.Count:N0} in {predict:F2} s ({test.Count / predict:F0}/s); accuracy after one epoch {acc:P2}");
    if (!torch) return;
    var Field = RunTorch("cnn_torch.py", $"{data.Location.Folder} --train-limit {trainLimit} --test-limit {testLimit}", "PyTorch, same network and loop (same images, same run): ");
    Console.WriteLine($"ratio (PyTorch / FFLib): epoch {Field("train") / epoch:F2}×, prediction {Field("test") / predict:F2}×");
}

// Runs tests/reference/SCRIPT with Debian's python3-torch, prints its line after label, and returns a reader of
// its "name value," fields (train, test, …).
static Func<string, double> RunTorch(string script, string arguments, string label)
{
    var psi = new ProcessStartInfo("/usr/bin/python3", $"{Path.Combine(FindRoot(), "tests", "reference", script)} {arguments}") { RedirectStandardOutput = true, UseShellExecute = false };
    psi.Environment["OPENBLAS_CORETYPE"] = "SkylakeX";
    using var p = Process.Start(psi)!;
    string output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    Console.Write(label + output);
    var parts = output.Split(' ');
    return name => double.Parse(parts[Array.IndexOf(parts, name) + 1].TrimEnd(','), CultureInfo.InvariantCulture);
}

static string FindRoot()
{
    var d = new DirectoryInfo(AppContext.BaseDirectory);
    while (d is not null && !File.Exists(Path.Combine(d.FullName, "FFLib.slnx"))) d = d.Parent;
    return d?.FullName ?? Directory.GetCurrentDirectory();
}

/// <summary>OpenBLAS's CBLAS sgemm, for comparison in this benchmark only (the library has no native dependency).</summary>
internal static class OpenBlas
{
    private const string Lib = "libopenblas.so.0";

    [DllImport(Lib)] public static extern void openblas_set_num_threads(int n);

    [DllImport(Lib)]
    private static extern unsafe void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    public static unsafe void Sgemm(bool ta, bool tb, int m, int n, int k, float[] a, int lda, float[] b, int ldb, float[] c, int ldc)
    {
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            cblas_sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, ldc);
    }
}
