using System.Globalization;
using System.Text;

namespace FFLib.Export;

/// <summary>
/// Writes a model's prediction as a dependency-free C99 library: <c>model.h</c> and <c>model.c</c>
/// with the weights as <c>const</c> arrays (int8 with one float scale per row, or float32), one
/// function <c>int fflib_predict(const float image[FFLIB_INPUTS], float scores[FFLIB_CLASSES])</c>
/// returning the predicted class, no heap, and one static scratch buffer of
/// <c>FFLIB_SCRATCH_FLOATS</c> floats whose regions are reused once a value is dead. Needs only
/// <c>sqrtf</c>, <c>expf</c> and <c>logf</c> from libm (and only the ones the model uses).
/// Built from the model's <see cref="InferenceGraph"/>.
/// </summary>
public static partial class CExporter
{
    /// <summary>What was written: the files and the sizes a microcontroller build cares about.</summary>
    /// <param name="Header">model.h.</param>
    /// <param name="Source">model.c.</param>
    /// <param name="WeightBytes">Bytes of constant data (weights, scales, biases, constants): flash.</param>
    /// <param name="ScratchBytes">Bytes of the scratch buffer: RAM.</param>
    public sealed record Result(string Header, string Source, long WeightBytes, long ScratchBytes);

    /// <summary>Writes model.h and model.c into <paramref name="folder"/> (created; both files replaced as a set).</summary>
    public static Result Save(Models.IClassifierModel model, string folder, ExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        options ??= new ExportOptions();
        IO.ModelCheckpoint.RequireFinite(model, "the model");
        var graph = ExportGraph.Of(model);
        var (header, source) = Generate(model, graph, options);
        var (weights, scratch) = Sizes(model, graph, options);
        string h = Path.Combine(folder, "model.h"), c = Path.Combine(folder, "model.c");
        using var files = new IO.FileSet();
        files.WriteAllText(h, header);
        files.WriteAllText(c, source);
        files.Commit();
        return new Result(h, c, weights, scratch);
    }

    /// <summary>The sizes <see cref="Save"/> would report (constant data and scratch, in bytes), without writing anything.</summary>
    public static (long WeightBytes, long ScratchBytes) Measure(Models.IClassifierModel model, ExportOptions? options = null) =>
        Sizes(model, ExportGraph.Of(model), options ?? new ExportOptions());

    /// <summary>
    /// Constant data and scratch, in bytes, of the C <see cref="Generate"/> writes: each parameter the
    /// graph reads once (an int8 matrix: a byte per value and a float scale per row; otherwise float32),
    /// every constant row, and the scratch the value allocation needs.
    /// </summary>
    private static (long WeightBytes, long ScratchBytes) Sizes(Models.IClassifierModel model, InferenceGraph graph, ExportOptions options)
    {
        var ps = model.Parameters().ToDictionary(p => p.Name);
        var compressed = CompressedForms(graph, options, n => n);
        long bytes = graph.ParameterNames().Sum(n => compressed.TryGetValue(n, out var cp)
                ? cp.Whole is { } m ? Bytes(m) : Bytes(cp.U!) + Bytes(cp.V!)
                : ps[n] is var p && p.IsMatrix && options.Int8 ? p.Data.Length + 4L * p.Rows : 4L * p.Data.Length)
            // A compressed matrix's one-hot columns, stored as floats.
            + graph.Ops.Where(o => o.Kind == InferenceOpKind.AddWeightColumn && compressed.ContainsKey(o.Parameter!)).Sum(o => 4L * graph.Width(o.Output))
            + graph.Ops.Where(o => o.Kind is InferenceOpKind.Constant or InferenceOpKind.ChannelAffine).Sum(o => 4L * o.Data!.Length)
            // Index tables: a gather's source indices; a class goodness's channel groups and per-group factors.
            + graph.Ops.Where(o => o.Kind == InferenceOpKind.Gather).Select(o => o.Indices!).Distinct(ReferenceEqualityComparer.Instance).Sum(t => 4L * ((int[])t!).Length)
            + graph.Ops.Where(o => o.Kind == InferenceOpKind.ChannelGroupMeanSquares).Sum(o => 4L * (o.Indices!.Length + graph.Width(o.Output)));
        AllocateScratch(graph, out int scratchFloats);
        // A low-rank product's intermediate x·Vᵀ has a buffer of its own.
        return (bytes, 4L * (scratchFloats + compressed.Values.Sum(cp => cp.Rank)));
    }

