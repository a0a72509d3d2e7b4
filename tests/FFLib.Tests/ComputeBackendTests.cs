using FFLib.Compute;
using FFLib.Data;
using FFLib.Gpu;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// A backend written against the public surface only: it implements the 19 abstract primitives by
/// forwarding them to another backend, and nothing else, so every composite operation takes
/// ComputeBackend's default and every architecture's fused operations take their fallback built
/// from primitives. Its arrays are its own (wrapping the other backend's), as a real device's are.
/// </summary>
internal sealed class PrimitivesOnlyBackend(ComputeBackend inner) : ComputeBackend
{
    private sealed class Wrapped(ComputeBackend owner, DeviceArray array) : DeviceArray(owner, array.Length)
    {
        public DeviceArray Array { get; } = array;
        public override void Release() => Array.Release();
    }

    private DeviceSpan In(DeviceSpan s) => s.Array is Wrapped w && w.Backend == this
        ? new DeviceSpan(w.Array, s.Offset, s.Length)
        : throw new ArgumentException($"The array belongs to {s.Array.Backend.Name}, not {Name}.");

    public override string Name => "primitives(" + inner.Name + ")";
    public override DeviceArray Allocate(int length) => new Wrapped(this, inner.Allocate(length));
    public override DeviceArray Attach(float[] host) => new Wrapped(this, inner.Attach(host));
    public override ReadOnlySpan<float> Read(DeviceSpan source) => inner.Read(In(source));
    public override void Write(ReadOnlySpan<float> source, DeviceSpan destination) => inner.Write(source, In(destination));
    public override void Clear(DeviceSpan span) => inner.Clear(In(span));
    public override void Copy(DeviceSpan src, DeviceSpan dst) => inner.Copy(In(src), In(dst));
    public override void Gemm(bool transA, bool transB, int m, int n, int k, DeviceSpan a, int lda, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate) =>
        inner.Gemm(transA, transB, m, n, k, In(a), lda, In(b), ldb, In(c), ldc, accumulate);
    public override void BiasActivation(DeviceSpan z, int rows, int cols, DeviceSpan bias, bool relu) => inner.BiasActivation(In(z), rows, cols, In(bias), relu);
    public override void ReluBackward(DeviceSpan dx, DeviceSpan a) => inner.ReluBackward(In(dx), In(a));
    public override void ScaleRows(DeviceSpan m, int rows, int cols, DeviceSpan scale) => inner.ScaleRows(In(m), rows, cols, In(scale));
    public override void AddScaled(float alpha, DeviceSpan x, float beta, DeviceSpan y) => inner.AddScaled(alpha, In(x), beta, In(y));
    public override void MeanSquares(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares) => inner.MeanSquares(In(h), rows, cols, In(meanSquares));
    public override void InverseRowNorms(DeviceSpan x, int rows, int cols, DeviceSpan invNorm) => inner.InverseRowNorms(In(x), rows, cols, In(invNorm));
    public override void ColumnSums(DeviceSpan m, int rows, int cols, DeviceSpan sums) => inner.ColumnSums(In(m), rows, cols, In(sums));
    public override void GatherRows(DeviceSpan src, int cols, DeviceSpan dst, int rows, int multiplier, int divisor, int modulo) =>
        inner.GatherRows(In(src), cols, In(dst), rows, multiplier, divisor, modulo);
    public override void GatherIndexed(DeviceSpan src, int cols, DeviceSpan indices, int rows, DeviceSpan dst) => inner.GatherIndexed(In(src), cols, In(indices), rows, In(dst));
    public override void CopyColumns(DeviceSpan src, int rows, int cols, DeviceSpan dst, int ldDst, int offset) => inner.CopyColumns(In(src), rows, cols, In(dst), ldDst, offset);
    public override void AdamStep(DeviceSpan p, DeviceSpan g, DeviceSpan m, DeviceSpan v, float lr, float beta1, float beta2, float eps, int step) =>
        inner.AdamStep(In(p), In(g), In(m), In(v), lr, beta1, beta2, eps, step);
}

