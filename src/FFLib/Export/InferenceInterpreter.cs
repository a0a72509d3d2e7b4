using FFLib.Compute;

namespace FFLib.Export;

/// <summary>
/// Runs an <see cref="InferenceGraph"/> in plain C#, one image at a time, float32 throughout: the
/// reference the exporters' output (ONNX, C) and the models' own predictions are checked against.
/// Written for clarity, not speed.
/// </summary>
public static class InferenceInterpreter
{
    /// <summary>Scores (images × classes) of <paramref name="images"/>; parameters by name (row-major, as in model files).</summary>
    public static Matrix Scores(InferenceGraph graph, IReadOnlyDictionary<string, float[]> parameters, Func<string, int[]> shapeOf, Matrix images)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(shapeOf);
        ArgumentNullException.ThrowIfNull(images);
        if (graph.Scores < 0) throw new ArgumentException("The graph has no output.", nameof(graph));
        if (images.Cols != graph.Width(graph.Input)) throw new ArgumentException($"Images have {images.Cols} values; the graph reads {graph.Width(graph.Input)}.", nameof(images));
        int classes = graph.Width(graph.Scores);
        var result = new Matrix(images.Rows, classes);
        var values = new float[graph.ValueCount][];
        for (int i = 0; i < images.Rows; i++)
        {
            values[graph.Input] = images.Row(i).ToArray();
            foreach (var op in graph.Ops) values[op.Output] = Run(op, values, graph.Width(op.Output), parameters, shapeOf);
            values[graph.Scores].CopyTo(result.Row(i));
        }
        return result;
    }

    /// <summary>Scores of <paramref name="graph"/> with these parameters (a model's <c>Parameters()</c>; <c>IInferenceExportable.GraphScores</c> runs a model's own graph).</summary>
    public static Matrix Scores(InferenceGraph graph, IReadOnlyList<Modules.Parameter> parameters, Matrix images)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ps = parameters.ToDictionary(p => p.Name);
        return Scores(graph, ps.ToDictionary(p => p.Key, p => p.Value.Data), n => ps[n].Shape, images);
    }

    private static float[] Run(InferenceOp op, float[][] v, int width, IReadOnlyDictionary<string, float[]> parameters, Func<string, int[]> shapeOf)
    {
        var y = new float[width];
        float[] x = op.Inputs.Length > 0 ? v[op.Inputs[0]] : [];
        switch (op.Kind)
        {
            case InferenceOpKind.MatMul:
            {
                var w = parameters[op.Parameter!];
                int cols = w.Length / shapeOf(op.Parameter!)[0];
                for (int r = 0; r < width; r++)
                {
                    float s = 0;
                    for (int k = 0; k < x.Length; k++) s += x[k] * w[r * cols + op.Column + k];
                    y[r] = s;
                }
                break;
            }
            case InferenceOpKind.AddWeightColumn:
            {
                var w = parameters[op.Parameter!];
                int cols = w.Length / shapeOf(op.Parameter!)[0];
                for (int r = 0; r < width; r++) y[r] = x[r] + w[r * cols + op.Column];
                break;
            }
            case InferenceOpKind.AddBias:
            {
                var b = parameters[op.Parameter!];
                for (int j = 0; j < width; j++) y[j] = x[j] + b[j];
                break;
            }
            case InferenceOpKind.Relu:
                for (int j = 0; j < width; j++) y[j] = MathF.Max(x[j], 0f);
                break;
            case InferenceOpKind.SumSquares:
            case InferenceOpKind.MeanSquares:
            {
                float s = 0;
                foreach (var a in x) s += a * a;
                y[0] = op.Kind == InferenceOpKind.SumSquares ? s : s / x.Length;
                break;
            }
            case InferenceOpKind.Sqrt:
                for (int j = 0; j < width; j++) y[j] = MathF.Sqrt(x[j]);
                break;
            case InferenceOpKind.AddScalar:
                for (int j = 0; j < width; j++) y[j] = x[j] + op.Scalar;
                break;
            case InferenceOpKind.MulScalar:
                for (int j = 0; j < width; j++) y[j] = op.Scalar * x[j];
                break;
            case InferenceOpKind.DivideRows:
            {
                float s = v[op.Inputs[1]][0];
                for (int j = 0; j < width; j++) y[j] = x[j] / s;
                break;
            }
            case InferenceOpKind.Softplus:
                for (int j = 0; j < width; j++) y[j] = Kernels.Softplus(x[j]);
                break;
            case InferenceOpKind.Add:
            {
                var b = v[op.Inputs[1]];
                for (int j = 0; j < width; j++) y[j] = x[j] + b[j];
                break;
            }
            case InferenceOpKind.Concat:
            {
                int at = 0;
                foreach (var input in op.Inputs) { v[input].CopyTo(y, at); at += v[input].Length; }
                break;
            }
            case InferenceOpKind.Constant:
                op.Data!.CopyTo(y, 0);
                break;
            case InferenceOpKind.Conv2d:
            {
                // The direct convolution over NHWC: y[oy, ox, o] = Σ_{ky, kx, c} x[iy, ix, c]·W[o, ky, kx, c].
                var g = op.Geometry!.Value;
                var w = parameters[op.Parameter!];
                int outC = width / g.Positions;
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++)
                        for (int o = 0; o < outC; o++)
                        {
                            float s = 0;
                            for (int ky = 0; ky < g.Kernel; ky++)
                            {
                                int iy = oy * g.Stride - g.Padding + ky;
                                if ((uint)iy >= (uint)g.Height) continue;
                                for (int kx = 0; kx < g.Kernel; kx++)
                                {
                                    int ix = ox * g.Stride - g.Padding + kx;
                                    if ((uint)ix >= (uint)g.Width) continue;
                                    for (int c = 0; c < g.Channels; c++)
                                        s += x[(iy * g.Width + ix) * g.Channels + c] * w[((o * g.Kernel + ky) * g.Kernel + kx) * g.Channels + c];
                                }
                            }
                            y[(oy * g.OutWidth + ox) * outC + o] = s;
                        }
                break;
            }
            case InferenceOpKind.AddChannelBias:
            {
                var b = parameters[op.Parameter!];
                for (int j = 0; j < width; j++) y[j] = x[j] + b[j % b.Length];
                break;
            }
            case InferenceOpKind.MaxPool:
            {
                var g = op.Geometry!.Value;
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++)
                        for (int c = 0; c < g.Channels; c++)
                        {
                            float m = float.NegativeInfinity;
                            for (int ky = 0; ky < g.Kernel; ky++)
                                for (int kx = 0; kx < g.Kernel; kx++)
                                    m = MathF.Max(m, x[((oy * g.Stride + ky) * g.Width + ox * g.Stride + kx) * g.Channels + c]);
                            y[(oy * g.OutWidth + ox) * g.Channels + c] = m;
                        }
                break;
            }
            case InferenceOpKind.ChannelGroupMeanSquares:
            {
                var group = op.Indices!;
                int channels = group.Length, positions = x.Length / channels;
                var count = new int[width];
                foreach (int k in group) count[k]++;
                var sums = new double[width]; // in double, as the model sums them
                for (int j = 0; j < x.Length; j++) sums[group[j % channels]] += (double)x[j] * x[j];
                for (int k = 0; k < width; k++) y[k] = count[k] == 0 ? 0f : (float)(sums[k] / ((double)positions * count[k]));
                break;
            }
            case InferenceOpKind.Gather:
                for (int j = 0; j < width; j++) y[j] = x[op.Indices![j]];
                break;
            case InferenceOpKind.GroupMeanSquares:
                for (int q = 0; q < width; q++)
                {
                    float s = 0;
                    for (int c = 0; c < op.Column; c++) { float a = x[q * op.Column + c]; s += a * a; }
                    y[q] = s / op.Column;
                }
                break;
            case InferenceOpKind.ChannelAffine:
            {
                int c = op.Data!.Length / 2;
                for (int j = 0; j < width; j++) y[j] = x[j] * op.Data[j % c] + op.Data[c + j % c];
                break;
            }
            case InferenceOpKind.Mean:
            {
                float s = 0;
                foreach (var a in x) s += a;
                y[0] = s / x.Length;
                break;
            }
            default:
                throw new NotSupportedException($"Unknown operation {op.Kind}.");
        }
        return y;
    }
}
