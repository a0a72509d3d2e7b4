using FFLib.Compute;
using FFLib.Data;
using FFLib.Gpu;
using FFLib.Models;
using FFLib.Modules;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Device memory is freed when the library is done with it, not when the .NET collector happens to
/// run (it does not see device memory): every architecture releases all it made on the device,
/// a released model trains on to the same bits, and a sweep of several runs ends holding what one
/// run holds. "Released" is checked by counting the arrays the collector had to free instead.
/// </summary>
[Collection("GpuSimulator")]
public sealed class GpuMemoryTests : IDisposable
{
    private readonly GpuBackend _gpu = GpuBackend.CreateSimulator();

    public void Dispose() => _gpu.Dispose();

    private static ImageDataset Synthetic(int count) => GpuPipelineTests.Synthetic(count);

    public static TheoryData<string> Architectures => new() { "ffnn", "ffc", "ffrnn", "bpnn" };

    private static ComputeModule Create(string architecture, FFRandom random) => architecture switch
    {
        "ffnn" => new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f }, random),
        "ffc" => new FFClassifierNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f }, 1e-2f, random),
        "ffrnn" => new FFRecurrentNetwork(new FFRecurrentConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], Threshold = 0.5f, TrainFrames = 3, TestFrameLow = 1, TestFrameHigh = 3 }, random),
        _ => new BackpropNetwork(new BackpropNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [16, 12], LearningRate = 1e-2f }, random),
    };

    /// <summary>
    /// Everything a run asks of a model on the device: training with validation (on fewer images
    /// than the test, so that the kept prediction buffers are outgrown and replaced), prediction,
    /// activations, and for the FFNN+C its features.
    /// </summary>
    private static void Exercise(ComputeModule model, ImageDataset train, ImageDataset test)
    {
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, ValidateEachEpoch = true };
        new Trainer().Train((ITrainableModel)model, train, Synthetic(test.Count / 2), options, new FFRandom(3));
        Evaluation.Accuracy((IClassifierModel)model, test);
        var images = test.ToMatrix();
        ((IClassifierModel)model).Predict(images);
        if (model is IActivationSource source)
        {
            source.LayerActivations(images, null);
            source.LayerActivations(test.ToMatrix(0, 5), 1); // fewer rows than the kept workspaces
        }
    }

    private long CollectAndCount()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return _gpu.ArraysCollected;
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void AModelReleasesEverythingItMadeOnTheDevice(string architecture)
    {
        var train = Synthetic(70);
        var test = Synthetic(60);
        long collectedBefore = CollectAndCount();
        long empty = _gpu.MemoryInUse;

        var first = Create(architecture, new FFRandom(1));
        first.Backend = _gpu;
        Exercise(first, train, test);
        long peak = _gpu.MemoryInUse;
        first.ReleaseDeviceMemory();
        long afterFirst = _gpu.MemoryInUse;

        // What stays is the backend's: the resident training set and its own scratch, not the model's.
        long residentSet = (long)train.Count * train.Features * sizeof(float);
        Assert.True(afterFirst >= empty + residentSet, $"{afterFirst} bytes after release; the resident set alone is {residentSet}");
        Assert.True(peak > afterFirst, $"the model held nothing on the device? peak {peak}, after release {afterFirst}");

        // A second model through the same work leaves exactly as much: nothing piles up run after run.
        var second = Create(architecture, new FFRandom(2));
        second.Backend = _gpu;
        Exercise(second, train, test);
        second.ReleaseDeviceMemory();
        Assert.Equal(afterFirst, _gpu.MemoryInUse);

        // And every array made on the way was released by the library, none left to the collector.
        Assert.Equal(collectedBefore, CollectAndCount());
        GC.KeepAlive(first);
        GC.KeepAlive(second);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void PredictingAFewImagesTakesAFewImagesWorthOfMemory(string architecture)
    {
        // A GPU's prediction pass is 16,384 rows; a call on 5 images must not allocate for all of them
        // (at 2000 wide that is ~100 MB per buffer) — and must score as a large buffer would.
        var images = Synthetic(5).ToMatrix();
        var model = Create(architecture, new FFRandom(1));
        var expected = ((IClassifierModel)model).Predict(images); // on the CPU
        long before = _gpu.MemoryInUse;
        model.Backend = _gpu;
        Assert.Equal(expected, ((IClassifierModel)model).Predict(images));
        long held = _gpu.MemoryInUse - before;
        Assert.True(held < 64 << 10, $"{architecture}: predicting 5 images holds {held} bytes on the device");
        model.ReleaseDeviceMemory();
        Assert.Equal(before, _gpu.MemoryInUse);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void AModelReleasedBetweenEpochsTrainsOnToTheSameBits(string architecture)
    {
        var train = Synthetic(70);
        float[][] Run(bool release)
        {
            var model = Create(architecture, new FFRandom(4));
            model.Backend = _gpu;
            var trainer = new Trainer { EpochCompleted = release ? _ => model.ReleaseDeviceMemory() : null };
            trainer.Train((ITrainableModel)model, train, null, new TrainingOptions { Epochs = 3, BatchSize = 16, ValidateEachEpoch = false }, new FFRandom(6));
            return model.Parameters().Select(p => p.Data.ToArray()).ToArray();
        }
        var kept = Run(release: false);
        var released = Run(release: true);
        Assert.Equal(kept.Length, released.Length);
        // Parameters and Adam's moments go back to the host and up again: not one bit changes.
        for (int i = 0; i < kept.Length; i++) Assert.Equal(kept[i], released[i]);
    }

    [Fact]
    public void LeavingTheDeviceFreesItsCopiesAndKeepsTheModel()
    {
        var train = Synthetic(70);
        var test = Synthetic(60);
        var warm = Create("ffnn", new FFRandom(1));
        warm.Backend = _gpu;
        Exercise(warm, train, test);
        warm.ReleaseDeviceMemory();
        long baseline = _gpu.MemoryInUse;

        var model = (FFNetwork)Create("ffnn", new FFRandom(1));
        model.Backend = _gpu;
        Exercise(model, train, test);
        var onDevice = model.LabelScores(test.ToMatrix());
        model.Backend = ComputeBackend.Cpu;
        Assert.Equal(baseline, _gpu.MemoryInUse);
        // The trained state came back with it: the CPU scores the same (to float rounding of another order of sums).
        var onCpu = model.LabelScores(test.ToMatrix());
        for (int i = 0; i < onCpu.Data.Length; i++) Assert.True(MathF.Abs(onCpu.Data[i] - onDevice.Data[i]) <= 1e-4f * (1 + MathF.Abs(onDevice.Data[i])), $"score {i}: {onCpu.Data[i]} on the CPU, {onDevice.Data[i]} on the device");
    }

    [Fact]
    public void ASweepOfManyRunsEndsHoldingWhatOneRunHolds()
    {
        string dir = Directory.CreateTempSubdirectory("fflib-gpu-memory-").FullName;
        try
        {
            string data = SweepClusterTests.SyntheticMnist(Path.Combine(dir, "data"), 120, 20);
            Experiments.SweepSpec Spec(int seeds) => new()
            {
                Models = [Architecture.Ffnn, Architecture.Bpnn], Layers = [[16, 8]], Seeds = seeds, Epochs = 1, BatchSize = 40,
                Base = new ModelSettings { TrainFrames = 2, TestFrameLow = 1, TestFrameHigh = 3 },
                Data = new DatasetLoadOptions { DataDirectory = data, AllowDownload = false },
            };
            long collectedBefore = CollectAndCount();
            Experiments.SweepRunner.RunConcurrently(Spec(1).Expand(), Path.Combine(dir, "one"), [_gpu]);
            long afterOne = _gpu.MemoryInUse;
            var outcome = Experiments.SweepRunner.RunConcurrently(Spec(4).Expand(), Path.Combine(dir, "four"), [_gpu]);
            Assert.Equal(8, outcome.Written.Count);
            Assert.All(outcome.Written, r => Assert.Equal("completed", r.Status));
            // Each run loads its own copy of the data: one resident set at a time, the model's memory freed after each run.
            Assert.Equal(afterOne, _gpu.MemoryInUse);
            Assert.Equal(collectedBefore, CollectAndCount());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void DisposingTheBackendFreesTheResidentTrainingSet()
    {
        using var stream = _gpu.CreateStream();
        var model = Create("ffnn", new FFRandom(1));
        model.Backend = stream;
        new Trainer().Train((ITrainableModel)model, Synthetic(70), null, new TrainingOptions { Epochs = 1, BatchSize = 16, ValidateEachEpoch = false }, new FFRandom(3));
        model.ReleaseDeviceMemory();
        Assert.True(stream.MemoryInUse >= 70 * 12 * sizeof(float));
        stream.Dispose();
        Assert.Equal(0, stream.MemoryInUse);
    }
}
