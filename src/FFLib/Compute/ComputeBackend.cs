
namespace FFLib.Compute;

/// <summary>
/// Where a model's arithmetic runs. Models keep their buffers in <see cref="DeviceArray"/>s and
/// call the operations below (matrix products and the FF layer's element-wise kernels and
/// reductions) instead of kernels directly, so that a second backend (a GPU) needs no change to
/// model code. <see cref="Cpu"/>, the default, is the managed SIMD code; its operations are the
/// library's span kernels, bit for bit. The operations are internal: a backend is part of the
/// library, chosen by name.
/// </summary>
public abstract class ComputeBackend
{
    /// <summary>The managed SIMD CPU backend (AVX-512, AVX2 or scalar; <see cref="ComputeSettings.Threads"/> threads).</summary>
    public static ComputeBackend Cpu { get; } = new CpuBackend();

    /// <summary>Short name ("cpu").</summary>
    public abstract string Name { get; }

    /// <summary>
    /// The matrix products' arithmetic: "fp32" (every backend by default), or "tf32" on a GPU that
    /// was asked for it (inputs rounded to 10 mantissa bits on tensor cores; results differ from
    /// fp32 by ~1e-3 relative). Recorded with each run; a sweep's run ids depend on it only when not fp32.
    /// </summary>
    public virtual string Precision => "fp32";

    /// <summary>What the backend runs on, for logs and run records (the CPU: its SIMD path; a GPU: its name, memory and cuBLAS).</summary>
    public virtual string Description => $"CPU, {ComputeSettings.SimdPath}";

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>
    /// Rows per pass that suit this backend when a model splits a large input (prediction of a test
    /// set): the CPU wants them cache-sized, a GPU wants enough to fill the device and few launches.
    /// </summary>
    internal virtual int PreferredRows => 640;

    /// <summary>A zeroed array.</summary>
    internal abstract DeviceArray Allocate(int length);

    /// <summary>
    /// The array for a host array a model owns (its parameters): the CPU shares the memory; a
    /// device backend copies it and is told to copy back by the model when the host needs it.
    /// </summary>
    internal abstract DeviceArray Attach(float[] host);

    /// <summary>The values of <paramref name="source"/> readable on the host (the CPU: the memory itself; a device: a copy).</summary>
    internal abstract ReadOnlySpan<float> Read(DeviceSpan source);

    /// <summary>
    /// Host data (a batch of images) as a span on this backend for one call: a device copies it
    /// into <paramref name="staging"/>, grown as needed and reused across calls; the CPU reads the
    /// host array in place.
    /// </summary>
    internal virtual DeviceSpan Stage(float[] host, int length, ref DeviceArray? staging)
    {
        Grow(ref staging, length);
        var span = staging.Slice(0, length);
        Write(host.AsSpan(0, length), span);
        return span;
    }

    /// <summary>Makes <paramref name="array"/> (staging or scratch on this backend) hold at least <paramref name="length"/> floats: kept when large enough, else replaced and the old one freed.</summary>
    internal void Grow([System.Diagnostics.CodeAnalysis.NotNull] ref DeviceArray? array, int length)
    {
        if (array is not null && array.Length >= length) return;
        array?.Release();
        array = Allocate(length);
    }

    /// <summary>Class labels as floats on this backend (for <see cref="CrossEntropyLossAndGradient"/>), in <paramref name="staging"/>, grown as needed.</summary>
    internal DeviceSpan StageLabels(ReadOnlySpan<int> labels, ref DeviceArray? staging)
    {
        int n = labels.Length;
        Grow(ref staging, n);
        var span = staging.Slice(0, n);
        Span<float> asFloats = n <= 1024 ? stackalloc float[n] : new float[n];
        for (int i = 0; i < n; i++) asFloats[i] = labels[i];
        Write(asFloats, span);
        return span;
    }

    /// <summary>Copies host values into <paramref name="destination"/>.</summary>
    internal abstract void Write(ReadOnlySpan<float> source, DeviceSpan destination);

    /// <summary>Sets the range to zero.</summary>
    internal abstract void Clear(DeviceSpan span);

