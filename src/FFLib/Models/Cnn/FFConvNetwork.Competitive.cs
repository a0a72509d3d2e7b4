using FFLib.Compute;
using FFLib.Layers;
using FFLib.Modules;

namespace FFLib.Models;

// The channel-wise competitive objective (ConvObjective.Competitive): training step and scores.
// Its own file: the contrastive step, prediction and classifier stay in FFConvNetwork.cs.
public sealed partial class FFConvNetwork
{
    private bool Competitive => Config.Objective == ConvObjective.Competitive;

    /// <summary>The class that owns channel <paramref name="channel"/> of a layer with <paramref name="channels"/> channels: contiguous groups of ⌊C/K⌋ or ⌈C/K⌉.</summary>
    public static int ChannelClass(int channel, int channels, int classes) => (int)((long)channel * classes / channels);

    /// <summary>Layer l's channels per class: the config's <see cref="FFConvNetworkConfig.ChannelGroups"/>, or the even split.</summary>
    public int[] ChannelGroupSizes(int l)
    {
        if (Config.ChannelGroups is { } groups) return groups[l].ToArray();
        int channels = ConvLayers[l].OutChannels;
        var sizes = new int[Classes];
        for (int j = 0; j < channels; j++) sizes[ChannelClass(j, channels, Classes)]++;
        return sizes;
    }

    /// <summary>Layer l's owner class of every channel (contiguous blocks in class order).</summary>
    private int[] ChannelOwners(int l)
    {
        var sizes = ChannelGroupSizes(l);
        return sizes.SelectMany((n, c) => Enumerable.Repeat(c, n)).ToArray();
    }

    /// <summary>Per class, 1/(positions·|group|), or 0 for a class left with no channel in layer l (its goodness is then 0).</summary>
    private double[] GroupWeights(int l) =>
        ChannelGroupSizes(l).Select(n => n == 0 ? 0 : 1.0 / ((double)ConvLayers[l].Geometry.Positions * n)).ToArray();

    /// <summary>The factor s of layer l's input normalisation x·s/‖x‖ (competitive objective).</summary>
    private float InputScale(int l) => Config.InputScales?[l] ?? MathF.Sqrt(ConvLayers[l].Geometry.InputSize);

    /// <summary>The config of the model cut to <paramref name="kept"/>: each survivor keeps its class, each layer its input scale.</summary>
    private FFConvNetworkConfig CompetitiveCut(IReadOnlyList<int[]> kept)
    {
        var groups = new int[ConvLayers.Length][];
        for (int l = 0; l < groups.Length; l++)
        {
            var owners = ChannelOwners(l);
            groups[l] = new int[Classes];
            foreach (int j in kept[l]) groups[l][owners[j]]++;
        }
        return Config with
        {
            Stack = Config.Stack with { Channels = kept.Select(k => k.Length).ToArray() },
            ChannelGroups = groups,
            InputScales = Enumerable.Range(0, ConvLayers.Length).Select(InputScale).ToArray(),
        };
    }

