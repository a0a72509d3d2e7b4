using FFLib.Compute;
using FFLib.Data;
using FFLib.Gpu;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The trainer's device path (training set kept on the backend, batches gathered there, losses
/// read every few batches): the same bits as the staged path, no waits for the device inside an
/// epoch, and divergence still named at the batch where it happened.
/// </summary>
[Collection("GpuSimulator")]
public sealed class GpuPipelineTests : IDisposable
{
    private readonly GpuBackend _gpu = GpuBackend.CreateSimulator();

    public void Dispose() => _gpu.Dispose();

    /// <summary>Three classes told apart by which third of the pixels is bright; 70 images (batches of 16 leave a short last one).</summary>
    internal static ImageDataset Synthetic(int count = 70, int features = 12)
    {
        var r = new FFRandom(9);
        var px = new byte[count * features];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)(i % 3);
            for (int k = 0; k < features; k++) px[i * features + k] = (byte)(k * 3 / features == labels[i] ? 200 + r.NextInt(50) : r.NextInt(40));
        }
        return new ImageDataset("synthetic", count, features, 3, px, labels);
    }

    public static TheoryData<string> Architectures => new() { "ffnn", "ffc", "ffrnn", "bpnn" };

    private static ITrainableModel Create(string architecture, FFRandom random)
    {
        var ff = new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f };
        return architecture switch
        {
            "ffnn" => new FFNetwork(ff, random),
            "ffc" => new FFClassifierNetwork(ff, 1e-2f, random),
            "ffrnn" => new FFRecurrentNetwork(new FFRecurrentConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f, TrainFrames = 3 }, random),
            _ => new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], LearningRate = 1e-2f }, random),
        };
    }

    private static (float[][] Weights, double[][] Losses) Train(string architecture, ComputeBackend backend, bool resident, NegativeMode negatives = NegativeMode.Random)
    {
        var random = new FFRandom(3);
        var model = Create(architecture, random);
        ((Modules.ComputeModule)model).Backend = backend;
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, ValidateEachEpoch = false, Negatives = negatives };
        var history = new Trainer { ResidentData = resident }.Train(model, Synthetic(), null, options, random);
        ((Modules.ComputeModule)model).SynchronizeToHost();
        return (((Modules.Module)model).Parameters().Select(p => p.Data.ToArray()).ToArray(), history.Select(h => h.LayerLosses.ToArray()).ToArray());
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ResidentBatchesGiveTheStagedPathsBitsOnBothBackends(string architecture)
    {
        // On the CPU the resident path gathers with its own copy loop; on the ILGPU accelerator with
        // the GPU kernel. Either way the batch, and so every weight and loss, is the same bits.
        foreach (var backend in new ComputeBackend[] { ComputeBackend.Cpu, _gpu })
        {
            var staged = Train(architecture, backend, resident: false);
            var resident = Train(architecture, backend, resident: true);
            Assert.Equal(staged.Weights.Length, resident.Weights.Length);
            for (int i = 0; i < staged.Weights.Length; i++) Assert.Equal(staged.Weights[i], resident.Weights[i]);
            Assert.Equal(staged.Losses, resident.Losses);
            Assert.All(resident.Losses.SelectMany(l => l), l => Assert.True(double.IsFinite(l) && l > 0));
        }
    }

    [Fact]
    public void InverseNegativesTrainFromTheResidentSetAndHardOnesFromStagedBatches()
    {
        var staged = Train("ffnn", _gpu, resident: false, NegativeMode.Inverse);
        var resident = Train("ffnn", _gpu, resident: true, NegativeMode.Inverse);
        for (int i = 0; i < staged.Weights.Length; i++) Assert.Equal(staged.Weights[i], resident.Weights[i]);
        // Hard negatives score the batch on the host: the feed stages it even when asked to keep the set resident.
        var model = Create("ffnn", new FFRandom(1));
        Assert.False(new BatchFeed(model, Synthetic(), 16, NegativeMode.Hard, resident: true).Resident);
        Assert.True(new BatchFeed(model, Synthetic(), 16, NegativeMode.Random, resident: true).Resident);
    }

    [Fact]
    public void AnEpochOnTheDeviceWaitsOnlyToReadItsLossesAndUploadsNoImages()
    {
        var data = Synthetic(count: 400);
        var random = new FFRandom(4);
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f }, random) { Backend = _gpu };
        var options = new TrainingOptions { Epochs = 1, BatchSize = 4, ValidateEachEpoch = false };
        var trainer = new Trainer();
        trainer.Train(model, data, null, options, random); // buffers allocated, kernels compiled
        var before = _gpu.Activity;
        trainer.Train(model, data, null, options, random);
        var epoch = _gpu.Activity - before;
        // 100 batches: the losses are read after 64 and after 100 (two waits); the staged path
        // waited three times a batch (image upload, control upload, losses).
        Assert.InRange(epoch.Waits, 1, 2);
        Assert.Equal(2, epoch.Downloads);
        // Per batch one upload (the positive and negative control rows) and the epoch's order once;
        // no image: the training set went up in the first call and is kept for the dataset.
        Assert.Equal(100 + 1, epoch.Uploads);
        Assert.True(epoch.Launches >= 100 * 10, $"{epoch.Launches} kernel launches for 100 batches");
        // Layer 1: its product, its weight gradient, its product again under the new weights for
        // layer 2; layer 2: its product and its weight gradient.
        Assert.Equal(100 * 5, epoch.Products);
    }

    [Fact]
    public void OneResidentTrainingSetPerBackendUploadedOnceAcrossTrainCalls()
    {
        var a = Synthetic();
        var b = Synthetic(count: 40);
        var random = new FFRandom(6);
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f }, random) { Backend = _gpu };
        var options = new TrainingOptions { Epochs = 1, BatchSize = 16, ValidateEachEpoch = false };
        new Trainer().Train(model, a, null, options, random); // parameters and moments on the device
        // Uploads of one Train call beyond its batches' control rows and the epoch's order: the training set, if it went up.
        long SetUploads(ImageDataset data)
        {
            var before = _gpu.Activity;
            new Trainer().Train(model, data, null, options, random);
            return (_gpu.Activity - before).Uploads - (data.Count + 15) / 16 - 1;
        }
        Assert.Equal(0, SetUploads(a)); // kept from the first call
        Assert.Equal(1, SetUploads(b)); // another set replaces it (and frees its copy)
        Assert.Equal(0, SetUploads(b));
        Assert.Equal(1, SetUploads(a)); // a's copy was freed: uploaded again
    }

    [Fact]
    public void DivergenceReadLaterIsStillNamedAtItsBatch()
    {
        var data = Synthetic();
        var random = new FFRandom(5);
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f }, random);
        var weights = model.Parameters().First().Data;
        Array.Fill(weights, float.NaN, 0, 12); // one neuron of layer 1 poisoned: layer 1's loss is NaN from the first batch
        model.Backend = _gpu;
        var options = new TrainingOptions { Epochs = 1, BatchSize = 16, ValidateEachEpoch = false };
        var seen = new List<int>();
        var trainer = new Trainer { Progress = new SyncProgress<TrainingProgress>(p => seen.Add(p.Batch)) };
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(model, data, null, options, random));
        // All five batches ran before the losses came back; the first one is named, and no progress was reported for it.
        Assert.Contains("epoch 1, batch 1.", e.Message);
        Assert.Equal(1, e.Layer);
        Assert.Empty(seen);
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffrnn")]
    public void AnEpochInterruptedBetweenLossReadsResumesToTheSameWeightsAndLosses(string architecture)
    {
        // Stopped at batch 3 of epoch 2 on the device: the two batches whose losses were still on the
        // device are read before the interruption is reported, so the resumed epoch's mean is complete.
        var data = Synthetic();
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, ValidateEachEpoch = false };
        var r1 = new FFRandom(3);
        var whole = Create(architecture, r1);
        ((Modules.ComputeModule)whole).Backend = _gpu;
        var expected = new Trainer().Train(whole, data, null, options, r1);

        var r2 = new FFRandom(3);
        var parted = Create(architecture, r2);
        ((Modules.ComputeModule)parted).Backend = _gpu;
        using var cts = new CancellationTokenSource();
        PartialEpoch? stopped = null;
        var stopping = new Trainer
        {
            BeforeBatch = b => { if (b.Epoch == 2 && b.Batch == 3) cts.Cancel(); },
            Interrupted = p => stopped = p,
        };
        Assert.ThrowsAny<OperationCanceledException>(() => stopping.Train(parted, data, null, options with { }, r2, cts.Token));
        Assert.NotNull(stopped);
        Assert.Equal((2, 3), (stopped.Epoch, stopped.BatchesDone));
        Assert.All(stopped.LossSums, s => Assert.True(s > 0));
        var rest = new Trainer().Train(parted, data, null, options, r2, stopped);

        ((Modules.ComputeModule)whole).SynchronizeToHost();
        ((Modules.ComputeModule)parted).SynchronizeToHost();
        foreach (var (a, b) in ((Modules.Module)whole).Parameters().Zip(((Modules.Module)parted).Parameters())) Assert.Equal(a.Data, b.Data);
        Assert.Equal(expected[1].LayerLosses, rest.Single().LayerLosses);
    }

    [Fact]
    public void CrossEntropyOnTheDeviceMatchesTheCpu()
    {
        var r = new FFRandom(11);
        int rows = 9, classes = 5;
        var logits = TestUtil.RandomMatrix(rows, classes, r).Data;
        for (int c = 0; c < classes; c++) logits[classes + c] = 80f + c; // large logits: the max is subtracted before exp
        int[] labels = [0, 4, 2, 1, 3, 3, 0, 1, 2];
        var expectedGradient = new float[rows * classes];
        float expected = Layers.CrossEntropy.LossAndGradient(logits, rows, classes, labels, expectedGradient);
        foreach (var be in new ComputeBackend[] { ComputeBackend.Cpu, _gpu })
        {
            var gradient = be.Allocate(rows * classes);
            var loss = be.Allocate(1);
            DeviceArray? staging = null;
            be.CrossEntropyLossAndGradient(be.Attach((float[])logits.Clone()).All, rows, classes, be.StageLabels(labels, ref staging), gradient.All, loss.All);
            Assert.True(MathF.Abs(expected - be.Read(loss.All)[0]) <= 1e-6f * expected, $"{be.Name}: loss {be.Read(loss.All)[0]}, expected {expected}");
            var g = be.Read(gradient.All);
            for (int i = 0; i < g.Length; i++) Assert.True(MathF.Abs(expectedGradient[i] - g[i]) <= 1e-6f, $"{be.Name} [{i}]: {g[i]} vs {expectedGradient[i]}");
        }
    }

    [Fact]
    public void WorkersOnTwoStreamsOfOneDeviceTrainEachRunOnceWithTheSameBits()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-streams-").FullName;
        try
        {
            string data = SweepClusterTests.SyntheticMnist(Path.Combine(dir, "data"), 200, 20);
            var runs = new Experiments.SweepSpec
            {
                Layers = [[16, 8]], Seeds = 4, Epochs = 1, BatchSize = 50,
                Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false },
            }.Expand();
            var options = new Experiments.SweepWorkerOptions { SaveModels = true, Worker = "w" };
            string alone = Path.Combine(dir, "alone"), together = Path.Combine(dir, "together");
            Experiments.SweepRunner.RunConcurrently(runs, alone, [_gpu], options);
            using var second = _gpu.CreateStream();
            var outcome = Experiments.SweepRunner.RunConcurrently(runs, together, [_gpu, second], options);

            Assert.Equal(4, outcome.Written.Count);
            Assert.Equal(0, outcome.Unfinished);
            Assert.Equal(["w.1", "w.2"], outcome.Written.Select(r => r.Worker!).Distinct().Order().ToArray());
            var started = Directory.GetFiles(Path.Combine(together, "workers")).SelectMany(File.ReadAllLines).Count(l => l.Split(' ')[1] == "started");
            Assert.Equal(4, started);
            // Each run's model is the same file whether it trained alone or beside another on the device.
            foreach (var run in runs)
            {
                string id = Experiments.SweepRunner.RunId(run);
                Assert.Equal(File.ReadAllBytes(Path.Combine(alone, "models", id + ".safetensors")), File.ReadAllBytes(Path.Combine(together, "models", id + ".safetensors")));
            }
            Assert.Throws<ArgumentException>(() => Experiments.SweepRunner.RunConcurrently(runs, together, [_gpu, _gpu]));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