    /// <summary>
    /// C[m×n] = op(A)·op(B) (or += when <paramref name="accumulate"/>); op(A) is m×k, stored k×m
    /// when <paramref name="transA"/>; op(B) is k×n, stored n×k when <paramref name="transB"/>.
    /// </summary>
    internal abstract void Gemm(bool transA, bool transB, int m, int n, int k, DeviceSpan a, int lda, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate);

    /// <summary>
    /// op(B) (k×n) prepared once for several products with it (the CPU packs it; a backend with
    /// nothing to prepare returns null). <paramref name="reuse"/> is an earlier result to refill.
    /// Valid until B changes.
    /// </summary>
    internal virtual object? Prepare(bool transB, int k, int n, DeviceSpan b, int ldb, object? reuse) => null;

    /// <summary>C[m×n] = A·B (or +=) with B from <see cref="Prepare"/>, or from <paramref name="b"/> when that gave null. Same bits either way.</summary>
    internal virtual void Gemm(int m, int n, int k, DeviceSpan a, int lda, object? prepared, bool transB, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate) =>
        Gemm(false, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);

    /// <summary>Row r of dst = image_(r mod n) ⊕ control_r (px + k values): an FF layer's input.</summary>
    internal abstract void EmbedControl(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows, DeviceSpan dst);

    /// <summary>In place z_r += b, then ReLU when <paramref name="relu"/> (a dense layer's output).</summary>
    internal abstract void BiasActivation(DeviceSpan z, int rows, int cols, DeviceSpan bias, bool relu);

    /// <summary>In place dx_i = 0 where the layer's output a_i ≤ 0 (ReLU's derivative, 0 at 0 as in PyTorch).</summary>
    internal abstract void ReluBackward(DeviceSpan dx, DeviceSpan a);

    /// <summary>
    /// Mean softmax cross-entropy of the logits' rows into <paramref name="loss"/> (one float, left
    /// on the device), and its gradient (softmax − onehot)/rows (see <see cref="LossKernels.CrossEntropyLossAndGradient"/>).
    /// <paramref name="labels"/> holds each row's class as a float (exact below 2²⁴).
    /// </summary>
    internal abstract void CrossEntropyLossAndGradient(DeviceSpan logits, int rows, int classes, DeviceSpan labels, DeviceSpan gradient, DeviceSpan loss);

    /// <summary>Row r of dst (cols wide) = row indices[r] of src, the index stored as a float (exact below 2²⁴): a batch gathered from a resident dataset.</summary>
    internal abstract void GatherIndexed(DeviceSpan src, int cols, DeviceSpan indices, int rows, DeviceSpan dst);

    /// <summary>
    /// True where arrays are host memory (the CPU): reading them costs nothing, so a trainer reads
    /// each batch's losses at once and stages nothing.
    /// </summary>
    internal virtual bool SharesHostMemory => true;

    /// <summary>
    /// Raised when the backend is being disposed, so that whoever keeps device memory on it (the
    /// trainer's resident training set) frees it. The backend knows nothing of its users: Compute
    /// depends on no namespace above it.
    /// </summary>
    internal event Action<ComputeBackend>? Disposing;

    /// <summary>Tells the backend's users it is going (see <see cref="Disposing"/>).</summary>
    internal void RaiseDisposing() => Disposing?.Invoke(this);

    /// <summary>Columns [offset, offset + cols) of dst (rows × ldDst) = src (rows × cols): one block of a concatenation.</summary>
    internal abstract void CopyColumns(DeviceSpan src, int rows, int cols, DeviceSpan dst, int ldDst, int offset);

    /// <summary>dst = src (same length).</summary>
    internal abstract void Copy(DeviceSpan src, DeviceSpan dst);

    /// <summary>Every one of the first <paramref name="rows"/> rows of dst set to <paramref name="row"/>.</summary>
    internal abstract void BroadcastRow(ReadOnlySpan<float> row, DeviceSpan dst, int rows);

