namespace FFLib.Compute;

/// <summary>
/// Where a model's arithmetic runs: memory plus the primitives Forward-Forward training needs
/// (products, element-wise operations, row reductions, gathers, Adam). Models keep their buffers
/// in <see cref="DeviceArray"/>s and call these instead of kernels, so the same model code runs on
/// any backend. <see cref="Cpu"/>, the default, is the managed SIMD code.
/// <para>
/// A new device implements the abstract members below (19: memory, one product, four
/// element-wise operations, three row reductions, three gathers, one optimiser step). Every
/// other operation has a default built from them (ComputeBackend.Composite.cs) that a device may
/// replace with a fused kernel; architectures' own fused kernels (the FFNN's layer-1 shortcut, the
/// FFRNN's damped update) are optional capabilities found beside each architecture, with fallbacks
/// built from these primitives. Shapes are not checked here: the models that call a backend pass
/// consistent ones.
/// </para>
/// </summary>
public abstract partial class ComputeBackend
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

    // ---- Memory ----

    /// <summary>A zeroed array of <paramref name="length"/> floats.</summary>
    public abstract DeviceArray Allocate(int length);

    /// <summary>
    /// The array for a host array a model owns (its parameters): the CPU shares the memory; a
    /// device copies it, and copies back when <see cref="SyncToHost"/> is called.
    /// </summary>
    public abstract DeviceArray Attach(float[] host);

    /// <summary>The values of <paramref name="source"/> readable on the host (the CPU: the memory itself; a device: a copy, after the queued work is done).</summary>
    public abstract ReadOnlySpan<float> Read(DeviceSpan source);

    /// <summary>Copies host values into <paramref name="destination"/> (same length or shorter).</summary>
    public abstract void Write(ReadOnlySpan<float> source, DeviceSpan destination);

    /// <summary>Sets the range to zero.</summary>
    public abstract void Clear(DeviceSpan span);

    /// <summary>dst = src (same length).</summary>
    public abstract void Copy(DeviceSpan src, DeviceSpan dst);

    // ---- Products ----

    /// <summary>
    /// C[m×n] = op(A)·op(B) (or += when <paramref name="accumulate"/>); op(A) is m×k, stored k×m
    /// when <paramref name="transA"/>; op(B) is k×n, stored n×k when <paramref name="transB"/>;
    /// leading dimensions as in BLAS (row-major).
    /// </summary>
    public abstract void Gemm(bool transA, bool transB, int m, int n, int k, DeviceSpan a, int lda, DeviceSpan b, int ldb, DeviceSpan c, int ldc, bool accumulate);

    // ---- Element-wise ----

    /// <summary>In place z_r += b for each of the <paramref name="rows"/> rows, then ReLU when <paramref name="relu"/> (a dense layer's output).</summary>
    public abstract void BiasActivation(DeviceSpan z, int rows, int cols, DeviceSpan bias, bool relu);

    /// <summary>In place dx_i = 0 where a_i ≤ 0 (ReLU's derivative, 0 at 0 as in PyTorch). With dx = a it is ReLU in place.</summary>
    public abstract void ReluBackward(DeviceSpan dx, DeviceSpan a);

    /// <summary>In place m_r *= scale[r] for each of the <paramref name="rows"/> rows.</summary>
    public abstract void ScaleRows(DeviceSpan m, int rows, int cols, DeviceSpan scale);

    /// <summary>In place y_i = α·x_i + β·y_i (same length); β = 0 ignores y's old values, α = 0 ignores x (even NaN).</summary>
    public abstract void AddScaled(float alpha, DeviceSpan x, float beta, DeviceSpan y);

    // ---- Row and column reductions ----

    /// <summary>meanSquares[r] = mean_j h_rj² (goodness before the threshold).</summary>
    public abstract void MeanSquares(DeviceSpan h, int rows, int cols, DeviceSpan meanSquares);

    /// <summary>invNorm[r] = 1 / (‖x_r‖ + 1e-4) (the FF layer's input normalisation).</summary>
    public abstract void InverseRowNorms(DeviceSpan x, int rows, int cols, DeviceSpan invNorm);

    /// <summary>sums[j] = Σ_r m_rj, rows in order.</summary>
    public abstract void ColumnSums(DeviceSpan m, int rows, int cols, DeviceSpan sums);

    // ---- Gathers ----

    /// <summary>Row r of dst (cols wide) = row ((r·multiplier) / divisor) mod modulo of src (integer arithmetic in 64 bits).</summary>
    public abstract void GatherRows(DeviceSpan src, int cols, DeviceSpan dst, int rows, int multiplier, int divisor, int modulo);

    /// <summary>Row r of dst (cols wide) = row indices[r] of src, the index stored as a float (exact below 2²⁴): a batch gathered from a resident dataset.</summary>
    public abstract void GatherIndexed(DeviceSpan src, int cols, DeviceSpan indices, int rows, DeviceSpan dst);

    /// <summary>Columns [offset, offset + cols) of dst (rows × ldDst) = src (rows × cols): one block of a concatenation.</summary>
    public abstract void CopyColumns(DeviceSpan src, int rows, int cols, DeviceSpan dst, int ldDst, int offset);

    // ---- Optimiser ----

    /// <summary>
    /// One Adam step with PyTorch's arithmetic over one parameter: m ← β₁m + (1−β₁)g,
    /// v ← β₂v + (1−β₂)g², p ← p − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε).
    /// </summary>
    public abstract void AdamStep(DeviceSpan p, DeviceSpan g, DeviceSpan m, DeviceSpan v, float lr, float beta1, float beta2, float eps, int step);

    // ---- Library-internal policy and helpers ----

    /// <summary>
    /// Rows per pass that suit this backend when a model splits a large input (prediction of a test
    /// set): the CPU wants them cache-sized, a GPU wants enough to fill the device and few launches.
    /// </summary>
    internal virtual int PreferredRows => 640;

    /// <summary>
    /// True where arrays are host memory (the CPU): reading them costs nothing, so a trainer reads
    /// each batch's losses at once and stages nothing.
    /// </summary>
    internal virtual bool SharesHostMemory => false;

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

    /// <summary>
    /// Raised when the backend is being disposed, so that whoever keeps device memory on it (the
    /// trainer's resident training set) frees it. The backend knows nothing of its users: Compute
    /// depends on no namespace above it.
    /// </summary>
    internal event Action<ComputeBackend>? Disposing;

    /// <summary>Tells the backend's users it is going (see <see cref="Disposing"/>).</summary>
    protected void RaiseDisposing() => Disposing?.Invoke(this);

    /// <summary>
    /// Scratch for the dead-neuron shortcut of weight gradients (CPU: computing dW over the active
    /// neurons only); null where the backend has none, and callers take the full product.
    /// </summary>
    internal virtual ActiveNeurons? CreateActiveNeurons(int rows, int width) => null;
}