    /// <summary>
    /// One greedy competitive step per layer on the images alone: class goodnesses g = mean of h² over each
    /// class's channels and all positions, loss = mean cross-entropy of g against the labels; δ = 2·h·∂L/∂g
    /// of the unit's class. Then the layer's output under its new weights feeds the next layer.
    /// </summary>
    private float[] TrainCompetitive(Matrix images, ReadOnlySpan<int> labels)
    {
        var labelFloats = CheckedLabels(images, labels);
        int b = images.Rows, k = Classes;
        var be = Backend;
        var s = Work;
        var x = s.Upload("x0", ToNhwc(images));
        var labelsOnDevice = s.Upload("cwc-labels", labelFloats);
        var lossOut = s.Get("loss", ConvLayers.Length);
        for (int l = 0; l < ConvLayers.Length; l++)
        {
            var layer = ConvLayers[l];
            var g = layer.Geometry;
            int outSize = layer.OutputSize;
            var (h, invNorm, cols) = (s.Get("h", b * outSize), s.Get("invnorm", b), s.Get("cols", b * g.Positions * g.PatchSize));
            Forward(l, x, b, h, invNorm, cols, computeNorms: true, reuseColumns: false);
            // With batch normalisation the goodness reads y = BN(h) (batch statistics); h is kept for the backward pass.
            var norm = _norms?[l];
            DeviceSpan y = h, mean = default, invStd = default;
            if (norm is not null)
            {
                (y, mean, invStd) = (s.Get("bn-y", b * outSize), s.Get("bn-mean", layer.OutChannels), s.Get("bn-invstd", layer.OutChannels));
                be.BatchNormForward(h, b * g.Positions, layer.OutChannels, Device(norm.Gamma), Device(norm.Beta), mean, invStd, y);
                UpdateRunningStatistics(norm, mean, invStd, b * g.Positions);
            }
            if (ActivationObserver is { } observe)
            {
                var imageMs = s.Get("msimage", b);
                be.MeanSquares(y, b, outSize, imageMs);
                observe(new LayerActivation(l, 0, b, b, outSize, be.Read(y), be.Read(imageMs)));
            }

            // Class goodnesses (each channel's class and each class's 1/(positions·|class|) depend only on the layer's
            // shape and groups: uploaded once per workspace), then the cross-entropy's ∂L/∂g.
            var owners = s.Constant($"cwc-owner{l}", layer.OutChannels, () => ChannelOwners(l).Select(c => (float)c).ToArray());
            var weights = s.Constant($"cwc-weight{l}", k, () => GroupWeights(l).Select(w => (float)w).ToArray());
            var (goodness, dg) = (s.Get("cwc-g", b * k), s.Get("cwc-dg", b * k));
            be.ClassGoodness(y.Slice(0, b * outSize), b, owners, weights, goodness);
            be.CrossEntropyLossAndGradient(goodness, b, k, labelsOnDevice, dg, lossOut.Slice(l, 1));
            DeviceSpan extra = default;
            if (_regularizers is { } regs)
            {
                // Peer normalisation / activity L1 over the (image, position) rows, every image a positive.
                extra = s.Get("reg", b * outSize);
                regs[l].GradientUnchecked(be, y, b * g.Positions, b * g.Positions, Device(regs[l].RunningMean), s.Get("regscratch", regs[l].ScratchLength), extra);
            }
            // δ = 2·y·∂L/∂g·weight of each value's class, in place (without normalisation y is h: zero where ReLU is off).
            be.ClassGoodnessBackward(y.Slice(0, b * outSize), b, owners, weights, dg, y);
            if (_regularizers is not null) be.AddScaled(1f, extra, 1f, y.Slice(0, b * outSize));

            var (gradW, gradB) = (DeviceGradient(layer.WeightParameter), DeviceGradient(layer.BiasParameter));
            DeviceSpan delta = y;
            DeviceSpan gradGamma = default, gradBeta = default;
            if (norm is not null)
            {
                // Through the normalisation to h (in place in y), then ReLU's derivative: zero where h is 0.
                (gradGamma, gradBeta) = (DeviceGradient(norm.Gamma), DeviceGradient(norm.Beta));
                be.BatchNormBackward(h, b * g.Positions, layer.OutChannels, Device(norm.Gamma), mean, invStd, y, y, gradGamma, gradBeta);
                be.ReluBackward(y.Slice(0, b * outSize), h.Slice(0, b * outSize));
            }
            be.ColumnSums(delta, b * g.Positions, layer.OutChannels, gradB);
            be.ScaleRows(delta, b, outSize, invNorm);
            layer.WeightGradient(be, delta, cols, b, gradW);
            // The layer's optimiser steps its kernel and bias, and with normalisation its scale and shift.
            DeviceSpan[] values = norm is null ? [Device(layer.WeightParameter), Device(layer.BiasParameter)]
                : [Device(layer.WeightParameter), Device(layer.BiasParameter), Device(norm.Gamma), Device(norm.Beta)];
            DeviceSpan[] grads = norm is null ? [gradW, gradB] : [gradW, gradB, gradGamma, gradBeta];
            if (StepObserver is { } observeStep)
                observeStep(new TrainingStep(l, 0, be.Read(lossOut.Slice(l, 1))[0], be.Read(goodness).ToArray(), grads.Select(g => be.Read(g).ToArray()).ToArray()));
            _optimizers[l].Step(be, values, grads);

            if (l + 1 == ConvLayers.Length) break;
            Forward(l, x, b, h, invNorm, cols, computeNorms: false, reuseColumns: true);
            // The next layer reads this layer's normalised output under its new weights (batch statistics, as in training).
            if (norm is not null) be.BatchNormForward(h, b * g.Positions, layer.OutChannels, Device(norm.Gamma), Device(norm.Beta), mean, invStd, h);
            x = Next(l, h, b, s.Get($"x{(l + 1) % 2 + 1}", b * PooledSize(l)));
        }
        return be.Read(lossOut).ToArray();
    }

    /// <summary>Layer l's running statistics moved toward one batch's (on the host: one value per channel).</summary>
    private void UpdateRunningStatistics(ChannelBatchNorm norm, DeviceSpan mean, DeviceSpan invStd, int rows)
    {
        var be = Backend;
        var (runningMean, runningVar) = (be.Read(Device(norm.RunningMean)).ToArray(), be.Read(Device(norm.RunningVar)).ToArray());
        ChannelBatchNorm.UpdateRunningStatistics(runningMean, runningVar, be.Read(mean.Slice(0, norm.Channels)), be.Read(invStd.Slice(0, norm.Channels)), rows);
        be.Write(runningMean, Device(norm.RunningMean));
        be.Write(runningVar, Device(norm.RunningVar));
    }

    /// <summary>In place: layer l's output (n images) normalised with the running statistics (prediction).</summary>
    private void NormalizeWithRunningStatistics(int l, DeviceSpan h, int n)
    {
        var be = Backend;
        var norm = _norms![l];
        var invStd = Work.Upload($"bn-run-invstd{l}", ChannelBatchNorm.InverseStd(be.Read(Device(norm.RunningVar))));
        be.BatchNormApply(h, n * ConvLayers[l].Geometry.Positions, norm.Channels, Device(norm.Gamma), Device(norm.Beta), Device(norm.RunningMean), invStd, h);
    }

    /// <summary>Row i, column c: class c's goodness in the last layer for image i (higher wins).</summary>
    private Matrix CompetitiveScores(Matrix images)
    {
        var scores = new Matrix(images.Rows, Classes);
        int last = ConvLayers.Length - 1, channels = ConvLayers[last].OutChannels, positions = ConvLayers[last].Geometry.Positions, k = Classes;
        var (owner, weight) = (ChannelOwners(last), GroupWeights(last));
        Run(images, null, (l, start, n, h) =>
        {
            if (l != last) return;
            var sums = new double[k];
            for (int r = 0; r < n; r++)
            {
                Array.Clear(sums);
                var map = h.Slice(r * positions * channels, positions * channels);
                for (int i = 0; i < map.Length; i++) sums[owner[i % channels]] += (double)map[i] * map[i];
                for (int c = 0; c < k; c++) scores[start + r, c] = (float)(sums[c] * weight[c]);
            }
        });
        return scores;
    }
}