/// <summary>
/// The public backend surface: the composite operations' defaults and the architectures'
/// fallbacks (built from the primitives) against the fused versions of the CPU and the GPU
/// simulator, and every architecture trained on a backend that has nothing but the primitives.
/// </summary>
[Collection("GpuSimulator")]
public sealed class ComputeBackendTests : IDisposable
{
    private readonly GpuBackend _gpu = GpuBackend.CreateSimulator();

    public void Dispose() => _gpu.Dispose();

    private static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float rel, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= rel * MathF.Max(1f, MathF.Abs(expected[i])), $"{what} [{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void TheAbstractSurfaceIsPublicAndSmall()
    {
        var members = typeof(ComputeBackend).GetMembers(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)
            .Where(m => m is System.Reflection.MethodInfo { IsAbstract: true } mi && !mi.IsSpecialName
                || m is System.Reflection.PropertyInfo p && (p.GetMethod?.IsAbstract ?? false))
            .ToList();
        Assert.True(members.Count <= 20, $"{members.Count} abstract members: {string.Join(", ", members.Select(m => m.Name))}");
        Assert.All(members, m => Assert.True(m is System.Reflection.MethodInfo { IsPublic: true } || m is System.Reflection.PropertyInfo { GetMethod.IsPublic: true }, $"{m.Name} is abstract but not public: an outside backend could not implement it"));
    }

    public static TheoryData<string> Inners => ["cpu", "gpu-simulator"];

    private ComputeBackend Inner(string name) => name == "cpu" ? ComputeBackend.Cpu : _gpu;

    [Theory]
    [MemberData(nameof(Inners))]
    public void CompositeDefaultsMatchTheFusedOperations(string innerName)
    {
        var fused = Inner(innerName);
        var plain = new PrimitivesOnlyBackend(fused);
        var r = new FFRandom(21);
        int rows = 6, cols = 13, classes = 4;
        var x = TestUtil.RandomMatrix(rows, cols, r).Data;
        var bias = TestUtil.RandomMatrix(1, cols, r).Data;
        var scale = TestUtil.RandomMatrix(1, rows, r).Data.Select(v => MathF.Abs(v) + 0.1f).ToArray();
        var labels = new float[] { 0, 3, 1, 2, 2, 0 };
        float[] Run(ComputeBackend be, Action<ComputeBackend, DeviceSpan, DeviceSpan, DeviceSpan, DeviceSpan, DeviceSpan> op, int outLength)
        {
            var (dx, db, ds, dl) = (be.Attach((float[])x.Clone()), be.Attach((float[])bias.Clone()), be.Attach((float[])scale.Clone()), be.Attach((float[])labels.Clone()));
            var o = be.Allocate(outLength);
            op(be, dx.All, db.All, ds.All, dl.All, o.All);
            return [.. be.Read(dx.All), .. be.Read(o.All)];
        }
        var ops = new (string, Action<ComputeBackend, DeviceSpan, DeviceSpan, DeviceSpan, DeviceSpan, DeviceSpan>, int)[]
        {
            ("scale-bias-relu", (be, dx, db, ds, dl, o) => be.ScaleBiasRelu(dx, rows, cols, ds, db), 1),
            ("normalize rows", (be, dx, db, ds, dl, o) => be.NormalizeRows(dx, rows, cols, o), rows * cols),
            ("broadcast row", (be, dx, db, ds, dl, o) => be.BroadcastRow(bias, o, rows), rows * cols),
            ("ff loss", (be, dx, db, ds, dl, o) => be.FFLossAndCoefficients(ds, 3, 0.5f, true, cols, o.Slice(0, rows), o.Slice(rows, 1)), rows + 1),
            ("ff goodness and loss", (be, dx, db, ds, dl, o) => be.FFGoodnessAndLoss(dx, rows, cols, o.Slice(0, rows), 2, 0.3f, false, o.Slice(rows, rows), o.Slice(2 * rows, 1)), 2 * rows + 1),
            ("ff backward", (be, dx, db, ds, dl, o) => be.FFBackward(dx, rows, cols, ds, ds, o), cols),
            ("cross-entropy", (be, dx, db, ds, dl, o) => be.CrossEntropyLossAndGradient(dx.Slice(0, rows * classes), rows, classes, dl, o.Slice(0, rows * classes), o.Slice(rows * classes, 1)), rows * classes + 1),
            ("adam steps", (be, dx, db, ds, dl, o) => be.AdamSteps([dx.Slice(0, cols), dx.Slice(cols, cols)], [db, db], [dx.Slice(2 * cols, cols), dx.Slice(3 * cols, cols)],
                [o.Slice(0, cols), o.Slice(cols, cols)], 0.02f, 0.9f, 0.999f, 1e-8f, 2), 2 * cols),
        };
        foreach (var (name, op, length) in ops)
            Close(Run(fused, op, length), Run(plain, op, length), 1e-5f, name);
    }

