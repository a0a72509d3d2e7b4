using FFLib.Compute;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// C# against PyTorch 1.13: tests/reference/ffnn_torch.py writes Fixtures/ffnn_golden.json (a seeded
/// 16→10→7 FF stack, a fixed batch of 6, three training steps). Goodness, loss, gradients and
/// weights after each Adam step, and the final label scores, must match to 1e-5 relative.
/// </summary>
public class GoldenTests
{
    [Theory]
    [InlineData("minimize", LossDirection.Minimize)]
    [InlineData("maximize", LossDirection.Maximize)]
    public void ThreeStepsMatchPyTorch(string caseName, LossDirection direction)
    {
        var c = TestUtil.LoadJson("ffnn_golden.json")["cases"]![caseName]!;
        var sizes = TestUtil.Ints(c["sizes"]);
        int img = c["image_features"]!.GetValue<int>(), classes = c["classes"]!.GetValue<int>();
        var cfg = new FFNetworkConfig
        {
            ImageFeatures = img,
            Classes = classes,
            HiddenSizes = sizes.Skip(1).ToArray(),
            Threshold = (float)c["threshold"]!.GetValue<double>(),
            Loss = direction,
            LearningRate = (float)c["lr"]!.GetValue<double>(),
        };
        var layers = new List<FFDenseLayer>();
        for (int l = 0; l < sizes.Length - 1; l++)
        {
            var w = TestUtil.Floats(c["initial"]![l]!["weight"]);
            var b = TestUtil.Floats(c["initial"]![l]!["bias"]);
            layers.Add(new FFDenseLayer(new Matrix(sizes[l + 1], sizes[l], w), b));
        }
        var net = new FFNetwork(cfg, layers);
        var images = new Matrix(6, img, TestUtil.Floats(c["images"]));
        var labels = TestUtil.Ints(c["labels"]);
        var neg = TestUtil.Ints(c["negative_labels"]);

        const double rtol = 1e-5;
        for (int step = 0; step < 3; step++)
        {
            var expectedSteps = c["steps"]![step]!;
            int observed = 0;
            net.StepObserver = s =>
            {
                var (l, loss, ms, gw, gb) = (s.Layer, s.Loss, s.MeanSquares, s.Gradients[0], s.Gradients[1]);
                var e = expectedSteps[l]!;
                string at = $"{caseName} step {step + 1} layer {l + 1}";
                TestUtil.AssertClose([(float)e["loss"]!.GetValue<double>()], [loss], rtol, at + " loss");
                var goodness = TestUtil.Floats(e["goodness_pos"]).Concat(TestUtil.Floats(e["goodness_neg"])).ToArray();
                TestUtil.AssertClose(goodness, ms, rtol, at + " goodness");
                TestUtil.AssertClose(TestUtil.Floats(e["grad_weight"]), gw, rtol, at + " dL/dW");
                TestUtil.AssertClose(TestUtil.Floats(e["grad_bias"]), gb, rtol, at + " dL/db");
                observed++;
            };
            net.TrainBatch(images, labels, neg);
            Assert.Equal(layers.Count, observed);
            for (int l = 0; l < layers.Count; l++)
            {
                var e = expectedSteps[l]!;
                TestUtil.AssertClose(TestUtil.Floats(e["weight_after"]), net.Layers[l].Weight.Data, rtol, $"{caseName} step {step + 1} layer {l + 1} W after Adam");
                TestUtil.AssertClose(TestUtil.Floats(e["bias_after"]), net.Layers[l].Bias, rtol, $"{caseName} step {step + 1} layer {l + 1} b after Adam");
            }
        }
        var scores = net.LabelScores(images);
        TestUtil.AssertClose(TestUtil.Floats(c["scores_after"]), scores.Data, rtol, caseName + " label scores");
        Assert.Equal(TestUtil.Ints(c["predictions_after"]), net.Predict(images));
    }
}

