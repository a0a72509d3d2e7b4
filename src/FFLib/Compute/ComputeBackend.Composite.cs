namespace FFLib.Compute;

// The composite operations: each default is built from the primitives (ComputeBackend.cs), so a
// new device needs none of them; a device replaces one with a fused kernel when it pays. The CPU
// and GPU backends replace most (their results agree with these defaults to float rounding; the
// tests compare them, ComputeBackendTests).
public abstract partial class ComputeBackend
{
    /// <summary>
    /// op(B) (k×n) prepared once for several products with it (the CPU packs it; a backend with
    /// nothing to prepare returns null). <paramref name="reuse"/> is an earlier result to refill.
    /// Valid until B changes.
    /// </summary>
    internal virtual object? Prepare(bool transB, int k, int n, DeviceSpan b, int ldb, object? reuse) => null;

    /// <summary>C[m×n] = A·B (or +=) with B from <see cref="Prepare"/>, or from <paramref name="b"/> when that gave null. Same bits either way.</summary>
    internal virtual void Gemm(int m, int n, int k, DeviceSpan a, int lda, object? prepared, bool transB, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate) =>
        Gemm(false, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);

    /// <summary>y[i] ·= x[i] over x's length (by default on the host through Read and Write).</summary>
    public virtual void Multiply(DeviceSpan x, DeviceSpan y)
    {
        var xs = Read(x).ToArray();
        var ys = Read(y.Slice(0, xs.Length)).ToArray();
        for (int i = 0; i < ys.Length; i++) ys[i] *= xs[i];
        Write(ys, y.Slice(0, ys.Length));
    }

    /// <summary>
    /// A competitive FF layer's class goodnesses: goodness[r, k] = weight[k] · Σ h[r, p·C + c]² over every
    /// position p and the channels c of class k, for the rows × (positions·C) NHWC maps in <paramref name="h"/>
    /// (<paramref name="group"/>: each channel's class as a float, C = its length; <paramref name="weight"/>: one
    /// factor per class). By default on the host.
    /// </summary>
    public virtual void ClassGoodness(DeviceSpan h, int rows, DeviceSpan group, DeviceSpan weight, DeviceSpan goodness)
    {
        var (gs, ws) = (Read(group).ToArray(), Read(weight).ToArray());
        var result = new float[rows * ws.Length];
        ClassGoodnessKernels.Forward(Read(h.Slice(0, h.Length)).ToArray(), rows, gs, ws, result);
        Write(result, goodness.Slice(0, result.Length));
    }

    /// <summary>
    /// The class goodnesses' gradient: delta[r, p·C + c] = 2·h·dg[r, k]·weight[k] with k = group[c], dg the loss's
    /// gradient with respect to the goodnesses (rows × classes). <paramref name="delta"/> may be <paramref name="h"/>.
    /// </summary>
    public virtual void ClassGoodnessBackward(DeviceSpan h, int rows, DeviceSpan group, DeviceSpan weight, DeviceSpan dg, DeviceSpan delta)
    {
        var (gs, ws) = (Read(group).ToArray(), Read(weight).ToArray());
        var result = new float[h.Length];
        ClassGoodnessKernels.Backward(Read(h).ToArray(), rows, gs, ws, Read(dg.Slice(0, rows * ws.Length)).ToArray(), result);
        Write(result, delta.Slice(0, result.Length));
    }

    /// <summary>
    /// Batch normalisation with batch statistics over <paramref name="rows"/> rows of <paramref name="channels"/> channels:
    /// per channel its mean and 1/√(var + 1e-5) (biased variance) into <paramref name="mean"/> and <paramref name="invStd"/>,
    /// and y = γ·(h − mean)·invStd + β. By default on the host.
    /// </summary>
    public virtual void BatchNormForward(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan beta, DeviceSpan mean, DeviceSpan invStd, DeviceSpan y)
    {
        int n = rows * channels;
        var (m, s, result) = (new float[channels], new float[channels], new float[n]);
        BatchNormKernels.Forward(Read(h.Slice(0, n)).ToArray(), rows, channels, Read(gamma).ToArray(), Read(beta).ToArray(), m, s, result);
        Write(m, mean.Slice(0, channels));
        Write(s, invStd.Slice(0, channels));
        Write(result, y.Slice(0, n));
    }

    /// <summary>y = γ·(h − mean)·invStd + β per channel with given statistics (inference with running ones). By default on the host.</summary>
    public virtual void BatchNormApply(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan beta, DeviceSpan mean, DeviceSpan invStd, DeviceSpan y)
    {
        int n = rows * channels;
        var result = new float[n];
        BatchNormKernels.Affine(Read(h.Slice(0, n)).ToArray(), rows, channels, Read(gamma).ToArray(), Read(beta).ToArray(), Read(mean).ToArray(), Read(invStd).ToArray(), result);
        Write(result, y.Slice(0, n));
    }

