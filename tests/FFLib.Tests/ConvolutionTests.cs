using FFLib.Compute;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// The convolution path (im2col + GEMM, NHWC) against the plain direct convolution, its gradients
/// against the reference and finite differences, pooling, and the FF CNN's gradient against a
/// double-precision re-derivation of its loss.
/// </summary>
public class ConvolutionTests
{
    public static TheoryData<int, int, int, int, int, int, int> Geometries => new()
    {
        // channels, height, width, kernel, stride, padding, out channels
        { 1, 7, 7, 3, 1, 1, 4 },
        { 3, 8, 6, 5, 1, 2, 5 },
        { 2, 9, 9, 3, 2, 0, 3 },
        { 4, 5, 5, 1, 1, 0, 6 },
        { 2, 6, 7, 3, 2, 1, 2 },
    };

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var r = new FFRandom(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (2f * r.NextSingle() - 1f) * scale;
        return a;
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Im2ColProductMatchesTheDirectConvolution(int c, int h, int w, int k, int s, int p, int o)
    {
        var g = new ConvGeometry(c, h, w, k, s, p);
        Assert.Null(g.Problem());
        const int images = 3;
        var x = Random(images * g.InputSize, 1);
        var weight = Random(o * g.PatchSize, 2, 0.5f);
        var layer = new Conv2dLayer(g, o, weight, new float[o]);
        var be = ComputeBackend.Cpu;
        var cols = be.Allocate(images * g.Positions * g.PatchSize);
        var z = be.Allocate(images * g.Positions * o);
        layer.Convolve(be, be.Attach(x).All, images, be.Attach(weight).All, cols.All, z.All);
        var expected = new float[z.Length];
        ConvKernels.ConvolveReference(x, images, g, weight, o, expected);
        TestUtil.AssertClose(expected, be.Read(z.All), 1e-5, "convolution");

        // Weight and input gradients of Σ dy·z.
        var dy = Random(z.Length, 3);
        var dw = be.Allocate(weight.Length);
        layer.WeightGradient(be, be.Attach(dy).All, cols.All, images, dw.All);
        var dwRef = new float[weight.Length];
        ConvKernels.WeightGradientReference(x, dy, images, g, o, dwRef);
        TestUtil.AssertClose(dwRef, be.Read(dw.All), 1e-5, "weight gradient");

        var dx = be.Allocate(x.Length);
        layer.InputGradient(be, be.Attach(dy).All, be.Attach(weight).All, images, be.Allocate(cols.Length).All, dx.All);
        var dxRef = new float[x.Length];
        ConvKernels.InputGradientReference(dy, weight, images, g, o, dxRef);
        TestUtil.AssertClose(dxRef, be.Read(dx.All), 1e-5, "input gradient");
    }

    [Fact]
    public void TheReferenceConvolutionIsItselfRightOnAHandExample()
    {
        // 1 channel 3×3 image 1..9, 3×3 kernel of ones, padding 1: each output sums its neighbourhood.
        var g = ConvGeometry.Same(1, 3, 3, 3);
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var y = new float[9];
        ConvKernels.ConvolveReference(x, 1, g, Enumerable.Repeat(1f, 9).ToArray(), 1, y);
        Assert.Equal([12, 21, 16, 27, 45, 33, 24, 39, 28], y);
    }

    [Fact]
    public void TheWeightGradientMatchesFiniteDifferences()
    {
        var g = new ConvGeometry(2, 5, 5, 3, 1, 1);
        const int images = 2, o = 3;
        var x = Random(images * g.InputSize, 4);
        var weight = Random(o * g.PatchSize, 5);
        var dy = Random(images * g.Positions * o, 6);
        double Objective(float[] wt)
        {
            var y = new float[dy.Length];
            ConvKernels.ConvolveReference(x, images, g, wt, o, y);
            return y.Zip(dy).Sum(t => (double)t.First * t.Second);
        }
        var be = ComputeBackend.Cpu;
        var cols = be.Allocate(images * g.Positions * g.PatchSize);
        var layer = new Conv2dLayer(g, o, weight, new float[o]);
        layer.Convolve(be, be.Attach(x).All, images, be.Attach(weight).All, cols.All, be.Allocate(dy.Length).All);
        var dw = be.Allocate(weight.Length);
        layer.WeightGradient(be, be.Attach(dy).All, cols.All, images, dw.All);
        for (int i = 0; i < weight.Length; i += 7)
        {
            var up = (float[])weight.Clone(); up[i] += 1e-2f;
            var down = (float[])weight.Clone(); down[i] -= 1e-2f;
            double numeric = (Objective(up) - Objective(down)) / 2e-2;
            Assert.True(Math.Abs(numeric - be.Read(dw.All)[i]) < 1e-3 * (1 + Math.Abs(numeric)), $"dW[{i}]: analytic {be.Read(dw.All)[i]}, numeric {numeric}");
        }
    }

    [Theory]
    [InlineData(3, 6, 6, 40)]  // two full vectors and a tail of 8 channels
    [InlineData(2, 7, 5, 16)]  // odd edges dropped
    [InlineData(1, 4, 4, 3)]   // tail only
    public void FastMaxPoolGivesTheReferenceBits(int images, int height, int width, int channels)
    {
        // Values on a coarse grid, so windows hold ties (the first of equal values wins); a NaN and ±0 too.
        var r = new FFRandom(images * 100 + channels);
        var x = new float[images * height * width * channels];
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(4 * r.NextSingle()) - 2;
        x[5] = float.NaN; x[channels + 5] = 3f; x[7] = -0f; x[channels + 7] = 0f;
        int outLen = images * (height / 2) * (width / 2) * channels;
        var (y, arg, yRef, argRef) = (new float[outLen], new float[outLen], new float[outLen], new float[outLen]);
        ConvKernels.MaxPool(x, images, height, width, channels, y, arg);
        ConvKernels.MaxPoolReference(x, images, height, width, channels, yRef, argRef);
        Assert.Equal(argRef, arg);
        Assert.Equal(yRef.Select(BitConverter.SingleToInt32Bits), y.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void MaxPoolKeepsWindowMaximaAndRoutesTheGradientToThem()
    {
        // One image 4×5×2 (the odd last column is dropped, as PyTorch's floor mode).
        const int H = 4, W = 5, C = 2;
        var x = Random(H * W * C, 7);
        var be = ComputeBackend.Cpu;
        var y = be.Allocate(2 * 2 * C);
        var arg = be.Allocate(2 * 2 * C);
        be.MaxPool(be.Attach(x).All, 1, H, W, C, y.All, arg.All);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                for (int c = 0; c < C; c++)
                {
                    float m = new[] { (2 * i) * W + 2 * j, (2 * i) * W + 2 * j + 1, (2 * i + 1) * W + 2 * j, (2 * i + 1) * W + 2 * j + 1 }.Max(p => x[p * C + c]);
                    Assert.Equal(m, be.Read(y.All)[(i * 2 + j) * C + c]);
                }
        var dy = Enumerable.Range(1, 8).Select(v => (float)v).ToArray();
        var dx = be.Allocate(x.Length);
        be.MaxPoolBackward(be.Attach(dy).All, arg.All, 1, H, W, C, dx.All);
        Assert.Equal(dy.Sum(), be.Read(dx.All).ToArray().Sum());
        for (int o = 0; o < dy.Length; o++) Assert.Equal(dy[o], be.Read(dx.All)[(int)be.Read(arg.All)[o]]);
        Assert.Equal(dy.Length, be.Read(dx.All).ToArray().Count(v => v != 0));
    }

    [Fact]
    public void GeometryAndStackProblemsAreNamed()
    {
        Assert.Contains("does not fit", new ConvGeometry(1, 4, 4, 7).Problem());
        Assert.Contains("input channel", new ConvGeometry(0, 4, 4, 3).Problem());
        var stack = new ConvStack(new ImageShape(1, 28, 28), [8, 8, 8, 8, 8], ConvStack.Parse("1p,1p,1p,1p,1p"));
        Assert.Contains("pools", stack.Problem());
        Assert.Contains("larger than", new ConvStack(new ImageShape(1, 6, 6), [4], ConvStack.Parse("7")).Problem());
        Assert.Contains("at least 1", new ConvStack(new ImageShape(1, 28, 28), [0], ConvStack.Parse("3")).Problem());
        Assert.Throws<FormatException>(() => ConvStack.Parse("5x,3"));
        Assert.Throws<FormatException>(() => ConvStack.Parse("32:5"));
        Assert.Equal("5p,3", ConvStack.Format(ConvStack.Parse(" 5P , 3 ")));
        Assert.Equal("5p,3p,3", ConvStack.Format(ConvStack.Parse("5p/3p/3")));
        Assert.Throws<ArgumentException>(() => ImageShape.FromFeatures(785));
        Assert.Equal(new ImageShape(3, 32, 32), ImageShape.FromFeatures(3072));
    }

    [Theory]
    [InlineData(LossDirection.Minimize, LabelEncoding.Fourier, ConvGoodness.Map, false)]
    [InlineData(LossDirection.Maximize, LabelEncoding.Corner, ConvGoodness.Map, false)]
    [InlineData(LossDirection.Minimize, LabelEncoding.Channels, ConvGoodness.Map, false)]
    [InlineData(LossDirection.Minimize, LabelEncoding.Fourier, ConvGoodness.Position, false)]
    [InlineData(LossDirection.Maximize, LabelEncoding.Channels, ConvGoodness.Position, false)]
    [InlineData(LossDirection.Minimize, LabelEncoding.Fourier, ConvGoodness.Map, true)]
    [InlineData(LossDirection.Maximize, LabelEncoding.Channels, ConvGoodness.Position, true)]
    public void FFConvLayerGradientMatchesADoublePrecisionDerivation(LossDirection direction, LabelEncoding encoding, ConvGoodness goodness, bool regularized)
    {
        // One FF conv layer (3 channels, 3×3) on grey 6×6 images, 3 classes; regularised: peer normalisation and
        // activity L1 with a channel as the unit and the (image, position) pairs as rows, λs large enough to show.
        const int classes = 3, outC = 3;
        var image = new ImageShape(1, 6, 6);
        var stack = new ConvStack(image, [outC], ConvStack.Parse("3"));
        const float threshold = 0.05f;
        var reg = regularized ? new FFRegularization { PeerNormalization = 20f, ActivityL1 = 0.2f } : FFRegularization.None;
        var net = new FFConvNetwork(new FFConvNetworkConfig(stack, classes, threshold, direction, 0.01f, encoding, goodness) { Regularization = reg }, new FFRandom(3));
        var images = TestUtil.RandomMatrix(4, image.Features, new FFRandom(9));
        int[] labels = [0, 1, 2, 1], negatives = [2, 0, 1, 0];
        float[] gw = [], gb = [];
        float loss = 0;
        net.StepObserver = s => { (gw, gb, loss) = (s.Gradients[0], s.Gradients[1], s.Loss); };
        var w0 = net.Layers[0].Weight.Select(v => (double)v).ToArray();
        var b0 = net.Layers[0].Bias.Select(v => (double)v).ToArray();
        net.TrainBatch(images, labels, Training.NegativeControl.OneHot(negatives, classes), TrainingPhase.ForwardForward);

        // Each row's input as channels per pixel: the image plus the label pattern, and with label
        // channels the one-hot label appended to every pixel (NHWC).
        int inC = encoding == LabelEncoding.Channels ? 1 + classes : 1;
        Assert.Equal(outC * 9 * inC, w0.Length);
        var patterns = LabelPatterns.Build(encoding, image, classes);
        var inputs = labels.Concat(negatives).Select((c, r) =>
        {
            var x = new double[36 * inC];
            for (int i = 0; i < 36; i++)
            {
                x[i * inC] = images[r % 4, i] + patterns[c, i];
                if (inC > 1) x[i * inC + 1 + c] = 1;
            }
            return x;
        }).ToArray();
        var g = stack.Geometry(0);
        int positions = g.Positions;
        double Softplus(double t) => Math.Max(t, 0) + Math.Log(1 + Math.Exp(-Math.Abs(t)));
        // z over (row, position, channel), rows positives first.
        double[] Pre(double[] w, double[] b)
        {
            var z = new double[inputs.Length * positions * outC];
            for (int r = 0; r < inputs.Length; r++)
            {
                var x = inputs[r];
                double norm = Math.Sqrt(x.Sum(v => v * v)) + 1e-4;
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++)
                        for (int o = 0; o < outC; o++)
                        {
                            double sum = 0;
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++)
                                {
                                    int iy = oy - 1 + ky, ix = ox - 1 + kx;
                                    if ((uint)iy >= 6 || (uint)ix >= 6) continue;
                                    for (int c = 0; c < inC; c++) sum += w[((o * 3 + ky) * 3 + kx) * inC + c] * x[(iy * 6 + ix) * inC + c];
                                }
                            z[(r * positions + oy * g.OutWidth + ox) * outC + o] = sum / norm + b[o];
                        }
            }
            return z;
        }
        double FFLossOf(double[] z)
        {
            double total = 0;
            int terms = 0;
            for (int r = 0; r < inputs.Length; r++)
            {
                double sign = (r < 4) == (direction == LossDirection.Minimize) ? 1 : -1, ms = 0;
                for (int q = 0; q < positions; q++)
                {
                    double msHere = 0;
                    for (int o = 0; o < outC; o++) { double hh = Math.Max(0, z[(r * positions + q) * outC + o]); msHere += hh * hh; }
                    ms += msHere;
                    if (goodness == ConvGoodness.Position) { total += Softplus(sign * (msHere / outC - threshold)); terms++; }
                }
                if (goodness == ConvGoodness.Map) { total += Softplus(sign * (ms / (positions * outC) - threshold)); terms++; }
            }
            return total / terms;
        }
        var z0 = Pre(w0, b0);
        var startMeans = Enumerable.Repeat(FFRegularization.PeerInitialMean, outC).ToArray();
        var (l1Only, peerOnly) = (new ActivityRegularizer(outC, reg with { PeerNormalization = 0 }), new ActivityRegularizer(outC, reg with { ActivityL1 = 0 }));
        double Loss(double[] w, double[] b)
        {
            var z = Pre(w, b);
            double total = FFLossOf(z);
            if (!regularized) return total;
            // L1 through the ReLU; peer normalisation straight through it (h̃ = ReLU(z0) + (z − z0)).
            int rows = inputs.Length * positions, positives = 4 * positions;
            var h = z.Select(v => Math.Max(v, 0)).ToArray();
            var through = z.Select((v, k) => Math.Max(z0[k], 0) + (v - z0[k])).ToArray();
            return total + l1Only.Loss(h, rows, positives, startMeans) + peerOnly.Loss(through, rows, positives, startMeans);
        }
        Assert.Equal(FFLossOf(z0), loss, 4);
        double maxG = gw.Concat(gb).Max(v => Math.Abs(v));
        Assert.True(maxG > 1e-5, "the check needs a non-trivial gradient");
        for (int i = 0; i < w0.Length; i++)
        {
            double num = GradientCheckTests.Central(w0, i, 1e-6, p => Loss(p, b0));
            Assert.True(Math.Abs(num - gw[i]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-9, $"dL/dW[{i}]: analytic {gw[i]}, numeric {num}");
        }
        for (int j = 0; j < b0.Length; j++)
        {
            double num = GradientCheckTests.Central(b0, j, 1e-6, p => Loss(w0, p));
            Assert.True(Math.Abs(num - gb[j]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-9, $"dL/db[{j}]: analytic {gb[j]}, numeric {num}");
        }
    }
}