/// <summary>
/// One FFNN+C classifier step against PyTorch (Fixtures/ffc_golden.json from
/// tests/reference/ffnn_torch.py golden-ffc): zero-control-vector features of a frozen FF stack,
/// logits, cross-entropy, gradients and the classifier after one Adam step, to 1e-5 relative.
/// </summary>
public class FfcGoldenTests
{
    [Fact]
    public void ClassifierStepMatchesPyTorch()
    {
        var c = TestUtil.LoadJson("ffc_golden.json")["case"]!;
        var sizes = TestUtil.Ints(c["sizes"]);
        int img = c["image_features"]!.GetValue<int>(), classes = c["classes"]!.GetValue<int>();
        var cfg = new FFNetworkConfig { ImageFeatures = img, Classes = classes, HiddenSizes = sizes.Skip(1).ToArray(), Threshold = 1f };
        var layers = new List<FFDenseLayer>();
        for (int l = 0; l < sizes.Length - 1; l++)
            layers.Add(new FFDenseLayer(new Matrix(sizes[l + 1], sizes[l], TestUtil.Floats(c["stack"]![l]!["weight"])), TestUtil.Floats(c["stack"]![l]!["bias"])));
        int feat = sizes.Skip(1).Sum();
        var classifier = new DenseLayer(new Matrix(classes, feat, TestUtil.Floats(c["classifier_initial"]!["weight"])), TestUtil.Floats(c["classifier_initial"]!["bias"]));
        var model = new FFClassifierNetwork(new FFNetwork(cfg, layers), classifier, (float)c["classifier_lr"]!.GetValue<double>());
        var images = new Matrix(5, img, TestUtil.Floats(c["images"]));
        var labels = TestUtil.Ints(c["labels"]);

        const double rtol = 1e-5;
        TestUtil.AssertClose(TestUtil.Floats(c["features"]), model.Features(images).Data, rtol, "features");
        TestUtil.AssertClose(TestUtil.Floats(c["logits"]), classifier.Forward(model.Features(images)).Data, rtol, "logits");
        bool seen = false;
        model.StepObserver = s =>
        {
            var (loss, gw, gb) = (s.Loss, s.Gradients[0], s.Gradients[1]);
            TestUtil.AssertClose([(float)c["loss"]!.GetValue<double>()], [loss], rtol, "loss");
            TestUtil.AssertClose(TestUtil.Floats(c["grad_weight"]), gw, rtol, "dL/dW");
            TestUtil.AssertClose(TestUtil.Floats(c["grad_bias"]), gb, rtol, "dL/db");
            seen = true;
        };
        model.TrainClassifierBatch(images, labels);
        Assert.True(seen);
        TestUtil.AssertClose(TestUtil.Floats(c["weight_after"]), classifier.Weight.Data, rtol, "W after Adam");
        TestUtil.AssertClose(TestUtil.Floats(c["bias_after"]), classifier.Bias, rtol, "b after Adam");
        TestUtil.AssertClose(TestUtil.Floats(c["scores_after"]), model.ClassScores(images).Data, rtol, "ReLU scores");
        Assert.Equal(TestUtil.Ints(c["predictions_after"]), model.Predict(images));
    }
}

