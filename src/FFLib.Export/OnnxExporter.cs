using Google.Protobuf;
using Onnx;

namespace FFLib.Export;

/// <summary>Options of an export.</summary>
public sealed record ExportOptions
{
    /// <summary>
    /// Store every weight matrix as int8 with one float scale per row (the int8 model file's
    /// quantisation, <see cref="IO.ModelCheckpoint.Quantize"/>), dequantised in the graph (ONNX
    /// Cast × scale, folded to float at load) or in the products (C). Biases stay float32.
    /// </summary>
    public bool Int8 { get; init; }

    /// <summary>
    /// C export: weight matrices stored as these packed codes (a compressed model file's,
    /// <see cref="IO.CompressedWeights.ReadPacked"/>) and decoded at inference; ONNX stores their decoded floats.
    /// Each must be the model's own weights (the model loaded from the same file).
    /// </summary>
    public IReadOnlyList<IO.PackedMatrix>? Packed { get; init; }

    /// <summary>
    /// C export: weight matrices stored as these low-rank factors (<see cref="IO.CompressedWeights.ReadLowRank"/>),
    /// the product taken as (x·Vᵀ)·Uᵀ; a factor may itself be in <see cref="Packed"/>. ONNX stores the product's floats.
    /// </summary>
    public IReadOnlyList<IO.LowRankMatrix>? LowRank { get; init; }
}

/// <summary>
/// Writes a model's prediction as a standard ONNX graph (opset 17): one input <c>images</c>, float32
/// [N, features] of pixels in [0, 1] (N dynamic), and two outputs, <c>class</c> (int64 [N]) and
/// <c>scores</c> (float32 [N, classes]: the per-label goodness sums of an FF model, the classifier's
/// scores or logits otherwise). Built from the model's <see cref="InferenceGraph"/>, so any
/// <see cref="Models.IInferenceExportable"/> model exports, built-in or not. The protobuf messages are
/// OnnxSharp's generated ONNX types.
/// </summary>
public static class OnnxExporter
{
    private const int Float = 1, Int8 = 3;

    /// <summary>The ONNX operator set the graphs use.</summary>
    public const int Opset = 17;

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (atomically).</summary>
    public static void Save(Models.IClassifierModel model, string path, ExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var proto = Build(model, options ?? new ExportOptions());
        IO.AtomicFile.Write(path, s => proto.WriteTo(s));
    }