    /// <summary>Row r of dst (cols wide) = row ((r·multiplier) / divisor) mod modulo of src.</summary>
    internal abstract void GatherRows(DeviceSpan src, int cols, DeviceSpan dst, int rows, int multiplier, int divisor, int modulo);

    /// <summary>Row-normalised copy: dst_r = x_r / (‖x_r‖ + 1e-4).</summary>
    internal abstract void NormalizeRows(DeviceSpan x, int rows, int cols, DeviceSpan dst);

    /// <summary>The FFRNN's damped update: pre += b (in place), result = β·ReLU(pre) + (1 − β)·old.</summary>
    internal abstract void DampedRelu(DeviceSpan pre, int rows, int cols, DeviceSpan bias, DeviceSpan old, float beta, DeviceSpan result);

    /// <summary>The FFRNN's pre-activation gradient, in place: pre_rj = pre_rj &gt; 0 ? (coef_r·β)·new_rj : 0.</summary>
    internal abstract void DampedReluBackward(DeviceSpan pre, DeviceSpan fresh, DeviceSpan coefficient, float beta, int rows, int cols);

    /// <summary>invNorm[r] = 1 / (‖x_r‖ + 1e-4).</summary>
    internal abstract void InverseRowNorms(DeviceSpan x, int rows, int cols, DeviceSpan invNorm);

    /// <summary>In place z_r = ReLU(z_r·invNorm[r] + b).</summary>
    internal abstract void ScaleBiasRelu(DeviceSpan z, int rows, int cols, DeviceSpan invNorm, DeviceSpan bias);

    /// <summary>meanSquares[r] = mean_j h_rj² (goodness before the threshold).</summary>
    internal abstract void MeanSquares(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares);

    /// <summary>In place m_r *= scale[r].</summary>
    internal abstract void ScaleRows(DeviceSpan m, int rows, int cols, DeviceSpan scale);

    /// <summary>sums[j] = Σ_r m_rj.</summary>
    internal abstract void ColumnSums(DeviceSpan m, int rows, int cols, DeviceSpan sums);

    /// <summary>
    /// The FF loss of rows whose first <paramref name="positives"/> are positive, written to
    /// <paramref name="loss"/> (one float, so that a device need not stop to hand it back), and per
    /// row the gradient coefficient (see <see cref="LossKernels.FFLossAndRowCoefficients"/>).
    /// </summary>
    internal abstract void FFLossAndCoefficients(DeviceSpan meanSquares, int positives, float threshold, bool minimize, int width, DeviceSpan coefficient, DeviceSpan loss);

    /// <summary>dst (count × rows) = columns [first, first + count) of the rows × ld matrix w, transposed.</summary>
    internal abstract void TransposeColumns(DeviceSpan w, int rows, int ld, int first, int count, DeviceSpan dst);

    /// <summary>The inverse of <see cref="TransposeColumns"/>: columns [first, first + count) of w set from src (count × rows).</summary>
    internal abstract void ScatterColumns(DeviceSpan src, int rows, int ld, int first, int count, DeviceSpan w);

    /// <summary>dst = Σ_b src[b·blockLength .. (b+1)·blockLength), blocks summed in order.</summary>
    internal abstract void SumBlocks(DeviceSpan src, int blockLength, int blocks, DeviceSpan dst);

    /// <summary>
    /// The FFNN's layer 1 through its image/control split (docs/performance.md): for rows r whose
    /// image is r mod n, h_r = ReLU((p_(r mod n) + Σ_c control_rc·controlWeights_c)·invNorm_r + b);
    /// with <paramref name="computeNorms"/>, invNorm_r = 1/(√(‖image‖² + ‖control_r‖²) + 1e-4) first.
    /// </summary>
    internal abstract void ControlRowsForward(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows,
        DeviceSpan p, DeviceSpan controlWeights, DeviceSpan bias, int width, DeviceSpan h, DeviceSpan invNorm, bool computeNorms);

    /// <summary>dst (k × width): row c = Σ_r control_rc·δ_r, rows in order, zero control entries skipped.</summary>
    internal abstract void ControlGradient(DeviceSpan control, int k, DeviceSpan delta, int rows, int width, DeviceSpan dst);