/// <summary>
/// FFRNN against PyTorch (Fixtures/ffrnn_golden.json from tests/reference/ffnn_torch.py
/// golden-ffrnn): a [12, 8, 6, 4] network on a batch of 5 with fixed initial rows — the states
/// after the sweep, and for two training frames every layer's loss, goodness, gradients of Wf,
/// Wb and b, parameters after Adam and the next states, to 1e-5 relative.
/// </summary>
public class FfrnnGoldenTests
{
    [Theory]
    [InlineData("minimize", LossDirection.Minimize)]
    [InlineData("maximize", LossDirection.Maximize)]
    public void TwoFramesMatchPyTorch(string caseName, LossDirection direction)
    {
        var c = TestUtil.LoadJson("ffrnn_golden.json")["cases"]![caseName]!;
        var dims = TestUtil.Ints(c["dims"]);
        var cfg = new FFRecurrentConfig
        {
            ImageFeatures = dims[0], Classes = dims[^1], HiddenSizes = dims[1..^1],
            Threshold = (float)c["threshold"]!.GetValue<double>(), Beta = (float)c["beta"]!.GetValue<double>(),
            LearningRate = (float)c["lr"]!.GetValue<double>(), Loss = direction, TrainFrames = 2,
        };
        var layers = new List<(Matrix, Matrix, float[])>();
        for (int i = 1; i < dims.Length - 1; i++)
        {
            var p = c["initial"]![i - 1]!;
            layers.Add((new Matrix(dims[i], dims[i - 1], TestUtil.Floats(p["forward"])), new Matrix(dims[i], dims[i + 1], TestUtil.Floats(p["backward"])), TestUtil.Floats(p["bias"])));
        }
        var net = new FFRecurrentNetwork(cfg, layers)
        {
            InitialStateOverride = (l, negative) => TestUtil.Floats(c[negative ? "init_neg" : "init_pos"]![l]),
        };
        const double rtol = 1e-5;
        bool swept = false;
        net.SweepObserver = states =>
        {
            for (int i = 1; i < dims.Length - 1; i++)
                TestUtil.AssertClose(TestUtil.Floats(c["sweep"]![i - 1]), states[i], rtol, $"{caseName} sweep state {i}");
            swept = true;
        };
        int steps = 0;
        net.StepObserver = s =>
        {
            var (li, frame, loss, ms, gf, gb, gbias) = (s.Layer, s.Frame, s.Loss, s.MeanSquares, s.Gradients[0], s.Gradients[1], s.Gradients[2]);
            var e = c["frames"]![frame]!["layers"]![li]!;
            string at = $"{caseName} frame {frame + 1} layer {li + 1}";
            TestUtil.AssertClose([(float)e["loss"]!.GetValue<double>()], [loss], rtol, at + " loss");
            TestUtil.AssertClose(TestUtil.Floats(e["goodness"]), ms, rtol, at + " goodness");
            TestUtil.AssertClose(TestUtil.Floats(e["grad_forward"]), gf, rtol, at + " dL/dWf");
            TestUtil.AssertClose(TestUtil.Floats(e["grad_backward"]), gb, rtol, at + " dL/dWb");
            TestUtil.AssertClose(TestUtil.Floats(e["grad_bias"]), gbias, rtol, at + " dL/db");
            steps++;
        };
        int frames = 0;
        net.FrameObserver = (frame, states) =>
        {
            var f = c["frames"]![frame]!;
            for (int i = 1; i < dims.Length - 1; i++)
            {
                var e = f["layers"]![i - 1]!;
                var layer = net.Layers[i - 1];
                TestUtil.AssertClose(TestUtil.Floats(e["forward_after"]), layer.ForwardWeight.Data, rtol, $"{caseName} frame {frame + 1} layer {i} Wf after Adam");
                TestUtil.AssertClose(TestUtil.Floats(e["backward_after"]), layer.BackwardWeight.Data, rtol, $"{caseName} frame {frame + 1} layer {i} Wb after Adam");
                TestUtil.AssertClose(TestUtil.Floats(e["bias_after"]), layer.Bias, rtol, $"{caseName} frame {frame + 1} layer {i} b after Adam");
                TestUtil.AssertClose(TestUtil.Floats(f["states"]![i - 1]), states[i], rtol, $"{caseName} frame {frame + 1} state {i}");
            }
            frames++;
        };
        net.TrainBatch(new Matrix(5, dims[0], TestUtil.Floats(c["images"])), TestUtil.Ints(c["labels"]), Training.NegativeControl.OneHot(TestUtil.Ints(c["negative_labels"]), dims[^1]), TrainingPhase.ForwardForward);
        Assert.True(swept);
        Assert.Equal(4, steps);
        Assert.Equal(2, frames);
    }
}