    /// <summary>
    /// The gradients of <see cref="BatchNormForward"/> (its <paramref name="mean"/> and <paramref name="invStd"/>): dγ, dβ and
    /// dh = γ·invStd·(dy − mean(dy) − ĥ·mean(dy·ĥ)) per channel. <paramref name="dh"/> may be <paramref name="dy"/>. By default on the host.
    /// </summary>
    public virtual void BatchNormBackward(DeviceSpan h, int rows, int channels, DeviceSpan gamma, DeviceSpan mean, DeviceSpan invStd, DeviceSpan dy,
        DeviceSpan dh, DeviceSpan dGamma, DeviceSpan dBeta)
    {
        int n = rows * channels;
        var (result, dg, db) = (new float[n], new float[channels], new float[channels]);
        BatchNormKernels.Backward(Read(h.Slice(0, n)).ToArray(), rows, channels, Read(gamma).ToArray(), Read(mean).ToArray(), Read(invStd).ToArray(),
            Read(dy.Slice(0, n)).ToArray(), result, dg, db);
        Write(result, dh.Slice(0, n));
        Write(dg, dGamma.Slice(0, channels));
        Write(db, dBeta.Slice(0, channels));
    }

    /// <summary>Copies an array made by <see cref="Attach"/> back into its host array (by default through <see cref="Read"/>; the CPU shares it: nothing to do).</summary>
    public virtual void SyncToHost(DeviceArray attached, float[] host) => Read(attached.All).CopyTo(host);

    /// <summary>Every one of the first <paramref name="rows"/> rows of dst set to <paramref name="row"/> (by default one <see cref="Write"/> per row).</summary>
    public virtual void BroadcastRow(ReadOnlySpan<float> row, DeviceSpan dst, int rows)
    {
        for (int r = 0; r < rows; r++) Write(row, dst.Slice(r * row.Length, row.Length));
    }

    /// <summary>In place z_r = ReLU(z_r·invNorm[r] + b) (by default <see cref="ScaleRows"/> then <see cref="BiasActivation"/>).</summary>
    public virtual void ScaleBiasRelu(DeviceSpan z, int rows, int cols, DeviceSpan invNorm, DeviceSpan bias)
    {
        ScaleRows(z, rows, cols, invNorm);
        BiasActivation(z, rows, cols, bias, relu: true);
    }

    /// <summary>
    /// In place on NHWC maps of <paramref name="images"/> images: z[n, p, c] = ReLU(z[n, p, c]·scale[n] + bias[c])
    /// (by default <see cref="ScaleRows"/> then <see cref="BiasActivation"/>; the CPU does both in one pass, same bits).
    /// </summary>
    public virtual void ScaleBiasReluMaps(DeviceSpan z, int images, int positions, int channels, DeviceSpan scale, DeviceSpan bias)
    {
        ScaleRows(z, images, positions * channels, scale);
        BiasActivation(z, images * positions, channels, bias, relu: true);
    }

    /// <summary>Row-normalised copy: dst_r = x_r / (‖x_r‖ + 1e-4) (by default <see cref="InverseRowNorms"/>, <see cref="Copy"/>, <see cref="ScaleRows"/>).</summary>
    public virtual void NormalizeRows(DeviceSpan x, int rows, int cols, DeviceSpan dst)
    {
        var inv = Allocate(Math.Max(1, rows));
        try
        {
            InverseRowNorms(x, rows, cols, inv.All);
            Copy(x.Slice(0, rows * cols), dst.Slice(0, rows * cols));
            ScaleRows(dst, rows, cols, inv.All);
        }
        finally { inv.Release(); }
    }

    /// <summary>
    /// The FF loss of rows whose first <paramref name="positives"/> are positive, written to
    /// <paramref name="loss"/> (one float, so that a device need not stop to hand it back), and per
    /// row the gradient coefficient (see <see cref="LossKernels.FFLossAndRowCoefficients"/>). By
    /// default computed on the host: the goodness is read, the coefficients written back.
    /// </summary>
    public virtual void FFLossAndCoefficients(DeviceSpan meanSquares, int positives, float threshold, bool minimize, int width, DeviceSpan coefficient, DeviceSpan loss)
    {
        var goodness = Read(meanSquares).ToArray();
        var coefficients = new float[goodness.Length];
        float value = LossKernels.FFLossAndRowCoefficients(goodness, positives, threshold, minimize, width, coefficients);
        Write(coefficients, coefficient);
        Write([value], loss.Slice(0, 1));
    }

