using FFLib.Compute;
using FFLib.Layers;
using FFLib.Modules;

namespace FFLib.Models;

/// <summary>
/// A linear classifier over a CNN's last (pooled) NHWC map: weight [classes, H, W, C] (so a channel
/// owns its axis 3 when channels are pruned), bias [classes]; nn.Linear's initialisation over H·W·C inputs.
/// </summary>
internal sealed class ConvClassifierHead : Module
{
    public ConvClassifierHead(int classes, int height, int width, int channels, FFRandom? random)
    {
        int inputs = height * width * channels;
        var w = new float[classes * inputs];
        var b = new float[classes];
        if (random is not null)
        {
            LayerParameters.FillUniform(w, 1f / MathF.Sqrt(inputs), random);
            LayerParameters.FillUniform(b, 1f / MathF.Sqrt(inputs), random);
        }
        (Classes, Inputs) = (classes, inputs);
        WeightParameter = new("weight", "weight", [classes, height, width, channels], w);
        BiasParameter = new("bias", "bias", [classes], b);
    }

    public int Classes { get; }
    public int Inputs { get; }
    public LocalParameter WeightParameter { get; }
    public LocalParameter BiasParameter { get; }

    protected internal override IEnumerable<LocalParameter> LocalParameters() => [WeightParameter, BiasParameter];

    /// <summary>logits = x·Wᵀ + b for rows of x.</summary>
    public void Logits(ComputeBackend be, DeviceSpan x, int rows, DeviceSpan weight, DeviceSpan bias, DeviceSpan logits)
    {
        be.Gemm(false, true, rows, Classes, Inputs, x, Inputs, weight, Inputs, logits, Classes, accumulate: false);
        be.BiasActivation(logits, rows, Classes, bias, relu: false);
    }

    /// <summary>The head's gradients from the logits' gradient g (rows × classes) and its input x: dW = gᵀ·x, db = Σ_rows g.</summary>
    public void Gradients(ComputeBackend be, DeviceSpan grad, DeviceSpan x, int rows, DeviceSpan gradWeight, DeviceSpan gradBias)
    {
        be.Gemm(true, false, Classes, Inputs, rows, grad, Classes, x, Inputs, gradWeight, Inputs, accumulate: false);
        be.ColumnSums(grad, rows, Classes, gradBias);
    }
}
