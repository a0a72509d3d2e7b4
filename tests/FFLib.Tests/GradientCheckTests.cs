using FFLib.Compute;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

/// <summary>
/// Finite-difference check of the FF layer gradient: the library's analytic dL/dW and dL/db
/// (float32, normalisation folded into the product) against central differences of the FF loss of docs/architectures.md
/// loss evaluated in double precision.
/// </summary>
public class GradientCheckTests
{
    [Theory]
    [InlineData(LossDirection.Minimize, 0.05f)]
    [InlineData(LossDirection.Maximize, 0.05f)]
    [InlineData(LossDirection.Minimize, 0.5f)]
    [InlineData(LossDirection.Maximize, 0.01f)]
    public void AnalyticGradientMatchesFiniteDifferences(LossDirection direction, float threshold)
    {
        const int img = 9, classes = 3, width = 6, batch = 5;
        var cfg = new FFNetworkConfig { ImageFeatures = img, Classes = classes, HiddenSizes = [width], Threshold = threshold, Loss = direction };
        var net = new FFNetwork(cfg, new FFRandom(7));
        var rng = new FFRandom(8);
        var images = new Matrix(batch, img);
        for (int i = 0; i < images.Length; i++) images.Data[i] = rng.NextSingle();
        int[] labels = [0, 1, 2, 1, 0], neg = [1, 2, 0, 0, 2];

        var w0 = net.Layers[0].Weight.Data.Select(x => (double)x).ToArray();
        var b0 = net.Layers[0].Bias.Select(x => (double)x).ToArray();
        float[] gw = [], gb = [];
        float lossF = 0;
        net.StepObserver = s => { gw = s.Gradients[0].ToArray(); gb = s.Gradients[1].ToArray(); lossF = s.Loss; };
        net.TrainBatch(images, labels, neg);

        var x = BuildInputs(images, labels, neg, img, classes);
        double loss0 = Loss(x, w0, b0, width, cfg.InputFeatures, batch, threshold, direction);
        Assert.Equal(loss0, lossF, 5);

        const double h = 1e-6;
        double maxG = gw.Concat(gb).Max(v => Math.Abs(v));
        for (int i = 0; i < w0.Length; i++)
        {
            double num = Central(w0, i, h, p => Loss(x, p, b0, width, cfg.InputFeatures, batch, threshold, direction));
            Assert.True(Math.Abs(num - gw[i]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-9, $"dL/dW[{i}]: analytic {gw[i]}, numeric {num}");
        }
        for (int j = 0; j < b0.Length; j++)
        {
            double num = Central(b0, j, h, p => Loss(x, w0, p, width, cfg.InputFeatures, batch, threshold, direction));
            Assert.True(Math.Abs(num - gb[j]) <= 1e-3 * (Math.Abs(num) + 0.1 * maxG) + 1e-9, $"dL/db[{j}]: analytic {gb[j]}, numeric {num}");
        }
        Assert.True(maxG > 1e-6, "the check needs a non-trivial gradient");
    }

    internal static double Central(double[] p, int i, double h, Func<double[], double> f)
    {
        var q = (double[])p.Clone();
        q[i] = p[i] + h; double up = f(q);
        q[i] = p[i] - h; double down = f(q);
        return (up - down) / (2 * h);
    }

    internal static double[][] BuildInputs(Matrix images, int[] labels, int[] neg, int img, int classes)
    {
        var rows = new List<double[]>();
        foreach (var set in new[] { labels, neg })
            for (int r = 0; r < images.Rows; r++)
            {
                var row = new double[img + classes];
                for (int k = 0; k < img; k++) row[k] = images[r, k];
                row[img + set[r]] = 1;
                rows.Add(row);
            }
        return rows.ToArray();
    }

    /// <summary>The FF loss (docs/architectures.md) in double precision: mean over 2B rows of softplus(±(mean h² − θ)).</summary>
    internal static double Loss(double[][] x, double[] w, double[] b, int outF, int inF, int batch, double theta, LossDirection dir)
    {
        double sum = 0;
        for (int r = 0; r < x.Length; r++)
        {
            double norm = Math.Sqrt(x[r].Sum(v => v * v)) + 1e-4;
            double g = 0;
            for (int j = 0; j < outF; j++)
            {
                double z = b[j];
                for (int k = 0; k < inF; k++) z += x[r][k] / norm * w[j * inF + k];
                double hj = Math.Max(z, 0);
                g += hj * hj / outF;
            }
            bool positive = r < batch;
            double sign = positive == (dir == LossDirection.Minimize) ? 1 : -1;
            double a = sign * (g - theta);
            sum += Math.Max(a, 0) + Math.Log(1 + Math.Exp(-Math.Abs(a)));
        }
        return sum / x.Length;
    }
}
