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
                InferenceOpKind.Concat => Fresh("Concat", op.Inputs.Select(i => v[i]).ToArray(), Attr("axis", 1)),
                InferenceOpKind.Constant => Initializer($"constant_{_next++}", op.Data!, [1, op.Data!.Length]),
                _ => throw new NotSupportedException($"Unknown operation {op.Kind}."),
            };
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
