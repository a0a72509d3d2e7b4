using FFLib.Compute;
using FFLib.Gpu;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The GPU backend's kernels on ILGPU's CPU accelerator against the CPU backend: the CUDA code
/// path's logic, checked on every machine (cuBLAS itself only runs on a GPU; here the products
/// go through the backend's plain ILGPU product kernel).
/// </summary>
[Collection("GpuSimulator")]
public sealed class GpuBackendTests : IDisposable
{
    private readonly GpuBackend _gpu = GpuBackend.CreateSimulator();

    public void Dispose() => _gpu.Dispose();

    /// <summary>The FFNN's fused operations of a backend (the CPU's, or the GPU's kernels).</summary>
    private static IFFNetworkFusedOps Fused(ComputeBackend be) => FFNetworkFusedOps.For(be)!;

    private static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float rel = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= rel * MathF.Max(1f, MathF.Abs(expected[i])), $"[{i}] expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void CopiesToAndFromTheHostSurviveCollectionsThatMoveArrays()
    {
        // ILGPU copies through the raw address of the array it is handed: unpinned, a compacting collection
        // in mid-copy left reads all zero (about 1 in 3,000 here, before the fix) and wrote over the heap.
        var values = Enumerable.Range(1, 4096).Select(i => (float)i).ToArray();
        var device = _gpu.Attach(values.ToArray());
        var host = new float[values.Length];
        var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) { GC.KeepAlive(new byte[100_000]); GC.Collect(0, GCCollectionMode.Forced, blocking: true, compacting: true); }
        });
        collector.Start();
        int bad = 0;
        try
        {
            for (int i = 0; i < 30_000; i++)
            {
                GC.KeepAlive(new float[i % 64]); // a different allocation pattern each time
                var back = _gpu.Read(device.All);
                if (back[0] != 1f || back[^1] != 4096f) bad++;
                if (i % 10 != 0) continue;
                Array.Clear(host);
                _gpu.SyncToHost(device, host);
                if (host[0] != 1f || host[^1] != 4096f) bad++;
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
            device.Release();
        }
        Assert.Equal(0, bad);
    }

    [Fact]
    public void ClassGoodnessAndItsGradientFollowTheirDefinitionOnEveryBackend()
    {
        // 3 rows of 5 positions × 7 channels; classes 0..2 own channels {0,1,2}, {3,4}, {5,6}; class 3 owns none.
        var r = new FFRandom(4);
        int rows = 3, positions = 5, channels = 7, classes = 4, size = positions * channels;
        var h = Enumerable.Range(0, rows * size).Select(_ => r.NextSingle() * 2 - 0.5f).ToArray();
        float[] group = [0, 0, 0, 1, 1, 2, 2], weight = [0.5f, 0.25f, 2f, 0f];
        var dg = Enumerable.Range(0, rows * classes).Select(_ => r.NextSingle() - 0.5f).ToArray();
        var expected = new float[rows * classes];
        var expectedDelta = new float[rows * size];
        for (int row = 0; row < rows; row++)
            for (int k = 0; k < classes; k++)
            {
                double sum = 0;
                for (int q = 0; q < positions; q++)
                    for (int c = 0; c < channels; c++)
                        if (group[c] == k) sum += (double)h[row * size + q * channels + c] * h[row * size + q * channels + c];
                expected[row * classes + k] = (float)(sum * weight[k]);
            }
        for (int i = 0; i < h.Length; i++)
        {
            int row = i / size, k = (int)group[i % size % channels];
            expectedDelta[i] = 2f * h[i] * dg[row * classes + k] * weight[k];
        }
        foreach (var be in new ComputeBackend[] { ComputeBackend.Cpu, _gpu })
        {
            var (dh, dgroup, dweight, ddg, good) = (be.Attach(h.ToArray()), be.Attach(group), be.Attach(weight), be.Attach(dg), be.Allocate(rows * classes));
            be.ClassGoodness(dh.All, rows, dgroup.All, dweight.All, good.All);
            Close(expected, be.Read(good.All));
            be.ClassGoodnessBackward(dh.All, rows, dgroup.All, dweight.All, ddg.All, dh.All); // in place, as the model calls it
            Close(expectedDelta, be.Read(dh.All));
            foreach (var a in new[] { dh, dgroup, dweight, ddg, good }) a.Release();
        }
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, false)]
    [InlineData(true, true, true)]
    [InlineData(false, true, true)]
    public void ProductMatchesTheCpu(bool transA, bool transB, bool accumulate)
    {
        var r = new FFRandom(1);
        int m = 7, n = 5, k = 9, lda = transA ? m + 2 : k + 1, ldb = transB ? k + 3 : n + 1, ldc = n + 2;
        var a = TestUtil.RandomMatrix(1, (transA ? k : m) * lda, r).Data;
        var b = TestUtil.RandomMatrix(1, (transB ? n : k) * ldb, r).Data;
        var c = TestUtil.RandomMatrix(1, m * ldc, r).Data;
        var cpu = ComputeBackend.Cpu;
        var expected = (float[])c.Clone();
        cpu.Gemm(transA, transB, m, n, k, cpu.Attach(a).All, lda, cpu.Attach(b).All, ldb, cpu.Attach(expected).All, ldc, accumulate);
        var dc = _gpu.Attach(c);
        _gpu.Gemm(transA, transB, m, n, k, _gpu.Attach(a).All, lda, _gpu.Attach(b).All, ldb, dc.All, ldc, accumulate);
        Close(expected, _gpu.Read(dc.All));
    }

    [Fact]
    public void ElementWiseKernelsMatchTheCpu()
    {
        var r = new FFRandom(2);
        int rows = 6, cols = 11;
        var x = TestUtil.RandomMatrix(rows, cols, r).Data;
        var bias = TestUtil.RandomMatrix(1, cols, r).Data;
        var scale = TestUtil.RandomMatrix(1, rows, r).Data;
        foreach (var be in new ComputeBackend[] { ComputeBackend.Cpu, _gpu }) { }
        float[] Run(ComputeBackend be, Action<ComputeBackend, DeviceSpan, DeviceSpan, DeviceSpan, DeviceSpan> op, int outLength)
        {
            var dx = be.Attach((float[])x.Clone());
            var db = be.Attach((float[])bias.Clone());
            var ds = be.Attach((float[])scale.Clone());
            var o = be.Allocate(outLength);
            op(be, dx.All, db.All, ds.All, o.All);
            return [.. be.Read(dx.All), .. be.Read(o.All)];
        }
        var ops = new (string, Action<ComputeBackend, DeviceSpan, DeviceSpan, DeviceSpan, DeviceSpan>, int)[]
        {
            ("norms", (be, dx, db, ds, o) => be.InverseRowNorms(dx, rows, cols, o), rows),
            ("scale-bias-relu", (be, dx, db, ds, o) => be.ScaleBiasRelu(dx, rows, cols, ds, db), 1),
            ("mean squares", (be, dx, db, ds, o) => be.MeanSquares(dx, rows, cols, o), rows),
            ("scale rows", (be, dx, db, ds, o) => be.ScaleRows(dx, rows, cols, ds), 1),
            ("column sums", (be, dx, db, ds, o) => be.ColumnSums(dx, rows, cols, o), cols),
            ("transpose columns", (be, dx, db, ds, o) => Fused(be).TransposeColumns(dx, rows, cols, 3, 4, o), 4 * rows),
            ("sum blocks", (be, dx, db, ds, o) => Fused(be).SumBlocks(dx, 2 * cols, 3, o), 2 * cols),
            ("adam", (be, dx, db, ds, o) => be.AdamStep(dx.Slice(0, cols), db, dx.Slice(cols, cols), dx.Slice(2 * cols, cols), 0.02f, 0.9f, 0.999f, 1e-8f, 3), 1),
        };
        foreach (var (name, op, length) in ops)
        {
            var expected = Run(ComputeBackend.Cpu, op, length);
            var actual = Run(_gpu, op, length);
            try { Close(expected, actual); }
            catch (Exception e) { throw new Xunit.Sdk.XunitException($"{name}: {e.Message}"); }
        }
    }

    [Theory]
    [InlineData(37)]
    [InlineData(256)]
    public void InOrderSumsGiveTheCpusBits(int rows)
    {
        // The column sums and the control gradient load several rows at once but add them in row
        // order: the CPU's bits exactly, for any number of rows (here with a remainder after 8 and 4).
        var r = new FFRandom(12);
        int cols = 29, k = 5;
        var m = TestUtil.RandomMatrix(rows, cols, r).Data;
        var control = new float[rows * k];
        for (int i = 0; i < rows; i++) control[i * k + r.NextInt(k)] = i % 3 == 0 ? 1f : 0.5f;
        float[] Sums(ComputeBackend be)
        {
            var sums = be.Allocate(cols);
            be.ColumnSums(be.Attach((float[])m.Clone()).All, rows, cols, sums.All);
            return be.Read(sums.All).ToArray();
        }
        float[] Gradient(ComputeBackend be)
        {
            var dst = be.Allocate(k * cols);
            Fused(be).ControlGradient(be.Attach((float[])control.Clone()).All, k, be.Attach((float[])m.Clone()).All, rows, cols, dst.All);
            return be.Read(dst.All).ToArray();
        }
        Assert.Equal(Sums(ComputeBackend.Cpu), Sums(_gpu));
        Assert.Equal(Gradient(ComputeBackend.Cpu), Gradient(_gpu));
    }

    [Fact]
    public void FfnnTrainsAndScoresAsOnTheCpu()
    {
        // Three FF steps through both layer-1 paths, then prediction: the golden tests' 1e-4 relative tolerance.
        FFNetwork Net() => new(new FFNetworkConfig { ImageFeatures = 20, Classes = 4, HiddenSizes = [24, 16], Threshold = 0.4f }, new FFRandom(3));
        foreach (bool identity in new[] { true, false })
        {
            var cpu = Net();
            var gpu = Net();
            cpu.UseInputIdentity = gpu.UseInputIdentity = identity;
            gpu.Backend = _gpu;
            var r = new FFRandom(4);
            for (int step = 0; step < 3; step++)
            {
                var images = TestUtil.RandomMatrix(8, 20, r);
                int[] labels = [0, 1, 2, 3, 0, 1, 2, 3], wrong = [1, 2, 3, 0, 2, 3, 0, 1];
                Close(cpu.TrainBatch(images, labels, wrong), gpu.TrainBatch(images, labels, wrong), 1e-4f);
            }
            var test = TestUtil.RandomMatrix(70, 20, r);
            Close(cpu.LabelScores(test).Data, gpu.LabelScores(test).Data, 1e-4f);
            Close(cpu.LayerActivations(test, 2)[1].Data, gpu.LayerActivations(test, 2)[1].Data, 1e-4f);
            gpu.SynchronizeToHost();
            foreach (var (a, b) in cpu.Parameters().Zip(gpu.Parameters())) Close(a.Data, b.Data, 1e-4f);
            // Back on the CPU the synchronised model carries on from the same weights.
            gpu.Backend = ComputeBackend.Cpu;
            Assert.Equal(gpu.Predict(test), gpu.Predict(test));
        }
    }

    [Fact]
    public void BpnnTrainsAndPredictsAsOnTheCpu()
    {
        BackpropNetwork Net() => new(new BackpropNetworkConfig { ImageFeatures = 20, Classes = 4, HiddenSizes = [24, 16], LearningRate = 1e-2f }, new FFRandom(5));
        var cpu = Net();
        var gpu = Net();
        gpu.Backend = _gpu;
        var r = new FFRandom(6);
        for (int step = 0; step < 3; step++)
        {
            var images = TestUtil.RandomMatrix(8, 20, r);
            int[] labels = [0, 1, 2, 3, 3, 2, 1, 0];
            Close([cpu.TrainBatch(images, labels)], [gpu.TrainBatch(images, labels)], 1e-4f);
        }
        var test = TestUtil.RandomMatrix(300, 20, r);
        Close(cpu.Logits(test).Data, gpu.Logits(test).Data, 1e-4f);
        Close(cpu.HiddenActivations(test)[1].Data, gpu.HiddenActivations(test)[1].Data, 1e-4f);
        gpu.SynchronizeToHost();
        foreach (var (a, b) in cpu.Parameters().Zip(gpu.Parameters())) Close(a.Data, b.Data, 1e-4f);
    }

    [Fact]
    public void FfcTrainsBothPhasesAndScoresAsOnTheCpu()
    {
        FFClassifierNetwork Net() => new(new FFNetworkConfig { ImageFeatures = 20, Classes = 4, HiddenSizes = [24, 16], Threshold = 0.4f }, 1e-2f, new FFRandom(7));
        var cpu = Net();
        var gpu = Net();
        gpu.Backend = _gpu;
        Assert.Same(_gpu, gpu.Stack.Backend);
        var r = new FFRandom(8);
        foreach (var phase in new[] { Models.TrainingPhase.ForwardForward, Models.TrainingPhase.Classifier })
            for (int step = 0; step < 2; step++)
            {
                var images = TestUtil.RandomMatrix(8, 20, r);
                int[] labels = [0, 1, 2, 3, 3, 2, 1, 0];
                var negative = Training.NegativeControl.OneHot([1, 2, 3, 0, 0, 3, 2, 1], 4);
                Close(cpu.TrainBatch(images, labels, negative, phase), gpu.TrainBatch(images, labels, negative, phase), 1e-4f);
            }
        var test = TestUtil.RandomMatrix(50, 20, r);
        Close(cpu.ClassScores(test).Data, gpu.ClassScores(test).Data, 1e-4f);
        gpu.SynchronizeToHost();
        foreach (var (a, b) in cpu.Parameters().Zip(gpu.Parameters())) Close(a.Data, b.Data, 1e-4f);
    }

    [Fact]
    public void FfrnnTrainsAndScoresAsOnTheCpu()
    {
        FFRecurrentNetwork Net() => new(new FFRecurrentConfig { ImageFeatures = 20, Classes = 4, HiddenSizes = [24, 16], Threshold = 0.4f, TrainFrames = 3 }, new FFRandom(9));
        var cpu = Net();
        var gpu = Net();
        gpu.Backend = _gpu;
        var r = new FFRandom(10);
        for (int step = 0; step < 2; step++)
        {
            var images = TestUtil.RandomMatrix(8, 20, r);
            int[] labels = [0, 1, 2, 3, 3, 2, 1, 0];
            var negative = Training.NegativeControl.OneHot([1, 2, 3, 0, 0, 3, 2, 1], 4);
            Close(cpu.TrainBatch(images, labels, negative, Models.TrainingPhase.ForwardForward), gpu.TrainBatch(images, labels, negative, Models.TrainingPhase.ForwardForward), 1e-4f);
        }
        var test = TestUtil.RandomMatrix(45, 20, r);
        Close(cpu.LabelScores(test).Data, gpu.LabelScores(test).Data, 1e-4f);
        Close(cpu.LayerActivations(test, 1)[0].Data, gpu.LayerActivations(test, 1)[0].Data, 1e-4f);
        gpu.SynchronizeToHost();
        foreach (var (a, b) in cpu.Parameters().Zip(gpu.Parameters())) Close(a.Data, b.Data, 1e-4f);
    }

    [Fact]
    public void TrainedOnTheGpuSavesTheSameFileAndResumesExactly()
    {
        var r = new FFRandom(9);
        var px = new byte[60 * 12];
        var labels = new byte[60];
        for (int i = 0; i < 60; i++)
        {
            labels[i] = (byte)(i % 3);
            for (int k = 0; k < 12; k++) px[i * 12 + k] = (byte)(k / 4 == labels[i] ? 200 + r.NextInt(50) : r.NextInt(40));
        }
        var data = new Data.ImageDataset("synthetic", 60, 12, 3, px, labels);
        var config = new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f };
        var options = new Training.TrainingOptions { Epochs = 1, BatchSize = 16, ValidateEachEpoch = false };
        string dir = Directory.CreateTempSubdirectory("fflib-gpu-test-").FullName;
        try
        {
            // Uninterrupted: two epochs on the GPU backend.
            var ra = new FFRandom(3);
            var whole = new FFNetwork(config, ra) { Backend = _gpu };
            new Training.Trainer().Train(whole, data, null, options with { Epochs = 2 }, ra);
            // One epoch, a training checkpoint, a reload (on the CPU), back to the GPU, the second epoch.
            var rb = new FFRandom(3);
            var first = new FFNetwork(config, rb) { Backend = _gpu };
            new Training.Trainer().Train(first, data, null, options, rb);
            string ckpt = Path.Combine(dir, "checkpoint.safetensors");
            Training.TrainingCheckpoint.Save(ckpt, first, rb, 1, [], new Training.RunSpec());
            var state = Training.TrainingCheckpoint.Load(ckpt);
            var resumed = (FFNetwork)state.Model;
            resumed.Backend = _gpu;
            new Training.Trainer().Train(resumed, data, null, options with { Epochs = 2 }, state.Random, startEpoch: 2);
            foreach (var (a, b) in whole.Parameters().Zip(resumed.Parameters())) Assert.Equal(a.Data, b.Data);

            // The model file of a GPU model loads on the CPU and scores the same (to float rounding).
            string file = Path.Combine(dir, "model.safetensors");
            IO.ModelCheckpoint.Save(file, whole);
            var onCpu = (FFNetwork)IO.ModelCheckpoint.Load(file).Model;
            Assert.Same(ComputeBackend.Cpu, onCpu.Backend);
            var images = data.ToMatrix(0, 30);
            Close(whole.LabelScores(images).Data, onCpu.LabelScores(images).Data, 1e-4f);
            Assert.Equal(whole.Predict(images), onCpu.Predict(images));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void EveryKernelCompilesToPtxForHopper()
    {
        // The CPU accelerator runs kernels the PTX backend may refuse (exp/log without ILGPU.Algorithms did): compile them all to PTX for an sm_90 device.
        var kernels = PtxCheck.CompileAll(ILGPU.Runtime.Cuda.CudaArchitecture.SM_90, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_80);
        Assert.Contains(kernels, k => k.Kernel == nameof(GpuKernels.FFLossRows) && k.Ptx.Contains(".entry"));
        Assert.True(kernels.Count >= 20, $"only {kernels.Count} kernels compiled");
        Assert.All(kernels, k => Assert.Contains(".visible .entry", k.Ptx));
    }

    [Fact]
    public void MissingCudaIsAClearErrorNotACrash()
    {
        try
        {
            using var cuda = GpuBackend.CreateCuda();
            Assert.Equal("cuda", cuda.Name); // a machine with a GPU
        }
        catch (GpuUnavailableException e)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }
    }
}