    private static (string Header, string Source) Generate(Models.IClassifierModel model, InferenceGraph graph, ExportOptions options)
    {
        var ps = model.Parameters().ToDictionary(p => p.Name);
        int inputs = graph.Width(graph.Input), classes = graph.Width(graph.Scores);
        var offsets = AllocateScratch(graph, out int scratchFloats);
        var data = new StringBuilder();
        var arrays = new Dictionary<string, string>(); // parameter → C identifier
        var used = new HashSet<string>(StringComparer.Ordinal);
        string Ident(string name)
        {
            // "layers.0.weight" → p_layers_0_weight; names that map to the same identifier get a suffix.
            string id = "p_" + new string(name.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_').ToArray());
            string unique = id;
            for (int k = 2; !used.Add(unique); k++) unique = $"{id}_{k}";
            return unique;
        }

        // Parameters, each once, in order of first use; those in a compressed form as such.
        var compressed = CompressedForms(graph, options, Ident);
        var factors = (options.LowRank ?? []).ToDictionary(f => f.Name);
        foreach (var name in graph.ParameterNames())
        {
            var p = ps[name];
            if (compressed.TryGetValue(name, out var cp))
            {
                if (cp.Whole is { } whole) Emit(data, whole, name, p.Data);
                else
                {
                    var f = factors[name];
                    Emit(data, cp.U!, f.UName, f.U);
                    Emit(data, cp.V!, f.VName, f.V);
                    data.Append(CultureInfo.InvariantCulture, $"static float {cp.U!.Id}_t[{cp.Rank}]; /* x . V^T of {name} (rank {cp.Rank}) */\n");
                }
                continue;
            }
            string id = Ident(name);
            arrays[name] = id;
            Emit(data, new CMatrix(id, p.Rows, p.Cols, null, Int8: p.IsMatrix && options.Int8), name, p.Data, p.Shape);
        }

        // The program: one helper call per operation.
        var code = new StringBuilder();
        var gatherTables = new Dictionary<int[], string>(ReferenceEqualityComparer.Instance);
        string V(int v) => v == graph.Input ? "image" : graph.Ops[v - 1].Kind == InferenceOpKind.Constant ? $"k{v}" : $"(s + {offsets[v]})";
        foreach (var op in graph.Ops)
        {
            int w = graph.Width(op.Output);
            string y = V(op.Output), x = op.Inputs.Length > 0 ? V(op.Inputs[0]) : "", xw = op.Inputs.Length > 0 ? graph.Width(op.Inputs[0]).ToString(CultureInfo.InvariantCulture) : "";
            switch (op.Kind)
            {
                case InferenceOpKind.Constant:
                    FloatArray(data, $"k{op.Output}", op.Data!);
                    continue;
                case InferenceOpKind.MatMul when compressed.TryGetValue(op.Parameter!, out var cp):
                    if (cp.Whole is { } whole) code.Append(Product(whole, x, graph.Width(op.Inputs[0]), op.Column, y));
                    else code.Append(Product(cp.V!, x, graph.Width(op.Inputs[0]), op.Column, cp.U!.Id + "_t")).Append(Product(cp.U!, cp.U!.Id + "_t", cp.Rank, 0, y));
                    break;
                case InferenceOpKind.AddWeightColumn when compressed.ContainsKey(op.Parameter!):
                {
                    // The column as the model computes with it (the codes or factors decoded), stored once as floats.
                    var p = ps[op.Parameter!];
                    var column = Enumerable.Range(0, p.Rows).Select(r => p.Data[(long)r * p.Cols + op.Column]).ToArray();
                    FloatArray(data, $"kc{op.Output}", column);
                    code.Append(CultureInfo.InvariantCulture, $"  add_vec({x}, kc{op.Output}, {w}, {y});\n");
                    break;
                }
                case InferenceOpKind.MatMul:
                {
                    var p = ps[op.Parameter!];
                    string a = arrays[op.Parameter!];
                    if (p.IsMatrix && options.Int8) code.Append(CultureInfo.InvariantCulture, $"  matmul_q({x}, {xw}, {a}, {a}_scale, {p.Cols}, {op.Column}, {w}, {y});\n");
                    else code.Append(CultureInfo.InvariantCulture, $"  matmul_f({x}, {xw}, {a}, {p.Cols}, {op.Column}, {w}, {y});\n");
                    break;
                }
                case InferenceOpKind.AddWeightColumn:
                {
                    var p = ps[op.Parameter!];
                    string a = arrays[op.Parameter!];
                    if (options.Int8) code.Append(CultureInfo.InvariantCulture, $"  add_column_q({x}, {a}, {a}_scale, {p.Cols}, {op.Column}, {w}, {y});\n");
                    else code.Append(CultureInfo.InvariantCulture, $"  add_column_f({x}, {a}, {p.Cols}, {op.Column}, {w}, {y});\n");
                    break;
                }
                case InferenceOpKind.AddBias: code.Append(CultureInfo.InvariantCulture, $"  add_vec({x}, {arrays[op.Parameter!]}, {w}, {y});\n"); break;
                case InferenceOpKind.Relu: code.Append(CultureInfo.InvariantCulture, $"  relu({x}, {w}, {y});\n"); break;
                case InferenceOpKind.SumSquares: code.Append(CultureInfo.InvariantCulture, $"  {y}[0] = sum_squares({x}, {xw});\n"); break;
                case InferenceOpKind.MeanSquares: code.Append(CultureInfo.InvariantCulture, $"  {y}[0] = sum_squares({x}, {xw}) / {xw}.0f;\n"); break;
                case InferenceOpKind.Sqrt: code.Append(CultureInfo.InvariantCulture, $"  {{ int j; for (j = 0; j < {w}; j++) {y}[j] = sqrtf({x}[j]); }}\n"); break;
                case InferenceOpKind.AddScalar: code.Append(CultureInfo.InvariantCulture, $"  {{ int j; for (j = 0; j < {w}; j++) {y}[j] = {x}[j] + {Float(op.Scalar)}; }}\n"); break;
                case InferenceOpKind.MulScalar: code.Append(CultureInfo.InvariantCulture, $"  {{ int j; for (j = 0; j < {w}; j++) {y}[j] = {Float(op.Scalar)} * {x}[j]; }}\n"); break;
                case InferenceOpKind.DivideRows: code.Append(CultureInfo.InvariantCulture, $"  {{ int j; const float d = {V(op.Inputs[1])}[0]; for (j = 0; j < {w}; j++) {y}[j] = {x}[j] / d; }}\n"); break;
                case InferenceOpKind.Softplus: code.Append(CultureInfo.InvariantCulture, $"  {{ int j; for (j = 0; j < {w}; j++) {y}[j] = softplus({x}[j]); }}\n"); break;
                case InferenceOpKind.Add: code.Append(CultureInfo.InvariantCulture, $"  add_vec({x}, {V(op.Inputs[1])}, {w}, {y});\n"); break;
                case InferenceOpKind.Concat:
                {
                    int at = 0;
                    foreach (var input in op.Inputs)
                    {
                        int iw = graph.Width(input);
                        code.Append(CultureInfo.InvariantCulture, $"  copy({V(input)}, {iw}, {y} + {at});\n");
                        at += iw;
                    }
                    break;
                }
                case InferenceOpKind.Conv2d:
                {
                    var g = op.Geometry!.Value;
                    string shape = $"{g.Height}, {g.Width}, {g.Channels}, {g.Kernel}, {g.Stride}, {g.Padding}, {ps[op.Parameter!].Rows}, {g.OutHeight}, {g.OutWidth}";
                    if (compressed.TryGetValue(op.Parameter!, out var kernel)) { code.Append(PackedConvolution(kernel.Whole!, x, shape, y)); break; }
                    string a = arrays[op.Parameter!];
                    if (options.Int8) code.Append(CultureInfo.InvariantCulture, $"  conv2d_q({x}, {a}, {a}_scale, {shape}, {y});\n");
                    else code.Append(CultureInfo.InvariantCulture, $"  conv2d_f({x}, {a}, {shape}, {y});\n");
                    break;
                }
                case InferenceOpKind.AddChannelBias: code.Append(CultureInfo.InvariantCulture, $"  add_channel_bias({x}, {arrays[op.Parameter!]}, {ps[op.Parameter!].Rows}, {w}, {y});\n"); break;
                case InferenceOpKind.MaxPool:
                {
                    var g = op.Geometry!.Value;
                    code.Append(CultureInfo.InvariantCulture, $"  max_pool({x}, {g.Height}, {g.Width}, {g.Channels}, {g.Kernel}, {g.Stride}, {g.OutHeight}, {g.OutWidth}, {y});\n");
                    break;
                }
                case InferenceOpKind.ChannelGroupMeanSquares:
                {
                    var group = op.Indices!;
                    var count = new int[w];
                    foreach (int k in group) count[k]++;
                    int positions = graph.Width(op.Inputs[0]) / group.Length;
                    IntArray(data, $"g{op.Output}", group);
                    FloatArray(data, $"gw{op.Output}", count.Select(n => n == 0 ? 0f : (float)(1.0 / ((double)positions * n))).ToArray(),
                        "per group: 1/(positions x channels in it), 0 for an empty group");
                    code.Append(CultureInfo.InvariantCulture, $"  group_mean_squares({x}, {positions}, {group.Length}, g{op.Output}, gw{op.Output}, {w}, {y});\n");
                    break;
                }
                case InferenceOpKind.Gather:
                    // One table per distinct index array (the graph shares equal ones).
                    if (!gatherTables.TryGetValue(op.Indices!, out var table))
                    {
                        gatherTables[op.Indices!] = table = $"i{op.Output}";
                        IntArray(data, table, op.Indices!);
                    }
                    code.Append(CultureInfo.InvariantCulture, $"  gather({x}, {table}, {w}, {y});\n");
                    break;
                case InferenceOpKind.GroupMeanSquares:
                    code.Append(CultureInfo.InvariantCulture, $"  {{ int j; for (j = 0; j < {w}; j++) {y}[j] = sum_squares({x} + (long)j * {op.Column}, {op.Column}) / {op.Column}.0f; }}\n");
                    break;
                case InferenceOpKind.ChannelAffine:
                {
                    int c = op.Data!.Length / 2;
                    FloatArray(data, $"a{op.Output}", op.Data, "per-channel scale, then shift");
                    code.Append(CultureInfo.InvariantCulture, $"  {{ int j; for (j = 0; j < {w}; j++) {y}[j] = {x}[j] * a{op.Output}[j % {c}] + a{op.Output}[{c} + j % {c}]; }}\n");
                    break;
                }
                case InferenceOpKind.Mean:
                    code.Append(CultureInfo.InvariantCulture, $"  {{ int j; float acc = 0.0f; for (j = 0; j < {xw}; j++) acc += {x}[j]; {y}[0] = acc / {xw}.0f; }}\n");
                    break;
                default: throw new NotSupportedException($"Unknown operation {op.Kind}.");
            }
        }
        string pick = graph.PredictLowest ? "<" : ">";
        string guard = "FFLIB_MODEL_H";
        string header = $$"""
            /* {{model.Architecture.DisplayName}} exported by FFLib for .NET {{IO.ModelCheckpoint.LibraryVersion}}: C99, no heap, no dependencies beyond libm. */
            #ifndef {{guard}}
            #define {{guard}}

            #define FFLIB_INPUTS {{inputs}}
            #define FFLIB_CLASSES {{classes}}
            /* The one static buffer fflib_predict works in (floats); not reentrant. */
            #define FFLIB_SCRATCH_FLOATS {{Math.Max(1, scratchFloats)}}

            /* Scores every label of an image (pixels in [0, 1]) and returns the predicted class:
               the {{(graph.PredictLowest ? "lowest" : "highest")}} score. {{(options.Int8 ? "Weights: int8, one float scale per row." : "Weights: float32.")}} */
            int fflib_predict(const float image[FFLIB_INPUTS], float scores[FFLIB_CLASSES]);

            #endif

            """;
        var src = new StringBuilder();
        src.Append(CultureInfo.InvariantCulture, $"/* {model.Architecture.DisplayName} exported by FFLib for .NET: generated, do not edit. */\n#include \"model.h\"\n#include <math.h>\n#include <stdint.h>\n\n");
        src.Append("static float fflib_scratch[FFLIB_SCRATCH_FLOATS];\n\n");
        src.Append(data).Append('\n');
        src.Append(Helpers).Append(PackedHelper);
        src.Append("\nint fflib_predict(const float image[FFLIB_INPUTS], float scores[FFLIB_CLASSES])\n{\n  float *const s = fflib_scratch;\n  int j, best = 0;\n  (void)s;\n");
        src.Append(code);
        src.Append(CultureInfo.InvariantCulture, $"  for (j = 0; j < FFLIB_CLASSES; j++) scores[j] = {V(graph.Scores)}[j];\n");
        src.Append(CultureInfo.InvariantCulture, $"  for (j = 1; j < FFLIB_CLASSES; j++) if (scores[j] {pick} scores[best]) best = j;\n  return best;\n}}\n");
        return (header.Replace("\r\n", "\n"), src.ToString());
    }

    /// <summary>
    /// Scratch offsets (in floats) per value, reusing the space of values no later operation reads:
    /// first fit over the free regions, the output placed before the inputs are released so that
    /// no operation writes over what it reads.
    /// </summary>
    private static int[] AllocateScratch(InferenceGraph graph, out int total)
    {
        var lastUse = new int[graph.ValueCount];
        Array.Fill(lastUse, -1);
        for (int i = 0; i < graph.Ops.Count; i++)
            foreach (var input in graph.Ops[i].Inputs) lastUse[input] = i;
        lastUse[graph.Scores] = graph.Ops.Count;
        var offsets = new int[graph.ValueCount];
        var free = new List<(int Start, int Length)>();
        int end = 0;
        for (int i = 0; i < graph.Ops.Count; i++)
        {
            var op = graph.Ops[i];
            if (op.Kind != InferenceOpKind.Constant)
            {
                int w = graph.Width(op.Output);
                int slot = free.FindIndex(f => f.Length >= w);
                if (slot >= 0)
                {
                    var f = free[slot];
                    offsets[op.Output] = f.Start;
                    if (f.Length == w) free.RemoveAt(slot); else free[slot] = (f.Start + w, f.Length - w);
                }
                else
                {
                    offsets[op.Output] = end;
                    end += w;
                }
            }
            foreach (var input in op.Inputs.Distinct())
                if (lastUse[input] == i && input != graph.Input && graph.Ops[input - 1].Kind != InferenceOpKind.Constant)
                    Release(free, offsets[input], graph.Width(input));
        }
        total = end;
        return offsets;
    }

    private static void Release(List<(int Start, int Length)> free, int start, int length)
    {
        free.Add((start, length));
        free.Sort();
        for (int i = free.Count - 1; i > 0; i--)
            if (free[i - 1].Start + free[i - 1].Length == free[i].Start)
            {
                free[i - 1] = (free[i - 1].Start, free[i - 1].Length + free[i].Length);
                free.RemoveAt(i);
            }
    }

    private static string Float(float v) =>
        float.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) switch { var t when t.Contains('.') || t.Contains('E') => t.Replace("E", "e") + "f", var t => t + ".0f" }
        : throw new ArgumentException($"A non-finite value ({v}) cannot be written as a C constant.");

    /// <summary>Writes "static const float name[n] = {…};", after a comment line when one is given.</summary>
    private static void FloatArray(StringBuilder data, string name, float[] values, string? comment = null)
    {
        if (comment is not null) data.Append("/* ").Append(comment).Append(" */\n");
        data.Append(CultureInfo.InvariantCulture, $"static const float {name}[{values.Length}] = {{");
        AppendValues(data, values, Float);
        data.Append("};\n");
    }

    /// <summary>Writes "static const int name[n] = {…};".</summary>
    private static void IntArray(StringBuilder data, string name, int[] values)
    {
        data.Append(CultureInfo.InvariantCulture, $"static const int {name}[{values.Length}] = {{");
        AppendValues(data, values.Select(v => (float)v).ToArray(), v => ((int)v).ToString(CultureInfo.InvariantCulture));
        data.Append("};\n");
    }

    private static void AppendValues(StringBuilder sb, float[] values, Func<float, string> format)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (i % 16 == 0) sb.Append("\n  ");
            sb.Append(format(values[i]));
            if (i + 1 < values.Length) sb.Append(',');
        }
        sb.Append('\n');
    }
}
