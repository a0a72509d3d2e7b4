using FFLib.Compute;
using FFLib.Export;
using FFLib.Layers;

namespace FFLib.Models;

public sealed partial class FFRecurrentNetwork : IInferenceExportable
{
    /// <summary>
    /// The prediction as a graph, per label: the label's fixed initial states (from the prediction
    /// seed), the bottom-up sweep, K_testhigh synchronous frames; scores the mean of
    /// softplus(meanh² − θ) over the layers and the frames after K_testlow.
    /// </summary>
    public InferenceGraph BuildInferenceGraph()
    {
        var g = InferenceGraph.For(Parameters(), ImageFeatures);
        var init = PredictionInitialRows();
        int levels = _layers.Length;
        int image = Normalized(g, g.Input); // the bottom state never changes
        int scored = Config.TestFrameHigh - Config.TestFrameLow - 1;
        var totals = new int[Classes];
        for (int c = 0; c < Classes; c++)
        {
            var onehot = new float[Classes];
            onehot[c] = 1f;
            var states = new int[levels + 2];
            states[0] = g.Input;
            for (int l = 0; l < levels; l++) states[l + 1] = g.Constant(init[c][l]);
            states[levels + 1] = g.Constant(onehot);
            int label = Normalized(g, states[levels + 1]);
            int Norm(int i) => i == 0 ? image : i == levels + 1 ? label : Normalized(g, states[i]);
            // The sweep: bottom-up, each level reading the level below as just updated.
            for (int i = 1; i <= levels; i++) states[i] = Update(g, i - 1, Norm(i - 1), Norm(i + 1), states[i]);
            int total = -1;
            for (int frame = 0; frame < Config.TestFrameHigh; frame++)
            {
                var normed = Enumerable.Range(0, levels + 2).Select(Norm).ToArray();
                var next = new int[levels + 2];
                for (int i = 1; i <= levels; i++)
                {
                    next[i] = Update(g, i - 1, normed[i - 1], normed[i + 1], states[i]);
                    if (frame <= Config.TestFrameLow) continue;
                    int term = g.Softplus(g.AddScalar(g.MeanSquares(next[i]), -Config.Threshold));
                    total = total < 0 ? term : g.Add(total, term);
                }
                for (int i = 1; i <= levels; i++) states[i] = next[i];
            }
            totals[c] = g.MulScalar(total, 1f / (scored * levels));
        }
        g.SetOutput(g.Concat(totals), predictLowest: Config.Loss == LossDirection.Minimize);
        return g;
    }

    /// <summary>x / (‖x‖ + 1e-4).</summary>
    private static int Normalized(InferenceGraph g, int x) => g.DivideRows(x, g.AddScalar(g.Sqrt(g.SumSquares(x)), Kernels.NormEpsilon));

    /// <summary>β·ReLU(x̂_below·W_fᵀ + x̂_above·W_bᵀ + b) + (1 − β)·old.</summary>
    private int Update(InferenceGraph g, int layer, int below, int above, int old)
    {
        int pre = g.Add(g.MatMul(below, $"layers.{layer}.forward_weight"), g.MatMul(above, $"layers.{layer}.backward_weight"));
        int fresh = g.MulScalar(g.Relu(g.AddBias(pre, $"layers.{layer}.bias")), Config.Beta);
        return g.Add(fresh, g.MulScalar(old, 1f - Config.Beta));
    }
}