    /// <summary>
    /// One Adam step with PyTorch's arithmetic over one parameter: m ← β₁m + (1−β₁)g,
    /// v ← β₂v + (1−β₂)g², p ← p − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε).
    /// </summary>
    internal abstract void AdamStep(DeviceSpan p, DeviceSpan g, DeviceSpan m, DeviceSpan v, float lr, float beta1, float beta2, float eps, int step);

    /// <summary>One Adam step over each of several parameters (see <see cref="AdamStep"/>); a device may do them in one launch.</summary>
    internal virtual void AdamSteps(IReadOnlyList<DeviceSpan> p, IReadOnlyList<DeviceSpan> g, IReadOnlyList<DeviceSpan> m, IReadOnlyList<DeviceSpan> v,
        float lr, float beta1, float beta2, float eps, int step)
    {
        for (int i = 0; i < p.Count; i++) AdamStep(p[i], g[i], m[i], v[i], lr, beta1, beta2, eps, step);
    }

    /// <summary>Copies an array made by <see cref="Attach"/> back into its host array (the CPU shares it: nothing to do).</summary>
    internal virtual void SyncToHost(DeviceArray attached, float[] host) => Read(attached.All).CopyTo(host);

    // Fused steps of the FF layer. Each default is the sequence of single operations above (the CPU
    // keeps it: same bits as before); a device backend does each in fewer kernel launches.

    /// <summary>Goodness and the FF loss: meanSquares = mean_j h², then <see cref="FFLossAndCoefficients"/>.</summary>
    internal virtual void FFGoodnessAndLoss(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares, int positives, float threshold, bool minimize,
        DeviceSpan coefficient, DeviceSpan loss)
    {
        MeanSquares(h, rows, cols, meanSquares);
        FFLossAndCoefficients(meanSquares, positives, threshold, minimize, cols, coefficient, loss);
    }

    /// <summary>The FF layer's backward pass over its activations, in place: h_r ← coef_r·h_r, gradBias = Σ_r h_r, then h_r ← h_r·invNorm_r.</summary>
    internal virtual void FFBackward(DeviceSpan h, int rows, int cols, DeviceSpan coefficient, DeviceSpan invNorm, DeviceSpan gradBias)
    {
        ScaleRows(h, rows, cols, coefficient);
        ColumnSums(h, rows, cols, gradBias);
        ScaleRows(h, rows, cols, invNorm);
    }

    /// <summary>The FFNN's layer 1 from the image product p and the control columns [px, px + k) of W (ld wide): <see cref="ControlRowsForward"/> after <see cref="TransposeColumns"/> into <paramref name="scratch"/>.</summary>
    internal virtual void ControlLayerForward(DeviceSpan images, int n, int px, DeviceSpan control, int k, int rows, DeviceSpan p, DeviceSpan weight, int ld,
        DeviceSpan scratch, DeviceSpan bias, int width, DeviceSpan h, DeviceSpan invNorm, bool computeNorms)
    {
        TransposeColumns(weight, width, ld, px, k, scratch);
        ControlRowsForward(images, n, px, control, k, rows, p, scratch, bias, width, h, invNorm, computeNorms);
    }

    /// <summary>The control columns [first, first + k) of gradW (ld wide): <see cref="ControlGradient"/> into <paramref name="scratch"/>, then <see cref="ScatterColumns"/>.</summary>
    internal virtual void ControlLayerGradient(DeviceSpan control, int k, DeviceSpan delta, int rows, int width, DeviceSpan gradW, int ld, int first, DeviceSpan scratch)
    {
        ControlGradient(control, k, delta, rows, width, scratch);
        ScatterColumns(scratch, width, ld, first, k, gradW);
    }

    /// <summary>
    /// Scratch for the dead-neuron shortcut of weight gradients (CPU: computing dW over the active
    /// neurons only); null where the backend has none, and callers take the full product.
    /// </summary>
    internal virtual ActiveNeurons? CreateActiveNeurons(int rows, int width) => null;
}
