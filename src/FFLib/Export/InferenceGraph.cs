using FFLib.Compute;

namespace FFLib.Export;

/// <summary>
/// What an <see cref="InferenceOp"/> computes. Every value is a matrix with one row per image; a
/// convolutional feature map is a row in NHWC order (position-major, channels innermost), as the CNNs compute.
/// </summary>
public enum InferenceOpKind
{
    /// <summary>y = x·W[:, c0 : c0+k]ᵀ (k = x's width; y's width = W's rows).</summary>
    MatMul,
    /// <summary>y = x + W[:, c]ᵀ (one column of a weight matrix added to every row: a one-hot input's product).</summary>
    AddWeightColumn,
    /// <summary>y = x + b (a bias vector added to every row).</summary>
    AddBias,
    /// <summary>y = max(x, 0).</summary>
    Relu,
    /// <summary>y = Σ_j x_j² (width 1).</summary>
    SumSquares,
    /// <summary>y = mean_j x_j² (width 1).</summary>
    MeanSquares,
    /// <summary>y = √x.</summary>
    Sqrt,
    /// <summary>y = x + c.</summary>
    AddScalar,
    /// <summary>y = c·x.</summary>
    MulScalar,
    /// <summary>y = x / s, s of width 1 (each row divided by its own value).</summary>
    DivideRows,
    /// <summary>y = softplus(x) = max(x, 0) + log1p(e^−|x|), log1p by its series e − e²/2 below e = 1e-4.</summary>
    Softplus,
    /// <summary>y = a + b (same widths).</summary>
    Add,
    /// <summary>y = [x₁, x₂, …] side by side.</summary>
    Concat,
    /// <summary>y = a constant row, the same for every image.</summary>
    Constant,
    /// <summary>y = W ⊛ x: a 2-D convolution of an NHWC map (<see cref="InferenceOp.Geometry"/>), W [out, K, K, in], without bias.</summary>
    Conv2d,
    /// <summary>y = x + b per channel: b [C] added at every position of an NHWC map.</summary>
    AddChannelBias,
    /// <summary>y = max over each window of an NHWC map (<see cref="InferenceOp.Geometry"/>: kernel = stride, no padding).</summary>
    MaxPool,
    /// <summary>
    /// y_k = Σ x² over every position and the channels of group k / (positions · |group k|), 0 for an empty group:
    /// a competitive FF layer's class goodnesses. <see cref="InferenceOp.Indices"/> gives each channel's group.
    /// </summary>
    ChannelGroupMeanSquares,
    /// <summary>y_j = x[indices_j] (a fixed permutation or selection, e.g. channel-major pixels to NHWC).</summary>
    Gather,
    /// <summary>y_q = mean of x² over the q-th run of <see cref="InferenceOp.Column"/> consecutive values (an NHWC map's per-position goodness, the run = its channels).</summary>
    GroupMeanSquares,
    /// <summary>y = mean_j x_j (width 1).</summary>
    Mean,
    /// <summary>y = x·a[c] + s[c] per channel c of an NHWC map: <see cref="InferenceOp.Data"/> holds a (C values) then s (C values) (batch normalisation at prediction).</summary>
    ChannelAffine,
}

/// <summary>One operation of an <see cref="InferenceGraph"/>: writes value <see cref="Output"/>.</summary>
/// <param name="Kind">The operation.</param>
/// <param name="Output">The value it defines.</param>
/// <param name="Inputs">The values it reads.</param>
/// <param name="Parameter">The model parameter it reads (MatMul, AddWeightColumn, AddBias), by its name in a model's <c>Parameters()</c>.</param>
/// <param name="Column">MatMul: first weight column; AddWeightColumn: the column; GroupMeanSquares: the run length.</param>
/// <param name="Scalar">AddScalar, MulScalar: the constant.</param>
/// <param name="Data">Constant: the row; ChannelAffine: the scales, then the shifts.</param>
public sealed record InferenceOp(InferenceOpKind Kind, int Output, int[] Inputs, string? Parameter = null, int Column = 0, float Scalar = 0, float[]? Data = null)
{
    /// <summary>Conv2d: the input map, kernel, stride and padding; MaxPool: the input map and the window (kernel = stride).</summary>
    public ConvGeometry? Geometry { get; init; }

