using FFLib.Compute;
using FFLib.Gpu;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// --precision tf32: the rounding the simulator uses for tensor cores, products that stay within
/// TF32's error of fp32 without equalling it, run ids that keep fp32 runs apart from TF32 ones,
/// and the CLI's refusal on the CPU.
/// </summary>
[Collection("GpuSimulator")]
public sealed class Tf32Tests
{
    [Fact]
    public void RoundsToTenMantissaBitsToNearestTiesToEven()
    {
        float Ulp(int bits) => MathF.ScaleB(1f, -bits);
        Assert.Equal(1f, GpuKernels.ToTf32(1f));
        Assert.Equal(1f + Ulp(10), GpuKernels.ToTf32(1f + Ulp(10)));                 // representable
        Assert.Equal(1f, GpuKernels.ToTf32(1f + Ulp(11)));                           // a tie: to the even neighbour
        Assert.Equal(1f + Ulp(9), GpuKernels.ToTf32(1f + 3 * Ulp(11)));              // a tie: to the even neighbour (up)
        Assert.Equal(1f + Ulp(10), GpuKernels.ToTf32(1f + Ulp(11) + Ulp(20)));       // above the half: up
        Assert.Equal(-(1f + Ulp(10)), GpuKernels.ToTf32(-(1f + Ulp(11) + Ulp(20)))); // the sign kept
        Assert.Equal(1f, GpuKernels.ToTf32(1f + Ulp(11) - Ulp(20)));                 // below the half: down
        Assert.Equal(float.PositiveInfinity, GpuKernels.ToTf32(float.MaxValue));     // rounds past the largest TF32 value
        Assert.True(float.IsNaN(GpuKernels.ToTf32(float.NaN)));
        Assert.Equal(float.NegativeInfinity, GpuKernels.ToTf32(float.NegativeInfinity));
        Assert.Equal(0f, GpuKernels.ToTf32(0f));
    }

    [Fact]
    public void Tf32ProductsStayWithinTheirRoundingOfFp32()
    {
        using var tf32 = GpuBackend.CreateSimulator(GpuPrecision.Tf32);
        Assert.Equal("tf32", tf32.Precision);
        Assert.Equal("fp32", ComputeBackend.Cpu.Precision);
        var r = new FFRandom(5);
        int m = 9, n = 7, k = 300;
        var a = TestUtil.RandomMatrix(m, k, r).Data;
        var b = TestUtil.RandomMatrix(k, n, r).Data;
        var exact = new float[m * n];
        var cpu = ComputeBackend.Cpu;
        cpu.Gemm(false, false, m, n, k, cpu.Attach(a).All, k, cpu.Attach(b).All, n, cpu.Attach(exact).All, n, accumulate: false);
        var c = tf32.Allocate(m * n);
        tf32.Gemm(false, false, m, n, k, tf32.Attach(a).All, k, tf32.Attach(b).All, n, c.All, n, accumulate: false);
        var rounded = tf32.Read(c.All);
        int differ = 0;
        for (int i = 0; i < m * n; i++)
        {
            int row = i / n, col = i % n;
            double magnitude = 0;
            for (int p = 0; p < k; p++) magnitude += Math.Abs(a[row * k + p] * b[p * n + col]);
            // Each input off by at most 2^-11 relative: a product by 2^-10, plus fp32 summation.
            Assert.True(Math.Abs(rounded[i] - exact[i]) <= magnitude * (MathF.ScaleB(1f, -10) + 1e-6), $"[{i}] {rounded[i]} vs {exact[i]}");
            if (rounded[i] != exact[i]) differ++;
        }
        Assert.True(differ > m * n / 2, $"only {differ} of {m * n} products changed: the inputs were not rounded");
    }

    [Fact]
    public void RunIdsKeepTf32RunsApartAndFp32RunsAsTheyWere()
    {
        using var fp32 = GpuBackend.CreateSimulator();
        using var tf32 = GpuBackend.CreateSimulator(GpuPrecision.Tf32);
        var run = new Experiments.SweepSpec { Seeds = 1, Epochs = 1 }.Expand()[0];
        string id = Experiments.SweepRunner.RunId(run);
        Assert.Equal(id, Experiments.SweepRunner.RunId(run with { Backend = fp32 }));
        Assert.NotEqual(id, Experiments.SweepRunner.RunId(run with { Backend = tf32 }));
    }

    [Fact]
    public void TheCliRefusesTf32OnTheCpuAndUnknownPrecisions()
    {
        var (code, _, err) = CliTestsAccess.Run("train", "--precision", "tf32", "--epochs", "1", "--train-limit", "100", "--no-download");
        Assert.Equal(2, code);
        Assert.Equal("error: --precision tf32: TF32 is a GPU's tensor-core arithmetic; the CPU computes in fp32 (use --device cuda).", err.Trim());
        (code, _, err) = CliTestsAccess.Run("eval", "--model", "nothing.safetensors", "--precision", "fp16");
        Assert.Equal(2, code);
        Assert.Equal("error: --precision must be fp32 or tf32, not 'fp16'.", err.Trim());
        foreach (var command in new[] { "train", "eval", "prune", "sweep", "reproduce", "visualize" })
            Assert.Contains("--precision", CliTestsAccess.Run(command, "--help").Out);
    }
}
