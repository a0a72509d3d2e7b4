using FFLib.Compute;

namespace FFLib.Models;

/// <summary>
/// What the convolutional architectures share: channels as widths (default 32, 64, 128), the
/// <c>conv</c> setting's layer count against the widths, the shape check against an image size and
/// the multiply-add count of the time estimates.
/// </summary>
public abstract class ConvArchitecture : Architecture
{
    /// <inheritdoc />
    public override IReadOnlyList<int> DefaultHiddenSizes => CnnSettings.DefaultChannels;

    /// <summary>Input channels each layer reads beyond its own (the FF CNN's label planes).</summary>
    protected virtual int ExtraInputChannels(ModelSettings settings) => 0;

    /// <summary>The stack these settings describe for images of <paramref name="imageFeatures"/> values (not validated).</summary>
    public static ConvStack StackFor(ModelSettings settings, int imageFeatures)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new ConvStack(ImageShape.FromFeatures(imageFeatures), settings.HiddenSizes.ToArray(), ConvStack.Parse(settings.Get(CnnSettings.Conv)));
    }

    /// <inheritdoc />
    public override void ValidateSettings(ModelSettings settings)
    {
        base.ValidateSettings(settings);
        int layers = ConvStack.Parse(settings.Get(CnnSettings.Conv)).Length;
        if (layers != settings.HiddenSizes.Count)
            throw new ArgumentOutOfRangeException("conv", settings.Get(CnnSettings.Conv), $"conv {settings.Get(CnnSettings.Conv)} describes {layers} layer(s) but the layer widths give {settings.HiddenSizes.Count} channel count(s) ({string.Join(",", settings.HiddenSizes)}).");
    }

    /// <inheritdoc />
    public override string? ShapeProblem(ModelSettings settings, int imageFeatures)
    {
        try { return StackFor(settings, imageFeatures).Problem(); }
        catch (ArgumentException e) { return e.Message; }
        catch (FormatException e) { return e.Message; }
    }

    /// <inheritdoc />
    public override double MultiplyAddsPerImage(ModelSettings settings, int imageFeatures)
    {
        var stack = StackFor(settings, imageFeatures);
        return stack.Problem() is null ? stack.MultiplyAdds(ExtraInputChannels(settings)) : base.MultiplyAddsPerImage(settings, imageFeatures);
    }

    /// <summary>The validated stack for a new model of these settings.</summary>
    protected ConvStack CreateStack(ModelSettings settings, int imageFeatures)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ValidateSettings(settings);
        var stack = StackFor(settings, imageFeatures);
        stack.Validate();
        return stack;
    }
}
