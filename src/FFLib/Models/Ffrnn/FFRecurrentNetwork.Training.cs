using FFLib.Compute;
using FFLib.Layers;
using FFLib.Modules;

namespace FFLib.Models;

/// <summary>The training step (its own file: the model, its read-outs and its training loop each stay short).</summary>
public sealed partial class FFRecurrentNetwork : IDeviceTrainable
{
    /// <inheritdoc />
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase)
    {
        if (phase != TrainingPhase.ForwardForward) throw new ArgumentException($"An FFRNN trains only in the ForwardForward phase, not {phase}.", nameof(phase));
        CheckImages(images);
        if (labels.Length != images.Rows) throw new ArgumentException($"labels has {labels.Length} entries but images has {images.Rows} rows.", nameof(labels));
        var t = TrainingBuffers(images.Rows);
        var record = t.Losses.Slice(0, Config.TrainFrames * _layers.Length);
        Step(t.StageImages(images.Data, images.Rows * ImageFeatures), labels, negativeControl, record);
        // Every layer's loss of every frame comes back once per batch here (the Trainer reads several batches' at once).
        var losses = new float[_layers.Length];
        ((IDeviceTrainable)this).ReduceLosses(phase, Backend.Read(record), losses);
        return losses;
    }

    void IDeviceTrainable.TrainBatch(DeviceSpan images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase, DeviceSpan record)
    {
        if (phase != TrainingPhase.ForwardForward) throw new ArgumentException($"An FFRNN trains only in the ForwardForward phase, not {phase}.", nameof(phase));
        Step(images, labels, negativeControl, record);
    }

    /// <summary>Each frame's loss of each layer (frame-major).</summary>
    int IDeviceTrainable.LossRecordLength(TrainingPhase phase) => Config.TrainFrames * _layers.Length;

    /// <summary>Each layer's loss averaged over the frames in order (in double).</summary>
    void IDeviceTrainable.ReduceLosses(TrainingPhase phase, ReadOnlySpan<float> record, Span<float> losses)
    {
        for (int li = 0; li < _layers.Length; li++)
        {
            double sum = 0;
            for (int frame = 0; frame < Config.TrainFrames; frame++) sum += record[frame * _layers.Length + li] / Config.TrainFrames;
            losses[li] = (float)sum;
        }
    }

    // Buffers are kept across batches: large arrays allocated per batch only pile up.
    private FFRecurrentBuffers TrainingBuffers(int images)
    {
        if (_train is { } t && t.Rows == 2 * images) return t;
        DeviceWorkspace.Free(ref _train);
        return _train = new FFRecurrentBuffers(Backend, 2 * images, Config, training: true);
    }

    /// <summary>The step on a batch on the backend; each frame's loss of each layer into <paramref name="record"/>.</summary>
    private void Step(DeviceSpan images, ReadOnlySpan<int> labels, Matrix negativeControl, DeviceSpan record)
    {
        ArgumentNullException.ThrowIfNull(negativeControl);
        int b = labels.Length;
        if (images.Length != b * ImageFeatures) throw new ArgumentException($"The batch holds {images.Length / ImageFeatures} images but labels has {b} entries.", nameof(labels));
        if (negativeControl.Rows != b || negativeControl.Cols != Classes)
            throw new ArgumentException($"negativeControl is {negativeControl.Rows}×{negativeControl.Cols} but must be {b}×{Classes}.", nameof(negativeControl));
        for (int i = 0; i < b; i++)
            if ((uint)labels[i] >= (uint)Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is outside [0, {Classes}).");

        var be = Backend;
        int rows = 2 * b;
        var t = TrainingBuffers(b);
        var (states, next, normed) = (t.States, t.Next, t.Normed);
        // Bottom: the image for both halves; top: onehot(label) for positives, the negative control for negatives.
        be.GatherRows(images, ImageFeatures, states[0], rows, 1, 1, b);
        var top = new float[rows * Classes];
        for (int r = 0; r < b; r++) top[r * Classes + labels[r]] = 1f;
        negativeControl.Data.AsSpan(0, b * Classes).CopyTo(top.AsSpan(b * Classes));
        be.Write(top, states[^1].Slice(0, rows * Classes));
        // Positive and negative halves each start from their own uniform row.
        FillInitialStates(states, b, 0, _stateRandom);
        FillInitialStates(states, b, b, _stateRandom);
        // Both halves hold the same images, so layer 1's image product is computed for b rows and
        // shared; it stays valid until layer 1's forward weights change (docs/performance.md, identity 7).
        var image = ShareImageProduct ? (t.ImageProduct ??= new FFRecurrentImageProduct(this, t)).Reset(b, divisor: 1, modulo: b) : null;
        Sweep(t, rows, prepared: null, image);
        SweepObserver?.Invoke(states.Select(x => be.Read(x).ToArray()).ToArray());

        for (int frame = 0; frame < Config.TrainFrames; frame++)
        {
            Normalise(states, rows, normed);
            for (int i = 1; i <= _layers.Length; i++)
            {
                int li = i - 1, w = _layers[li].Width;
                var pre = t.Pre.Slice(0, rows * w);
                var nw = next[i].Slice(0, rows * w);
                Update(li, normed[i - 1], normed[i + 1], states[i], rows, pre, nw, prepared: null, image);
                var ms = t.MeanSquares.Slice(0, rows);
                be.MeanSquares(nw, rows, w, ms);
                if (ActivationObserver is { } observe) observe(new LayerActivation(li, frame, rows, b, w, be.Read(nw), be.Read(ms)));
                var lossSlot = record.Slice(frame * _layers.Length + li, 1);
                be.FFLossAndCoefficients(ms, b, Config.Threshold, Config.Loss == LossDirection.Minimize, w, t.Coefficient.Slice(0, rows), lossSlot);
                float loss = StepObserver is null ? float.NaN : be.Read(lossSlot)[0];
                var layer = _layers[li];
                int inF = layer.ForwardWeight.Cols, inB = layer.BackwardWeight.Cols;
                var (gF, gB, gBias) = (DeviceGradient(layer.ForwardParameter), DeviceGradient(layer.BackwardParameter), DeviceGradient(layer.BiasParameter));
                var (hostF, hostB, hostBias) = (layer.ForwardParameter.Gradient, layer.BackwardParameter.Gradient, layer.BiasParameter.Gradient);
                if (_regularizers is { } regularizers)
                {
                    // Peer normalisation / activity L1 on the layer's new state, before pre turns into δ (L1's ReLU
                    // derivative reads it); through the damping their ∂/∂z is β times their ∂/∂(ReLU(z)).
                    var extra = t.RegularizerGradient.Slice(0, rows * w);
                    regularizers[li].GradientUnchecked(be, nw, pre, rows, b, Device(regularizers[li].RunningMean), t.RegularizerScratch, extra);
                    layer.Deltas(be, pre, nw, t.Coefficient, rows, Config.Beta, gBias, extra);
                }
                else layer.Deltas(be, pre, nw, t.Coefficient, rows, Config.Beta, gBias); // pre now holds δ
                // Neurons with pre ≤ 0 on every row have zero rows in both weight gradients: where
                // the backend can, the products run over the active neurons only (bit-identical).
                // (Peer normalisation gives every unit a gradient on the positive rows: nothing to skip, so no scan.)
                if (UseSparseGradient && Config.Regularization.PeerNormalization == 0 && t.Active is { } active && active.TryCompact(be.Read(pre), rows, w))
                {
                    var columns = active.Columns;
                    active.WeightGradient(be.Read(normed[i - 1]), inF, hostF);
                    active.WeightGradient(be.Read(normed[i + 1]), inB, hostB);
                    SparseGradientSteps++;
                    if (StepObserver is { } observeStep)
                    {
                        // The observer sees the full gradients; the step stays the row-sparse one.
                        var (fullF, fullB) = (new float[hostF.Length], new float[hostB.Length]);
                        hostF.AsSpan(0, columns.Length * inF).CopyTo(fullF);
                        hostB.AsSpan(0, columns.Length * inB).CopyTo(fullB);
                        Kernels.SpreadRows(fullF, columns, inF, w);
                        Kernels.SpreadRows(fullB, columns, inB, w);
                        observeStep(new TrainingStep(li, frame, loss, be.Read(ms).ToArray(), [fullF, fullB, hostBias]));
                    }
                    _optimizers[li].StepRowSparse(w, columns, [hostF, hostB, hostBias], [0, 1]);
                }
                else
                {
                    layer.WeightGradients(be, pre, normed[i - 1], normed[i + 1], rows, gF, gB);
                    if (StepObserver is { } observeStep)
                    {
                        foreach (var (g, host) in new[] { (gF, hostF), (gB, hostB), (gBias, hostBias) }) be.SyncToHost(g.Array, host);
                        observeStep(new TrainingStep(li, frame, loss, be.Read(ms).ToArray(), [hostF, hostB, hostBias]));
                    }
                    var (wf, wb, bias) = LayerOnDevice(li);
                    _optimizers[li].Step(be, [wf, wb, bias], [gF, gB, gBias]);
                }
                // The layer's state for the next frame, from this frame's states and its new weights
                // (layer 1's image product anew: it serves this update and the next frame's first).
                if (li == 0) image?.Compute(normed[0], null);
                Update(li, normed[i - 1], normed[i + 1], states[i], rows, pre, nw, prepared: null, image);
            }
            for (int i = 1; i <= _layers.Length; i++) (states[i], next[i]) = (next[i], states[i]);
            FrameObserver?.Invoke(frame, states.Select(x => be.Read(x).ToArray()).ToArray());
        }
    }
}