    [Theory]
    [MemberData(nameof(Inners))]
    public void ArchitectureFallbacksMatchTheFusedOperations(string innerName)
    {
        var fused = Inner(innerName);
        var plain = new PrimitivesOnlyBackend(fused);
        Assert.Null(FFNetworkFusedOps.For(plain));
        Assert.IsType<FFRecurrentFusedOps.FromPrimitives>(FFRecurrentFusedOps.For(plain));
        var r = new FFRandom(22);
        int rows = 5, cols = 9, n = 2, px = 7, k = 3;
        var pre = TestUtil.RandomMatrix(rows, cols, r).Data;
        var fresh = TestUtil.RandomMatrix(rows, cols, r).Data;
        var old = TestUtil.RandomMatrix(rows, cols, r).Data;
        var bias = TestUtil.RandomMatrix(1, cols, r).Data;
        var coef = TestUtil.RandomMatrix(1, rows, r).Data;
        var images = TestUtil.RandomMatrix(n, px, r).Data;
        var control = TestUtil.RandomMatrix(rows, k, r).Data;
        float[] Damped(ComputeBackend be)
        {
            var (p, o, res) = (be.Attach((float[])pre.Clone()), be.Attach((float[])old.Clone()), be.Allocate(rows * cols));
            FFRecurrentFusedOps.For(be).DampedRelu(p.All, rows, cols, be.Attach((float[])bias.Clone()).All, o.All, 0.7f, res.All);
            return [.. be.Read(p.All), .. be.Read(res.All)];
        }
        float[] DampedBackward(ComputeBackend be)
        {
            var p = be.Attach((float[])pre.Clone());
            FFRecurrentFusedOps.For(be).DampedReluBackward(p.All, be.Attach((float[])fresh.Clone()).All, be.Attach((float[])coef.Clone()).All, 0.7f, rows, cols);
            return be.Read(p.All).ToArray();
        }
        float[] Embed(ComputeBackend be)
        {
            var dst = be.Allocate(rows * (px + k));
            FFNetworkFusedOps.EmbedControl(be, be.Attach((float[])images.Clone()).All, n, px, be.Attach((float[])control.Clone()).All, k, rows, dst.All);
            return be.Read(dst.All).ToArray();
        }
        // The same products and sums in the same order: the fallbacks give the fused kernels' bits.
        Assert.Equal(Damped(fused), Damped(plain));
        Assert.Equal(DampedBackward(fused), DampedBackward(plain));
        Assert.Equal(Embed(fused), Embed(plain));
    }

