using FFLib.Compute;
using FFLib.Layers;
using FFLib.Modules;

namespace FFLib.Models;

/// <summary>The training step (its own file: the model, its read-outs and its training loop each stay short).</summary>
public sealed partial class FFNetwork : IDeviceTrainable
{
    /// <summary>
    /// Trains on one batch: positive rows are image ⊕ onehot(label), negative rows the same
    /// images ⊕ onehot(negativeLabel). For each layer in order: one Adam step on its loss, then its
    /// outputs are recomputed with the new weights and handed to the next layer.
    /// Returns each layer's loss before its step.
    /// </summary>
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, ReadOnlySpan<int> negativeLabels)
    {
        if (negativeLabels.Length != labels.Length) throw new ArgumentException($"negativeLabels has {negativeLabels.Length} entries but labels has {labels.Length}.", nameof(negativeLabels));
        CheckLabels(negativeLabels, nameof(negativeLabels));
        return TrainBatch(images, labels, LabelProbe.OneHot(negativeLabels, Config.Classes));
    }

    /// <summary>
    /// As <see cref="TrainBatch(Matrix, ReadOnlySpan{int}, ReadOnlySpan{int})"/> with any negative
    /// control vectors (images × classes), e.g. the "inverse" vectors with every wrong label set.
    /// </summary>
    public float[] TrainBatch(Matrix images, ReadOnlySpan<int> labels, Matrix negativeControl)
    {
        CheckImages(images);
        if (labels.Length != images.Rows) throw new ArgumentException($"labels has {labels.Length} entries but images has {images.Rows} rows.", nameof(labels));
        var w = TrainingWorkspace(images.Rows);
        var staged = w.StageImages(images.Data, images.Rows * Config.ImageFeatures);
        var losses = w.Losses.Slice(0, _layers.Length);
        Step(staged, labels, negativeControl, losses);
        // The layers' losses come back once per batch here; the Trainer leaves them on a device for several.
        return Backend.Read(losses).ToArray();
    }

    void IDeviceTrainable.TrainBatch(DeviceSpan images, ReadOnlySpan<int> labels, Matrix negativeControl, TrainingPhase phase, DeviceSpan losses)
    {
        if (phase != TrainingPhase.ForwardForward) throw new ArgumentException($"An FFNN trains only in the ForwardForward phase, not {phase}.", nameof(phase));
        Step(images, labels, negativeControl, losses);
    }

    /// <summary>Buffers for batches of up to <paramref name="images"/> images (positive and negative rows), kept across batches.</summary>
    private FFNetworkWorkspace TrainingWorkspace(int images)
    {
        if (_train is { } existing && existing.Rows >= 2 * images) return existing;
        DeviceWorkspace.Free(ref _train);
        return _train = new FFNetworkWorkspace(Backend, 2 * images, images, Config, _layers, training: true);
    }

    /// <summary>The step on a batch on the backend (b × pixels); each layer's loss before its step into <paramref name="lossesOut"/>.</summary>
    private void Step(DeviceSpan imagesOnDevice, ReadOnlySpan<int> labels, Matrix negativeControl, DeviceSpan lossesOut)
    {
        ArgumentNullException.ThrowIfNull(negativeControl);
        int b = labels.Length;
        if (imagesOnDevice.Length != b * Config.ImageFeatures) throw new ArgumentException($"The batch holds {imagesOnDevice.Length / Math.Max(1, Config.ImageFeatures)} images but labels has {b} entries.", nameof(labels));
        if (negativeControl.Rows != b || negativeControl.Cols != Config.Classes)
            throw new ArgumentException($"negativeControl is {negativeControl.Rows}×{negativeControl.Cols} but must be {b}×{Config.Classes}.", nameof(negativeControl));
        CheckLabels(labels, nameof(labels));

        var be = Backend;
        int rows = 2 * b, k = Config.Classes;
        var w = TrainingWorkspace(b);
        // Rows [0, b): image ⊕ onehot(label); rows [b, 2b): the same image ⊕ its negative control vector.
        var control = w.HostControl.AsSpan(0, rows * k);
        control.Clear();
        for (int r = 0; r < b; r++) control[r * k + labels[r]] = 1f;
        negativeControl.Data.AsSpan(0, b * k).CopyTo(control.Slice(b * k));
        be.Write(control, w.Control.Slice(0, rows * k));
        bool identity = FirstLayer is not null;

        var losses = new float[_layers.Length];
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            int inF = layer.InFeatures, outF = layer.OutFeatures;
            var (x, h) = w.Buffers(l, rows, inF, outF);
            var invNorm = w.InvNorm.Slice(0, rows);
            bool fast = identity && l == 0;
            ForwardLayer(w, l, imagesOnDevice, b, rows, fast, prepared: null, computeNorms: true);
            var ms = w.MeanSquares.Slice(0, rows);
            var coef = w.Coefficient.Slice(0, rows);
            be.FFGoodnessAndLoss(h, rows, outF, ms, b, Config.Threshold, Config.Loss == LossDirection.Minimize, coef, lossesOut.Slice(l, 1));
            if (ActivationObserver is { } observe) observe(new LayerActivation(l, 0, rows, b, outF, be.Read(h), be.Read(ms)));
            if (StepObserver is not null) losses[l] = be.Read(lossesOut.Slice(l, 1))[0];

            // δ_r = coef_r · h_r; db = Σ_r δ_r; dW = Σ_r (δ_r / s_r) ⊗ x_r, the 1/s folding the normalisation.
            var (gradW, gradB) = GradientsOnDevice(l);
            var (hostGradW, hostGradB) = (layer.WeightParameter.Gradient, layer.BiasParameter.Gradient);
            if (_regularizers is { } regularizers)
            {
                // Peer normalisation / activity L1: their gradient joins the FF loss's before the bias and weight gradients.
                var extra = w.RegularizerGradient.Slice(0, rows * outF);
                regularizers[l].GradientUnchecked(be, h, rows, b, Device(regularizers[l].RunningMean), w.RegularizerScratch, extra);
                layer.DeltasUnchecked(be, h, rows, coef, invNorm, gradB, extra);
            }
            else layer.DeltasUnchecked(be, h, rows, coef, invNorm, gradB);
            // Neurons silent on every row of the batch have δ = 0, so their rows of dW are exactly 0:
            // where the backend can, the product runs over the active neurons only (dead neurons are
            // ~40% of a trained layer 2 on MNIST) and Adam skips rows whose moments are still zero.
            // (Peer normalisation gives every unit a gradient on the positive rows: nothing to skip, so no scan.)
            if (!fast && UseSparseGradient && Config.Regularization.PeerNormalization == 0 && w.Active is { } active && active.TryCompact(be.Read(h), rows, outF))
            {
                var columns = active.Columns;
                active.WeightGradient(be.Read(x), inF, hostGradW);
                SparseGradientSteps++;
                if (StepObserver is { } stepObserver)
                {
                    // The observer sees the full gradient; the step stays the row-sparse one.
                    var full = new float[hostGradW.Length];
                    hostGradW.AsSpan(0, columns.Length * inF).CopyTo(full);
                    Kernels.SpreadRows(full, columns, inF, outF);
                    stepObserver(new TrainingStep(l, 0, losses[l], be.Read(ms).ToArray(), [full, (float[])hostGradB.Clone()]));
                }
                _optimizers[l].StepRowSparse(outF, columns, [hostGradW, hostGradB], [0]);
            }
            else
            {
                if (fast) FirstLayer!.WeightGradient(w, imagesOnDevice, b, rows);
                else layer.WeightGradientUnchecked(be, h, x, rows, gradW);
                if (StepObserver is { } observeStep)
                {
                    be.SyncToHost(gradW.Array, hostGradW);
                    be.SyncToHost(gradB.Array, hostGradB);
                    observeStep(new TrainingStep(l, 0, losses[l], be.Read(ms).ToArray(), [hostGradW, hostGradB]));
                }
                var (weight, bias) = LayerOnDevice(l);
                _optimizers[l].Step(be, [weight, bias], [gradW, gradB]);
            }

            // The next layer learns from this layer's output under its new weights.
            if (l + 1 < _layers.Length) ForwardLayer(w, l, imagesOnDevice, b, rows, fast, prepared: null, computeNorms: false);
        }
    }
}