    /// <summary>Gather: the source index of each output value; ChannelGroupMeanSquares: each channel's group.</summary>
    public int[]? Indices { get; init; }
}

/// <summary>
/// A model's prediction as a straight-line program over per-image rows: the form exporters (ONNX,
/// C) translate without knowing the architecture. Each architecture builds its own
/// (<c>IInferenceExportable</c>); <see cref="InferenceInterpreter"/> runs one in plain C#.
/// </summary>
public sealed class InferenceGraph
{
    private readonly List<InferenceOp> _ops = [];
    private readonly List<int> _widths = [];
    private readonly Func<string, int[]> _shapeOf;

    /// <summary>A graph whose input has <paramref name="inputWidth"/> values per image; <paramref name="shapeOf"/> gives a parameter's shape.</summary>
    public InferenceGraph(int inputWidth, Func<string, int[]> shapeOf)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputWidth, 1);
        _shapeOf = shapeOf ?? throw new ArgumentNullException(nameof(shapeOf));
        _widths.Add(inputWidth);
    }

    /// <summary>A graph over images of <paramref name="imageFeatures"/> values whose parameter shapes are those of <paramref name="parameters"/> (a model's <c>Parameters()</c>).</summary>
    public static InferenceGraph For(IReadOnlyList<Modules.Parameter> parameters, int imageFeatures)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var shapes = parameters.ToDictionary(p => p.Name, p => p.Shape);
        return new InferenceGraph(imageFeatures, n => shapes.TryGetValue(n, out var s) ? s : throw new ArgumentException($"The model has no parameter '{n}'.", nameof(n)));
    }

    /// <summary>The image value (pixels in [0, 1]).</summary>
    public int Input => 0;

    /// <summary>The operations, in execution order.</summary>
    public IReadOnlyList<InferenceOp> Ops => _ops;

    /// <summary>The per-image width of value <paramref name="value"/>.</summary>
    public int Width(int value) => _widths[value];

    /// <summary>Number of values (the input and every op's output).</summary>
    public int ValueCount => _widths.Count;

    /// <summary>The per-label scores (width = classes); set by <see cref="SetOutput"/>.</summary>
    public int Scores { get; private set; } = -1;

    /// <summary>Whether the predicted class is the lowest score (FF under L−) or the highest.</summary>
    public bool PredictLowest { get; private set; }

    /// <summary>Names <paramref name="scores"/> the graph's scores and says which end of them is the prediction.</summary>
    public void SetOutput(int scores, bool predictLowest)
    {
        Check(scores);
        Scores = scores;
        PredictLowest = predictLowest;
    }

    /// <summary>x·W[:, column : column + width(x)]ᵀ.</summary>
    public int MatMul(int x, string weight, int column = 0)
    {
        var s = Shape2(weight);
        if (column < 0 || column + Width(x) > s[1]) throw new ArgumentException($"{weight} [{s[0]}, {s[1]}] has no columns {column}..{column + Width(x) - 1}.", nameof(column));
        return Add(new InferenceOp(InferenceOpKind.MatMul, 0, [Check(x)], weight, column), s[0]);
    }

    /// <summary>x + W[:, column]ᵀ.</summary>
    public int AddWeightColumn(int x, string weight, int column)
    {
        var s = Shape2(weight);
        if (s[0] != Width(x) || column < 0 || column >= s[1]) throw new ArgumentException($"{weight} [{s[0]}, {s[1]}]: no column {column} of height {Width(x)}.", nameof(column));
        return Add(new InferenceOp(InferenceOpKind.AddWeightColumn, 0, [Check(x)], weight, column), s[0]);
    }

    /// <summary>x + b.</summary>
    public int AddBias(int x, string bias)
    {
        var s = _shapeOf(bias);
        if (s.Length != 1 || s[0] != Width(x)) throw new ArgumentException($"{bias} [{string.Join(", ", s)}] is not a bias of width {Width(x)}.", nameof(bias));
        return Add(new InferenceOp(InferenceOpKind.AddBias, 0, [Check(x)], bias), Width(x));
    }

    /// <summary>max(x, 0).</summary>
    public int Relu(int x) => Unary(InferenceOpKind.Relu, x, Width(x));

    /// <summary>Σ x² per row.</summary>
    public int SumSquares(int x) => Unary(InferenceOpKind.SumSquares, x, 1);

    /// <summary>mean x² per row.</summary>
    public int MeanSquares(int x) => Unary(InferenceOpKind.MeanSquares, x, 1);

    /// <summary>√x.</summary>
    public int Sqrt(int x) => Unary(InferenceOpKind.Sqrt, x, Width(x));

    /// <summary>Stable softplus.</summary>
    public int Softplus(int x) => Unary(InferenceOpKind.Softplus, x, Width(x));

    /// <summary>x + c.</summary>
    public int AddScalar(int x, float c) => Add(new InferenceOp(InferenceOpKind.AddScalar, 0, [Check(x)], Scalar: c), Width(x));

    /// <summary>c·x.</summary>
    public int MulScalar(int x, float c) => Add(new InferenceOp(InferenceOpKind.MulScalar, 0, [Check(x)], Scalar: c), Width(x));

    /// <summary>x / s per row (s of width 1).</summary>
    public int DivideRows(int x, int s)
    {
        if (Width(Check(s)) != 1) throw new ArgumentException("The divisor must have width 1.", nameof(s));
        return Add(new InferenceOp(InferenceOpKind.DivideRows, 0, [Check(x), s]), Width(x));
    }

    /// <summary>a + b.</summary>
    public int Add(int a, int b)
    {
        if (Width(Check(a)) != Width(Check(b))) throw new ArgumentException($"Widths {Width(a)} and {Width(b)} differ.", nameof(b));
        return Add(new InferenceOp(InferenceOpKind.Add, 0, [a, b]), Width(a));
    }

    /// <summary>The values side by side.</summary>
    public int Concat(params int[] values)
    {
        if (values is null || values.Length == 0) throw new ArgumentException("Concat needs at least one value.", nameof(values));
        foreach (var v in values) Check(v);
        return Add(new InferenceOp(InferenceOpKind.Concat, 0, values.ToArray()), values.Sum(Width));
    }

    /// <summary>A constant row (copied).</summary>
    public int Constant(ReadOnlySpan<float> row)
    {
        if (row.Length == 0) throw new ArgumentException("A constant needs at least one value.", nameof(row));
        return Add(new InferenceOp(InferenceOpKind.Constant, 0, [], Data: row.ToArray()), row.Length);
    }

    /// <summary>W ⊛ x over an NHWC map of shape <paramref name="geometry"/> (W [out, K, K, in] row-major; no bias): an NHWC map of OH·OW·out values.</summary>
    public int Conv2d(int x, string weight, ConvGeometry geometry)
    {
        geometry.Validate();
        var s = _shapeOf(weight);
        if (s.Length != 4 || s[1] != geometry.Kernel || s[2] != geometry.Kernel || s[3] != geometry.Channels)
            throw new ArgumentException($"{weight} [{string.Join(", ", s)}] is not a [out, {geometry.Kernel}, {geometry.Kernel}, {geometry.Channels}] kernel.", nameof(weight));
        if (Width(Check(x)) != geometry.InputSize) throw new ArgumentException($"The map has {Width(x)} values; {geometry} reads {geometry.InputSize}.", nameof(x));
        return Add(new InferenceOp(InferenceOpKind.Conv2d, 0, [x], weight) { Geometry = geometry }, geometry.Positions * s[0]);
    }

    /// <summary>x + b at every position of an NHWC map whose channels are b's entries.</summary>
    public int AddChannelBias(int x, string bias)
    {
        var s = _shapeOf(bias);
        if (s.Length != 1 || Width(Check(x)) % s[0] != 0) throw new ArgumentException($"{bias} [{string.Join(", ", s)}] is not a per-channel bias of a map of {Width(x)} values.", nameof(bias));
        return Add(new InferenceOp(InferenceOpKind.AddChannelBias, 0, [x], bias), Width(x));
    }

    /// <summary>size×size max-pooling with stride size (no padding; a ragged edge is dropped) of an NHWC map of channels × height × width.</summary>
    public int MaxPool(int x, int channels, int height, int width, int size = 2)
    {
        var g = new ConvGeometry(channels, height, width, size, size, 0);
        g.Validate();
        if (Width(Check(x)) != g.InputSize) throw new ArgumentException($"The map has {Width(x)} values, not {channels}×{height}×{width}.", nameof(x));
        return Add(new InferenceOp(InferenceOpKind.MaxPool, 0, [x]) { Geometry = g }, g.Positions * channels);
    }

    /// <summary>Per group k: the mean of x² over every position and group k's channels (<paramref name="channelGroup"/>[j] = channel j's group), 0 for an empty group.</summary>
    public int ChannelGroupMeanSquares(int x, int[] channelGroup, int groups)
    {
        ArgumentNullException.ThrowIfNull(channelGroup);
        if (channelGroup.Length == 0 || Width(Check(x)) % channelGroup.Length != 0) throw new ArgumentException($"{channelGroup.Length} channels do not divide a map of {Width(x)} values.", nameof(channelGroup));
        if (groups < 1 || channelGroup.Any(g => (uint)g >= (uint)groups)) throw new ArgumentException($"Every channel's group must be in 0..{groups - 1}.", nameof(channelGroup));
        return Add(new InferenceOp(InferenceOpKind.ChannelGroupMeanSquares, 0, [x]) { Indices = channelGroup.ToArray() }, groups);
    }

    /// <summary>Per run of <paramref name="run"/> consecutive values of x (its width a multiple of it): the mean of x² over the run.</summary>
    public int GroupMeanSquares(int x, int run)
    {
        if (run < 1 || Width(Check(x)) % run != 0) throw new ArgumentException($"Runs of {run} values do not divide {Width(x)} values.", nameof(run));
        return Add(new InferenceOp(InferenceOpKind.GroupMeanSquares, 0, [x], Column: run), Width(x) / run);
    }

    /// <summary>x·scale[c] + shift[c] at every position of an NHWC map whose channels are the vectors' entries (copied).</summary>
    public int ChannelAffine(int x, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        if (scale.Length == 0 || scale.Length != shift.Length || Width(Check(x)) % scale.Length != 0)
            throw new ArgumentException($"A per-channel affine needs equal scales and shifts whose count divides the map's {Width(x)} values (got {scale.Length} and {shift.Length}).", nameof(scale));
        return Add(new InferenceOp(InferenceOpKind.ChannelAffine, 0, [x], Data: [.. scale, .. shift]), Width(x));
    }

    /// <summary>The mean of x's values (width 1).</summary>
    public int Mean(int x) => Add(new InferenceOp(InferenceOpKind.Mean, 0, [Check(x)]), 1);

    private readonly List<int[]> _gatherTables = [];

    /// <summary>y_j = x[indices_j]. Gathers with equal indices share one <see cref="InferenceOp.Indices"/> array.</summary>
    public int Gather(int x, int[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (indices.Length == 0 || indices.Any(i => (uint)i >= (uint)Width(Check(x)))) throw new ArgumentException($"Gather needs at least one index, each below {Width(x)}.", nameof(indices));
        // Equal index tables are one shared array, so that exporters store each once (a label-channel CNN gathers
        // every label's input the same way).
        var table = _gatherTables.FirstOrDefault(t => t.AsSpan().SequenceEqual(indices));
        if (table is null) _gatherTables.Add(table = indices.ToArray());
        return Add(new InferenceOp(InferenceOpKind.Gather, 0, [x]) { Indices = table }, indices.Length);
    }

    /// <summary>The names of the parameters the graph reads, in order of first use.</summary>
    public IReadOnlyList<string> ParameterNames() => _ops.Where(o => o.Parameter is not null).Select(o => o.Parameter!).Distinct().ToArray();

    private int Unary(InferenceOpKind kind, int x, int width) => Add(new InferenceOp(kind, 0, [Check(x)]), width);

    private int Add(InferenceOp op, int width)
    {
        int id = _widths.Count;
        _widths.Add(width);
        _ops.Add(op with { Output = id });
        return id;
    }

    private int Check(int value) => (uint)value < (uint)_widths.Count ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "No such value in this graph.");

    /// <summary>A weight as a matrix: its first axis the rows, the product of the others the columns (a CNN head's [classes, H, W, C]).</summary>
    private int[] Shape2(string weight)
    {
        var s = _shapeOf(weight);
        return s.Length >= 2 ? [s[0], s.Skip(1).Aggregate(1, (a, b) => a * b)] : throw new ArgumentException($"{weight} [{string.Join(", ", s)}] is not a matrix.", nameof(weight));
    }
}