    [Theory]
    [InlineData("ffnn")]
    [InlineData("ffc")]
    [InlineData("ffrnn")]
    [InlineData("bpnn")]
    public void EveryArchitectureTrainsOnABackendOfPrimitivesOnly(string id)
    {
        // Two FF steps (and the FFNN+C's classifier phase), then scores: the fused CPU against the
        // primitives' fallbacks (the FFNN's layer 1 then takes its plain path: rounding differs).
        var architecture = ArchitectureRegistry.Find(id)!;
        var settings = new ModelSettings { HiddenSizes = [24, 16], LearningRate = 0.01f }.With(FFSettings.Threshold, 0.4f);
        ITrainableModel Net() => architecture.Create(settings, 20, 4, new FFRandom(3));
        var cpu = Net();
        var plain = Net();
        ((Modules.ComputeModule)plain).Backend = new PrimitivesOnlyBackend(ComputeBackend.Cpu);
        var r = new FFRandom(4);
        foreach (var phase in cpu.PlanEpochs(2).Distinct())
            for (int step = 0; step < 2; step++)
            {
                var images = TestUtil.RandomMatrix(8, 20, r);
                int[] labels = [0, 1, 2, 3, 3, 2, 1, 0];
                var negative = NegativeControl.OneHot([1, 2, 3, 0, 0, 3, 2, 1], 4);
                Close(cpu.TrainBatch(images, labels, negative, phase), plain.TrainBatch(images, labels, negative, phase), 1e-4f, $"{id} losses, {phase}");
            }
        var test = TestUtil.RandomMatrix(30, 20, r);
        Assert.Equal(cpu.Predict(test), plain.Predict(test));
        foreach (var (a, b) in cpu.Parameters().Zip(plain.Parameters())) Close(a.Data, b.Data, 1e-4f, a.Name);
    }

    [Fact]
    public void TrainingRunRefusesABackendForAModelThatIsNotAComputeModule()
    {
        // A host-only outside architecture (its model wraps an FFNN but is no ComputeModule) asked to
        // run on a backend: one clear refusal before any training, and no model file left behind.
        var dir = Directory.CreateTempSubdirectory("fflib-hostonly-").FullName;
        try
        {
            var spec = new RunSpec
            {
                Architecture = new HostOnlyArchitecture(), Dataset = DatasetKind.Mnist, Model = new ModelSettings { HiddenSizes = [8] },
                Training = new TrainingOptions { Epochs = 1 }, TrainLimit = 200, TestLimit = 20, Seed = 1,
                Data = new DatasetLoadOptions { AllowDownload = false }, OutputDirectory = dir, Backend = new PrimitivesOnlyBackend(ComputeBackend.Cpu),
            };
            var e = Assert.Throws<ArgumentException>(() => TrainingRun.Execute(spec));
            Assert.Contains("host-only test models compute on the CPU only", e.Message);
            Assert.Contains("primitives(cpu)", e.Message);
            Assert.False(File.Exists(Path.Combine(dir, "model.safetensors")));
            Assert.False(File.Exists(Path.Combine(dir, "run.json")));
            // Without a backend the same model trains.
            var result = TrainingRun.Execute(spec with { Backend = null });
            Assert.True(File.Exists(result.RunJsonPath));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private sealed class HostOnlyArchitecture : Architecture
    {
        public override string Id => "test-host-only";
        public override string DisplayName => "host-only test";
        public override string Description => "an FFNN behind a wrapper that is not a ComputeModule";
        public override IClassifierModel FromConfig(System.Text.Json.Nodes.JsonObject config) => throw new NotSupportedException();
        public override ITrainableModel Create(ModelSettings settings, int imageFeatures, int classes, FFRandom random) =>
            new HostOnlyModel(this, Architecture.Ffnn.Create(settings, imageFeatures, classes, random));
    }

    private sealed class HostOnlyModel(Architecture architecture, ITrainableModel inner) : ITrainableModel
    {
        public Architecture Architecture => architecture;
        public IReadOnlyList<Modules.Parameter> Parameters() => inner.Parameters();
        public System.Text.Json.Nodes.JsonObject ConfigToJson() => inner.ConfigToJson();
        public int ImageFeatures => inner.ImageFeatures;
        public int Classes => inner.Classes;
        public int[] Predict(Matrix images) => inner.Predict(images);
        public IReadOnlyList<Optim.AdamOptimizer> AllOptimizers => inner.AllOptimizers;
        public LayerActivationObserver? ActivationObserver { get => inner.ActivationObserver; set => inner.ActivationObserver = value; }
        public IReadOnlyList<TrainingPhase> PlanEpochs(int requestedEpochs) => inner.PlanEpochs(requestedEpochs);
        public IReadOnlyList<string> LossNames(TrainingPhase phase) => inner.LossNames(phase);
        public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase) => inner.TrainBatch(images, labels, negativeControl, phase);
    }
}