    /// <summary>
    /// Mean softmax cross-entropy of the logits' rows into <paramref name="loss"/> (one float, left
    /// on the device), and its gradient (softmax − onehot)/rows (see <see cref="LossKernels.CrossEntropyLossAndGradient"/>).
    /// <paramref name="labels"/> holds each row's class as a float (exact below 2²⁴). By default computed on the host.
    /// </summary>
    public virtual void CrossEntropyLossAndGradient(DeviceSpan logits, int rows, int classes, DeviceSpan labels, DeviceSpan gradient, DeviceSpan loss)
    {
        var z = Read(logits.Slice(0, rows * classes)).ToArray();
        var floats = Read(labels.Slice(0, rows));
        var classOf = new int[rows];
        for (int r = 0; r < rows; r++) classOf[r] = (int)floats[r];
        var g = new float[rows * classes];
        float value = LossKernels.CrossEntropyLossAndGradient(z, rows, classes, classOf, g);
        Write(g, gradient);
        Write([value], loss.Slice(0, 1));
    }

    /// <summary>Goodness and the FF loss: meanSquares = mean_j h², then <see cref="FFLossAndCoefficients"/>.</summary>
    public virtual void FFGoodnessAndLoss(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares, int positives, float threshold, bool minimize,
        DeviceSpan coefficient, DeviceSpan loss)
    {
        MeanSquares(h, rows, cols, meanSquares);
        FFLossAndCoefficients(meanSquares.Slice(0, rows), positives, threshold, minimize, cols, coefficient, loss);
    }

    /// <summary>The FF layer's backward pass over its activations, in place: h_r ← coef_r·h_r, gradBias = Σ_r h_r, then h_r ← h_r·invNorm_r.</summary>
    public virtual void FFBackward(DeviceSpan h, int rows, int cols, DeviceSpan coefficient, DeviceSpan invNorm, DeviceSpan gradBias)
    {
        ScaleRows(h, rows, cols, coefficient);
        ColumnSums(h, rows, cols, gradBias);
        ScaleRows(h, rows, cols, invNorm);
    }

    /// <summary>
    /// As <see cref="FFBackward(DeviceSpan, int, int, DeviceSpan, DeviceSpan, DeviceSpan)"/> with a further
    /// gradient (rows × cols, e.g. a regulariser's) added to the deltas before the bias gradient:
    /// h_r ← coef_r·h_r + extra_r, gradBias = Σ_r h_r, then h_r ← h_r·invNorm_r.
    /// </summary>
    public virtual void FFBackward(DeviceSpan h, int rows, int cols, DeviceSpan coefficient, DeviceSpan invNorm, DeviceSpan gradBias, DeviceSpan extra)
    {
        ScaleRows(h, rows, cols, coefficient);
        AddScaled(1f, extra.Slice(0, rows * cols), 1f, h.Slice(0, rows * cols));
        ColumnSums(h, rows, cols, gradBias);
        ScaleRows(h, rows, cols, invNorm);
    }

    /// <summary>One Adam step over each of several parameters (see <see cref="AdamStep"/>); a device may do them in one launch.</summary>
    public virtual void AdamSteps(IReadOnlyList<DeviceSpan> p, IReadOnlyList<DeviceSpan> g, IReadOnlyList<DeviceSpan> m, IReadOnlyList<DeviceSpan> v,
        float lr, float beta1, float beta2, float eps, int step)
    {
        for (int i = 0; i < p.Count; i++) AdamStep(p[i], g[i], m[i], v[i], lr, beta1, beta2, eps, step);
    }

    /// <summary>
    /// AdamW: each parameter i with <paramref name="decay"/>[i] is first multiplied by <paramref name="keep"/>
    /// (1 − lr·λ, torch.optim.AdamW's decoupled decay), then every parameter takes its Adam step (<see cref="AdamStep"/>).
    /// A device may fuse the two: the decayed value is rounded before the step is added either way.
    /// </summary>
    public virtual void AdamWSteps(IReadOnlyList<DeviceSpan> p, IReadOnlyList<DeviceSpan> g, IReadOnlyList<DeviceSpan> m, IReadOnlyList<DeviceSpan> v,
        float lr, float beta1, float beta2, float eps, int step, float keep, IReadOnlyList<bool> decay)
    {
        for (int i = 0; i < p.Count; i++)
            if (decay[i] && keep != 1f) AddScaled(0f, p[i], keep, p[i]);
        AdamSteps(p, g, m, v, lr, beta1, beta2, eps, step);
    }
}
