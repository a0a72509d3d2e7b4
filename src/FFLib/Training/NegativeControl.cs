using System.Diagnostics;
using FFLib.Compute;
using FFLib.Data;
using FFLib.Layers;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>Negative control vectors for each <see cref="NegativeMode"/>.</summary>
public static class NegativeControl
{
    /// <summary>Rows = onehot(labels[i]) (<see cref="LabelProbe.OneHot"/>).</summary>
    public static Matrix OneHot(ReadOnlySpan<int> labels, int classes) => LabelProbe.OneHot(labels, classes);

    /// <summary>Rows = 1 − onehot(labels[i]): every wrong label set (the reference's "inverse" negatives).</summary>
    public static Matrix Inverse(ReadOnlySpan<int> labels, int classes)
    {
        var m = new Matrix(labels.Length, classes);
        m.Data.AsSpan().Fill(1f);
        for (int i = 0; i < labels.Length; i++) m.Data[i * classes + labels[i]] = 0f;
        return m;
    }

    /// <summary>
    /// Hard negatives from label scores: the most plausible wrong label (lowest score under L−,
    /// highest under L+), or, when <paramref name="random"/> is given, one sampled with
    /// probability ∝ exp(plausibility) over the wrong labels.
    /// </summary>
    public static int[] Hard(Matrix scores, ReadOnlySpan<int> labels, Layers.LossDirection direction, FFRandom? random = null)
    {
        ArgumentNullException.ThrowIfNull(scores);
        int classes = scores.Cols;
        var result = new int[labels.Length];
        var p = new double[classes];
        for (int i = 0; i < labels.Length; i++)
        {
            var row = scores.Row(i);
            double sign = direction == Layers.LossDirection.Minimize ? -1 : 1;
            if (random is null)
            {
                int best = -1;
                for (int c = 0; c < classes; c++)
                    if (c != labels[i] && (best < 0 || sign * row[c] > sign * row[best])) best = c;
                result[i] = best;
                continue;
            }
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++) if (c != labels[i]) max = Math.Max(max, sign * row[c]);
            double total = 0;
            for (int c = 0; c < classes; c++) total += p[c] = c == labels[i] ? 0 : Math.Exp(sign * row[c] - max);
            double u = random.NextDouble() * total;
            int pick = -1;
            for (int c = 0; c < classes; c++)
            {
                if (p[c] == 0) continue;
                pick = c;
                u -= p[c];
                if (u < 0) break;
            }
            result[i] = pick;
        }
        return result;
    }

    internal static Matrix Make(NegativeMode mode, ITrainableModel model, Matrix batch, ReadOnlySpan<int> labels, ReadOnlySpan<int> randomWrong, FFRandom random)
    {
        switch (mode)
        {
            case NegativeMode.Random:
                return OneHot(randomWrong, model.Classes);
            case NegativeMode.Inverse:
                return Inverse(labels, model.Classes);
            default:
                var scorer = Trainer.HardNegativeScorer(model)!;
                var scores = scorer.LabelScores(batch);
                return OneHot(Hard(scores, labels, scorer.ScoreDirection, mode == NegativeMode.HardSampled ? random : null), model.Classes);
        }
    }
}