/// <summary>The layer-1 identities of docs/performance.md (one image product for positives, negatives and all labels) against the plain path.</summary>
public class IdentityTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ScoringManyImagesAtOnceMatchesScoringThemInSmallGroups(bool identity)
    {
        // Over more than one internal chunk the weights are packed once and reused: same bits as small calls.
        var cfg = new FFNetworkConfig { ImageFeatures = 50, Classes = 7, HiddenSizes = [600, 40] };
        var net = new FFNetwork(cfg, new FFRandom(9)) { UseInputIdentity = identity };
        var r = new FFRandom(10);
        var images = new Matrix(150, 50);
        for (int i = 0; i < images.Length; i++) images.Data[i] = r.NextSingle();
        var all = net.LabelScores(images).Data;
        var parts = new List<float>();
        for (int start = 0; start < 150; start += 50)
        {
            var part = new Matrix(50, 50);
            images.Data.AsSpan(start * 50, 50 * 50).CopyTo(part.Data);
            parts.AddRange(net.LabelScores(part).Data);
        }
        Assert.Equal(parts.ToArray(), all);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FastFirstLayerMatchesThePlainPath(bool inverseNegatives)
    {
        var cfg = new FFNetworkConfig { ImageFeatures = 50, Classes = 7, HiddenSizes = [40, 30], Threshold = 0.5f };
        var fast = new FFNetwork(cfg, new FFRandom(1));
        var plain = new FFNetwork(cfg, new FFRandom(1)) { UseInputIdentity = false };
        var r = new FFRandom(2);
        var images = new Matrix(33, 50);
        for (int i = 0; i < images.Length; i++) images.Data[i] = r.NextSingle();
        var labels = Enumerable.Range(0, 33).Select(i => i % 7).ToArray();
        var neg = inverseNegatives ? Training.NegativeControl.Inverse(labels, 7) : Training.NegativeControl.OneHot(labels.Select(l => (l + 3) % 7).ToArray(), 7);
        // Gradients agree to float rounding. Weights after Adam are compared more loosely: Adam's first
        // steps move every weight by ±lr·g/(|g| + ε), which amplifies rounding where g is near 0.
        var gradsFast = new List<float[]>();
        var gradsPlain = new List<float[]>();
        fast.StepObserver = s => gradsFast.Add([.. s.Gradients[0], .. s.Gradients[1]]);
        plain.StepObserver = s => gradsPlain.Add([.. s.Gradients[0], .. s.Gradients[1]]);
        for (int step = 0; step < 3; step++)
        {
            var lf = fast.TrainBatch(images, labels, neg);
            var lp = plain.TrainBatch(images, labels, neg);
            TestUtil.AssertClose(lp, lf, 1e-5, $"losses step {step}");
            if (step == 0)
                for (int l = 0; l < 2; l++) TestUtil.AssertClose(gradsPlain[l], gradsFast[l], 1e-5, $"gradient of layer {l + 1}");
            for (int l = 0; l < 2; l++)
            {
                TestUtil.AssertClose(plain.Layers[l].Weight.Data, fast.Layers[l].Weight.Data, 1e-4, $"W{l} step {step}");
                TestUtil.AssertClose(plain.Layers[l].Bias, fast.Layers[l].Bias, 1e-4, $"b{l} step {step}");
            }
        }
        TestUtil.AssertClose(plain.LabelScores(images).Data, fast.LabelScores(images).Data, 1e-4, "label scores");
        // Prediction on identical weights: the two paths differ only by rounding.
        plain.UseInputIdentity = true;
        var same = plain.LabelScores(images).Data;
        plain.UseInputIdentity = false;
        TestUtil.AssertClose(plain.LabelScores(images).Data, same, 1e-5, "label scores, same weights");
        Assert.Equal(plain.Predict(images), fast.Predict(images));
    }
}
