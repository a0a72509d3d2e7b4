using System.Diagnostics;
using System.Runtime.Intrinsics;
using FFLib.Compute;

// Matrix-product benchmark on the FFNN's layer shapes. Prints GF/s per shape and thread count.
// Usage: dotnet run -c Release --project bench/FFLib.Benchmarks -- [gemm] [--threads N]
int threads = Environment.ProcessorCount;
for (int i = 0; i < args.Length - 1; i++) if (args[i] == "--threads") threads = int.Parse(args[i + 1]);
Console.WriteLine($"SIMD: {Gemm.SimdPath} (Vector512 {Vector512.IsHardwareAccelerated}, Vector256 {Vector256.IsHardwareAccelerated}), cores {Environment.ProcessorCount}, threads {threads}");
var shapes = new (string name, bool ta, bool tb, int m, int n, int k)[]
{
    ("x·W1ᵀ 128×794·794×2000 (NT)", false, true, 128, 2000, 794),
    ("x·W2ᵀ 256×2000·2000×2000 (NT)", false, true, 256, 2000, 2000),
    ("δᵀ·x 2000×256·256×794 (TN)", true, false, 2000, 794, 256),
    ("δᵀ·x 2000×256·256×2000 (TN)", true, false, 2000, 2000, 256),
    ("δ·W 256×2000·2000×2000 (NN)", false, false, 256, 2000, 2000),
    ("2048³ (NN)", false, false, 2048, 2048, 2048),
};
var rng = new Random(1);
foreach (var (name, ta, tb, m, n, k) in shapes)
{
    var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
    for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
    for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
    int lda = ta ? m : k, ldb = tb ? k : n;
    double flops = 2.0 * m * n * k;
    for (int w = 0; w < 3; w++) Gemm.Multiply(ta, tb, m, n, k, a, lda, b, ldb, c, n, false, threads);
    int reps = Math.Max(3, (int)(3e10 / flops));
    var sw = Stopwatch.StartNew();
    for (int r = 0; r < reps; r++) Gemm.Multiply(ta, tb, m, n, k, a, lda, b, ldb, c, n, false, threads);
    double s = sw.Elapsed.TotalSeconds / reps;
    Console.WriteLine($"{name,-34} {s * 1e3,8:F2} ms  {flops / s / 1e9,7:F1} GF/s");
}