    /// <summary>The ONNX model of <paramref name="model"/>.</summary>
    public static ModelProto Build(Models.IClassifierModel model, ExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IO.ModelCheckpoint.RequireFinite(model, "the model");
        var graph = ExportGraph.Of(model);
        var b = new Builder(model, options);
        var onnx = b.Graph;
        onnx.Name = $"fflib_{model.Architecture.Id}";
        onnx.Input.Add(ValueInfo("images", Float, "N", graph.Width(graph.Input)));
        var names = new string[graph.ValueCount];
        names[graph.Input] = "images";
        foreach (var op in graph.Ops) names[op.Output] = b.Emit(op, names, graph);
        b.Node("Identity", [names[graph.Scores]], "scores");
        b.Node(graph.PredictLowest ? "ArgMin" : "ArgMax", ["scores"], "class", Attr("axis", 1), Attr("keepdims", 0));
        onnx.Output.Add(ValueInfo("class", 7, "N"));
        onnx.Output.Add(ValueInfo("scores", Float, "N", graph.Width(graph.Scores)));
        var m = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "FFLib for .NET",
            ProducerVersion = IO.ModelCheckpoint.LibraryVersion,
            Graph = onnx,
            DocString = $"{model.Architecture.DisplayName}: {(graph.PredictLowest ? "argmin" : "argmax")} of the per-label scores{(options.Int8 ? "; int8 weights, one scale per row" : "")}.",
        };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return m;
    }

    private static ValueInfoProto ValueInfo(string name, int type, string batch, int? width = null)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        if (width is int w) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = w });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type, Shape = shape } } };
    }

    private static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>Emits ONNX nodes and initializers for the graph's operations, each weight slice once.</summary>
    private sealed class Builder(Models.IClassifierModel model, ExportOptions options)
    {
        private readonly Dictionary<string, Modules.Parameter> _params = model.Parameters().ToDictionary(p => p.Name);
        private readonly Dictionary<string, (float[] Q, float[] Scales)> _quantized = [];
        private readonly Dictionary<string, string> _cache = [];
        private int _next;

        public GraphProto Graph { get; } = new();

        public void Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var n = new NodeProto { OpType = op, Name = $"{op}_{_next++}" };
            n.Input.AddRange(inputs);
            n.Output.Add(output);
            n.Attribute.AddRange(attributes);
            Graph.Node.Add(n);
        }

        private string Fresh(string op, string[] inputs, params AttributeProto[] attributes)
        {
            string name = $"t{_next}";
            Node(op, inputs, name, attributes);
            return name;
        }

        public string Emit(InferenceOp op, string[] v, InferenceGraph graph)
        {
            string x = op.Inputs.Length > 0 ? v[op.Inputs[0]] : "";
            int inWidth = op.Inputs.Length > 0 ? graph.Width(op.Inputs[0]) : 0;
            return op.Kind switch
            {
                InferenceOpKind.MatMul => Fresh("MatMul", [x, TransposedSlice(op.Parameter!, op.Column, inWidth)]),
                InferenceOpKind.AddWeightColumn => Fresh("Add", [x, WeightColumn(op.Parameter!, op.Column)]),
                InferenceOpKind.AddBias => Fresh("Add", [x, Initializer(op.Parameter!, _params[op.Parameter!].Data, [_params[op.Parameter!].Rows])]),
                InferenceOpKind.Relu => Fresh("Relu", [x]),
                InferenceOpKind.SumSquares => SumSquares(x),
                InferenceOpKind.MeanSquares => Fresh("Div", [SumSquares(x), Scalar(inWidth)]),
                InferenceOpKind.Sqrt => Fresh("Sqrt", [x]),
                InferenceOpKind.AddScalar => Fresh("Add", [x, Scalar(op.Scalar)]),
                InferenceOpKind.MulScalar => Fresh("Mul", [x, Scalar(op.Scalar)]),
                InferenceOpKind.DivideRows => Fresh("Div", [x, v[op.Inputs[1]]]),
                InferenceOpKind.Softplus => Softplus(x),
                InferenceOpKind.Add => Fresh("Add", [x, v[op.Inputs[1]]]),
                InferenceOpKind.Concat => Fresh("Concat", op.Inputs.Select(i => i > 0 && graph.Ops[i - 1].Kind == InferenceOpKind.Constant ? BatchRows(v[i], graph.Width(i)) : v[i]).ToArray(), Attr("axis", 1)),
                InferenceOpKind.Constant => Initializer($"constant_{_next++}", op.Data!, [1, op.Data!.Length]),
                InferenceOpKind.Conv2d => Conv(x, op),
                InferenceOpKind.AddChannelBias => AddChannelBias(x, op.Parameter!, inWidth),
                InferenceOpKind.MaxPool => MaxPool(x, op.Geometry!.Value),
                InferenceOpKind.GroupMeanSquares => Fresh("Div", [Fresh("ReduceSumSquare", [Fresh("Reshape", [x, Shape([0, -1, op.Column])])],
                    new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 2L } }, Attr("keepdims", 0)), Scalar(op.Column)]),
                InferenceOpKind.ChannelAffine => ChannelAffine(x, op.Data!, inWidth),
                InferenceOpKind.Mean => Fresh("ReduceMean", [x], new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1L } }, Attr("keepdims", 1)),
                InferenceOpKind.ChannelGroupMeanSquares => ChannelGroupMeanSquares(x, op.Indices!, graph.Width(op.Output), inWidth),
                InferenceOpKind.Gather => Fresh("Gather", [x, GatherTable(op.Indices!)], Attr("axis", 1)),
                _ => throw new NotSupportedException($"Unknown operation {op.Kind}."),
            };
        }

        // Feature maps travel as NHWC rows [N, H·W·C] (the graph's layout); ONNX's Conv and MaxPool take NCHW.
        private string ToNchw(string x, int c, int h, int w) => Fresh("Transpose", [Fresh("Reshape", [x, Shape([0, h, w, c])])], Ints("perm", 0, 3, 1, 2));

        private string FromNchw(string y, int width) => Fresh("Reshape", [Fresh("Transpose", [y], Ints("perm", 0, 2, 3, 1)), Shape([0, width])]);

        private string Conv(string x, InferenceOp op)
        {
            var g = op.Geometry!.Value;
            var p = _params[op.Parameter!];
            int outC = p.Rows;
            string y = Fresh("Conv", [ToNchw(x, g.Channels, g.Height, g.Width), ConvKernel(op.Parameter!, g)],
                Ints("kernel_shape", g.Kernel, g.Kernel), Ints("pads", g.Padding, g.Padding, g.Padding, g.Padding), Ints("strides", g.Stride, g.Stride));
            return FromNchw(y, g.Positions * outC);
        }

        /// <summary>W [out, K, K, in] as ONNX's [out, in, K, K]: float, or int8 times a per-output-channel scale (the int8 file's rows).</summary>
        private string ConvKernel(string parameter, Compute.ConvGeometry g)
        {
            string key = "kernel:" + parameter;
            if (_cache.TryGetValue(key, out var cached)) return cached;
            var p = _params[parameter];
            int outC = p.Rows, k = g.Kernel, inC = g.Channels;
            var source = options.Int8 ? Quantized(parameter).Q : p.Data;
            var t = new float[source.Length];
            for (int o = 0; o < outC; o++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        for (int c = 0; c < inC; c++) t[((o * inC + c) * k + ky) * k + kx] = source[((o * k + ky) * k + kx) * inC + c];
            long[] dims = [outC, inC, k, k];
            if (!options.Int8) return _cache[key] = Initializer(parameter + ".oihw", t, dims);
            var qt = new TensorProto { Name = parameter + ".oihw.int8", DataType = Int8, RawData = ByteString.CopyFrom(t.Select(v => unchecked((byte)(sbyte)v)).ToArray()) };
            qt.Dims.AddRange(dims);
            Graph.Initializer.Add(qt);
            string scale = Initializer(parameter + ".scale.oihw", Quantized(parameter).Scales, [outC, 1, 1, 1]);
            return _cache[key] = Fresh("Mul", [Fresh("Cast", [qt.Name], Attr("to", Float)), scale]); // folded to float at load, as for products
        }

        private string AddChannelBias(string x, string bias, int width)
        {
            int c = _params[bias].Rows;
            string b = Initializer(bias, _params[bias].Data, [c]);
            return Fresh("Reshape", [Fresh("Add", [Fresh("Reshape", [x, Shape([0, -1, c])]), b]), Shape([0, width])]);
        }

        private string MaxPool(string x, Compute.ConvGeometry g) =>
            FromNchw(Fresh("MaxPool", [ToNchw(x, g.Channels, g.Height, g.Width)], Ints("kernel_shape", g.Kernel, g.Kernel), Ints("strides", g.Stride, g.Stride)), g.Positions * g.Channels);

        /// <summary>Σ over positions of x² per channel, then a [C, groups] product with 1/(positions·|group|) per channel of a group.</summary>
        private string ChannelGroupMeanSquares(string x, int[] group, int groups, int width)
        {
            int channels = group.Length, positions = width / channels;
            var count = new int[groups];
            foreach (int k in group) count[k]++;
            var averager = new float[channels * groups];
            for (int j = 0; j < channels; j++) averager[j * groups + group[j]] = (float)(1.0 / ((double)positions * count[group[j]]));
            string perChannel = Fresh("ReduceSumSquare", [Fresh("Reshape", [x, Shape([0, positions, channels])])],
                new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1L } }, Attr("keepdims", 0));
            return Fresh("MatMul", [perChannel, Initializer($"group_averager_{_next++}", averager, [channels, groups])]);
        }

        /// <summary>x·a + s per channel: the map as [N, positions, C], the vectors broadcast over the last axis.</summary>
        private string ChannelAffine(string x, float[] data, int width)
        {
            int c = data.Length / 2;
            string scaled = Fresh("Mul", [Fresh("Reshape", [x, Shape([0, -1, c])]), Initializer($"affine_scale_{_next++}", data[..c], [c])]);
            return Fresh("Reshape", [Fresh("Add", [scaled, Initializer($"affine_shift_{_next++}", data[c..], [c])]), Shape([0, width])]);
        }

        private string? _batch;

        /// <summary>A constant row [1, width] repeated for every image of the batch, [N, width] (Concat does not broadcast).</summary>
        private string BatchRows(string constant, int width)
        {
            _batch ??= Fresh("Slice", [Fresh("Shape", ["images"]), Int64s("batch_start", [0]), Int64s("batch_end", [1])]);
            return Fresh("Expand", [constant, Fresh("Concat", [_batch, Int64s($"row_width_{width}", [width])], Attr("axis", 0))]);
        }

        private readonly Dictionary<int[], string> _gatherTables = new(ReferenceEqualityComparer.Instance);

        /// <summary>A gather's indices as an int64 initializer, once per distinct table (the graph shares equal ones).</summary>
        private string GatherTable(int[] indices)
        {
            if (!_gatherTables.TryGetValue(indices, out var name))
                _gatherTables[indices] = name = Int64s($"gather_{_next++}", indices.Select(i => (long)i).ToArray());
            return name;
        }

        private string Shape(long[] dims) => Int64s("shape_" + string.Join("_", dims.Select(d => d < 0 ? "m" + (-d) : d.ToString(System.Globalization.CultureInfo.InvariantCulture))), dims);

        private string Int64s(string name, long[] values)
        {
            if (_cache.ContainsKey("init:" + name)) return name;
            var t = new TensorProto { Name = name, DataType = 7, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
            t.Dims.Add(values.Length);
            Graph.Initializer.Add(t);
            _cache["init:" + name] = name;
            return name;
        }

        private static AttributeProto Ints(string name, params long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values);
            return a;
        }

        private string SumSquares(string x) =>
            Fresh("ReduceSumSquare", [x], new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1L } }, Attr("keepdims", 1));

        /// <summary>softplus(x) = max(x, 0) + log1p(e^−|x|), log1p as e − e²/2 below 1e-4 (the library's formula, so scores agree to float rounding).</summary>
        private string Softplus(string x)
        {
            string e = Fresh("Exp", [Fresh("Neg", [Fresh("Abs", [x])])]);
            string series = Fresh("Sub", [e, Fresh("Mul", [Fresh("Mul", [e, e]), Scalar(0.5f)])]);
            string log = Fresh("Log", [Fresh("Add", [e, Scalar(1f)])]);
            string log1p = Fresh("Where", [Fresh("Less", [e, Scalar(1e-4f)]), series, log]);
            return Fresh("Add", [Fresh("Relu", [x]), log1p]);
        }

        private string Scalar(float value)
        {
            string key = "scalar:" + BitConverter.SingleToInt32Bits(value);
            if (_cache.TryGetValue(key, out var name)) return name;
            name = Initializer($"c_{_cache.Count}", [value], []);
            _cache[key] = name;
            return name;
        }

        private string Initializer(string name, float[] data, long[] dims)
        {
            if (_cache.ContainsKey("init:" + name)) return name;
            var t = new TensorProto { Name = name, DataType = Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan())) };
            t.Dims.AddRange(dims);
            Graph.Initializer.Add(t);
            _cache["init:" + name] = name;
            return name;
        }

        /// <summary>The weights the model computes with: as stored, or their int8 round trip (q × row scale).</summary>
        private (float[] Q, float[] Scales) Quantized(string parameter)
        {
            if (_quantized.TryGetValue(parameter, out var qs)) return qs;
            var p = _params[parameter];
            var q = new float[p.Data.Length];
            var scales = new float[p.Rows];
            IO.ModelCheckpoint.Quantize(p.Data, p.Rows, p.Cols, q, scales);
            return _quantized[parameter] = (q, scales);
        }

        /// <summary>W[:, c0 : c0 + k]ᵀ as a [k, rows] tensor: a float initializer, or int8 times a per-column scale.</summary>
        private string TransposedSlice(string parameter, int c0, int k)
        {
            string key = $"slice:{parameter}:{c0}:{k}";
            if (_cache.TryGetValue(key, out var cached)) return cached;
            var p = _params[parameter];
            var t = new float[k * p.Rows];
            string name = $"{parameter}.T{(c0 > 0 || k < p.Cols ? $"[{c0}:{c0 + k}]" : "")}";
            if (!options.Int8)
            {
                for (int r = 0; r < p.Rows; r++)
                    for (int j = 0; j < k; j++) t[j * p.Rows + r] = p.Data[r * p.Cols + c0 + j];
                return _cache[key] = Initializer(name, t, [k, p.Rows]);
            }
            var (q, scales) = Quantized(parameter);
            var bytes = new byte[k * p.Rows];
            for (int r = 0; r < p.Rows; r++)
                for (int j = 0; j < k; j++) bytes[j * p.Rows + r] = unchecked((byte)(sbyte)q[r * p.Cols + c0 + j]);
            var qt = new TensorProto { Name = name + ".int8", DataType = Int8, RawData = ByteString.CopyFrom(bytes) };
            qt.Dims.AddRange([k, p.Rows]);
            Graph.Initializer.Add(qt);
            string scale = Initializer(parameter + ".scale", scales, [p.Rows]);
            // Cast and Mul rather than DequantizeLinear: ONNX Runtime's default optimisations fuse
            // DequantizeLinear → MatMul into an integer product that also quantises the activations
            // (scores off by ~3e-4 relative, measured); Cast·scale is constant-folded at load into
            // exactly the float weights the library's int8 model computes with (q × row scale).
            string deq = Fresh("Mul", [Fresh("Cast", [qt.Name], Attr("to", Float)), scale]);
            return _cache[key] = deq;
        }

        /// <summary>W[:, c] (the weights as the model computes with them) as a [rows] initializer.</summary>
        private string WeightColumn(string parameter, int c)
        {
            var p = _params[parameter];
            var col = new float[p.Rows];
            if (options.Int8)
            {
                var (q, scales) = Quantized(parameter);
                for (int r = 0; r < p.Rows; r++) col[r] = q[r * p.Cols + c] * scales[r];
            }
            else
                for (int r = 0; r < p.Rows; r++) col[r] = p.Data[r * p.Cols + c];
            return Initializer($"{parameter}[:, {c}]", col, [p.Rows]);
        }
    }
}
