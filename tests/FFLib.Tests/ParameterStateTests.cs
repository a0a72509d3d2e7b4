using FFLib.Compute;
using FFLib.Gpu;
using FFLib.Models;
using FFLib.Modules;
using FFLib.Optim;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Parameters own their state: each holds its gradient, Adam's moments and the device's copies of
/// them, and the optimisers, synchronisation and release go through the parameters.
/// </summary>
[Collection("GpuSimulator")]
public sealed class ParameterStateTests : IDisposable
{
    private readonly GpuBackend _gpu = GpuBackend.CreateSimulator();

    public void Dispose() => _gpu.Dispose();

    private static ITrainableModel Create(string id) => ArchitectureRegistry.Find(id)!.Create(
        new ModelSettings { HiddenSizes = [12, 10], LearningRate = 0.01f }.With(FFSettings.Threshold, 0.4f), 16, 3, new FFRandom(5));

    private static void Train(ITrainableModel model, int steps)
    {
        var r = new FFRandom(6);
        foreach (var phase in model.PlanEpochs(2).Distinct())
            for (int i = 0; i < steps; i++)
                model.TrainBatch(TestUtil.RandomMatrix(6, 16, r), [0, 1, 2, 2, 1, 0], NegativeControl.OneHot([1, 2, 0, 0, 2, 1], 3), phase);
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffc")]
    [InlineData("ffrnn")]
    [InlineData("bpnn")]
    public void EveryParameterHoldsItsGradientAndItsOptimisersMoments(string id)
    {
        var model = Create(id);
        Train(model, 2);
        var parameters = model.Parameters();
        // The same state objects on every call: the state lives in the module, not in the list.
        Assert.Equal(parameters.Select(p => p.State), model.Parameters().Select(p => p.State));
        // Every optimiser's moment arrays are its parameters' own, and every trainable parameter has exactly one optimiser.
        var owners = parameters.ToDictionary(p => p.State!, _ => 0);
        foreach (var optimizer in model.AllOptimizers)
            for (int j = 0; j < optimizer.ParameterCount; j++)
            {
                var p = parameters.Single(x => ReferenceEquals(x.Data, optimizer.ParameterArrays[j]));
                Assert.Same(p.State!.FirstMoment, optimizer.FirstMoments[j]);
                Assert.Same(p.State.SecondMoment, optimizer.SecondMoments[j]);
                owners[p.State]++;
            }
        Assert.All(parameters, p => Assert.Equal(p.Trainable ? 1 : 0, owners[p.State!]));
        // After training each parameter carries a gradient and moments, all finite, not all zero.
        Assert.All(parameters, p =>
        {
            Assert.Equal(p.Data.Length, p.State!.Gradient.Length);
            Assert.Contains(p.State.SecondMoment, v => v > 0);
            Assert.All(p.State.Gradient, v => Assert.True(float.IsFinite(v)));
        });
    }

    [Fact]
    public void OnADeviceTheParametersHoldTheCopiesAndSynchroniseAndReleaseThem()
    {
        var cpu = (FFNetwork)Create("ffnn");
        var gpu = (FFNetwork)Create("ffnn");
        gpu.Backend = _gpu;
        Train(cpu, 3);
        Train(gpu, 3);
        var states = gpu.Parameters().Select(p => p.State!).ToArray(); // Parameters() synchronises first
        Assert.All(states, s => Assert.True(s.HasDeviceCopies));
        foreach (var (a, b) in cpu.Parameters().Zip(gpu.Parameters()))
            foreach (var (x, y) in new[] { (a.Data, b.Data), (a.State!.FirstMoment, b.State!.FirstMoment), (a.State.SecondMoment, b.State.SecondMoment) })
                for (int i = 0; i < x.Length; i++)
                    Assert.True(MathF.Abs(x[i] - y[i]) <= 1e-4f * MathF.Max(1e-3f, MathF.Abs(x[i])), $"{a.Name}[{i}]: CPU {x[i]}, GPU {y[i]}");
        long before = _gpu.MemoryInUse;
        gpu.ReleaseDeviceMemory();
        Assert.All(states, s => Assert.False(s.HasDeviceCopies));
        long parameterBytes = 4L * sizeof(float) * states.Sum(s => s.Data.Length); // value, gradient, two moments
        Assert.True(before - _gpu.MemoryInUse >= parameterBytes, $"freed {before - _gpu.MemoryInUse} bytes; the parameters alone held {parameterBytes}");
        // Trained on from the host arrays, on the CPU, the model continues as the CPU-trained one does.
        gpu.Backend = ComputeBackend.Cpu;
        Train(cpu, 1);
        Train(gpu, 1);
        var images = TestUtil.RandomMatrix(20, 16, new FFRandom(9));
        Assert.Equal(cpu.Predict(images), gpu.Predict(images));
    }

    [Fact]
    public void ANewOptimiserStartsFromZeroAndAHandMadeParameterIsRefused()
    {
        var model = (FFNetwork)Create("ffnn");
        Train(model, 2);
        var layer = model.Layers[0];
        Assert.Contains(layer.WeightParameter.FirstMoment, v => v != 0);
        var fresh = new AdamOptimizer(new AdamSettings(0.01f), layer.Parameters());
        Assert.All(fresh.FirstMoments.Concat(fresh.SecondMoments), m => Assert.All(m, v => Assert.Equal(0f, v)));
        var handMade = new Parameter("w", "layer 1", "weight", [2], new float[2]);
        var e = Assert.Throws<ArgumentException>(() => new AdamOptimizer(new AdamSettings(0.01f), [handMade]));
        Assert.Contains("'w' was made by hand", e.Message);
        // A parameter's array has one device copy, the parameter's: the plain-array route refuses it.
        var refused = Assert.Throws<ArgumentException>(() => model.Device(layer.Weight.Data));
        Assert.Contains("Device(LocalParameter)", refused.Message);
    }
}
