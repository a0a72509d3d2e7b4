using System.Collections.Immutable;
using System.Text.Json.Serialization;
using FFLib.Layers;

namespace FFLib.Models;

/// <summary>
/// The settings of a model for a training run or a sweep, for any architecture: the widths and
/// learning rate every architecture has, and a value for any <see cref="ModelSetting"/> an
/// architecture declares (<see cref="Architecture.Settings"/>); a setting never given has its
/// declared default (the paper's Table 1 for the built-in ones). Image size and classes come from
/// the data. One value may serve several architectures (a sweep over FFNN and FFRNN): each reads
/// the settings it declares and ignores the rest.
/// </summary>
[JsonConverter(typeof(ModelSettingsJsonConverter))]
public sealed record ModelSettings
{
    private ImmutableDictionary<ModelSetting, object> _values = ImmutableDictionary<ModelSetting, object>.Empty;

    /// <summary>Hidden layer widths.</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [2000, 2000];

    /// <summary>Adam learning rate; null: the architecture's default (<see cref="Architecture.DefaultLearningRate"/>: 0.02 for FF layers, 1e-4 for the BPNN).</summary>
    public float? LearningRate { get; init; }

    /// <summary>The value of <paramref name="setting"/>: the one given, else its default.</summary>
    public T Get<T>(ModelSetting<T> setting) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(setting);
        return _values.TryGetValue(setting, out var v) ? (T)v : setting.Default;
    }

    /// <summary>The value of <paramref name="setting"/>, boxed: the one given, else its default.</summary>
    public object Get(ModelSetting setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        return _values.TryGetValue(setting, out var v) ? v : setting.DefaultValue;
    }

    /// <summary>These settings with <paramref name="setting"/> set to <paramref name="value"/>.</summary>
    public ModelSettings With<T>(ModelSetting<T> setting, T value) where T : notnull => With((ModelSetting)setting, value);

    /// <summary>These settings with <paramref name="setting"/> set to <paramref name="value"/> (of the setting's type).</summary>
    public ModelSettings With(ModelSetting setting, object value)
    {
        ArgumentNullException.ThrowIfNull(setting);
        ArgumentNullException.ThrowIfNull(value);
        if (!setting.ValueType.IsInstanceOfType(value))
            throw new ArgumentException($"Setting '{setting.Key}' holds {setting.ValueType.Name} values, not {value.GetType().Name}.", nameof(value));
        return this with { _values = _values.SetItem(setting, value) };
    }

    /// <summary>The settings given a value (not those left at their defaults), in no particular order.</summary>
    public IEnumerable<KeyValuePair<ModelSetting, object>> GivenValues => _values;

    /// <summary>The learning rate <paramref name="architecture"/> trains with.</summary>
    public float LearningRateFor(Architecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return LearningRate ?? architecture.DefaultLearningRate;
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> if a value is out of range: the widths, the
    /// learning rate, and every given setting by its own rule; the exception's parameter name is
    /// the setting's key ("layers", "lr", "threshold", …). <see cref="Architecture.ValidateSettings"/>
    /// adds the rules between settings of one architecture.
    /// </summary>
    public void Validate()
    {
        if (HiddenSizes is null) throw new ArgumentNullException("layers", "The hidden layer widths are missing.");
        for (int i = 0; i < HiddenSizes.Count; i++)
            if (HiddenSizes[i] < 1) throw new ArgumentOutOfRangeException("layers", HiddenSizes[i], $"Layer {i + 1} has {HiddenSizes[i]} neurons; each needs at least 1.");
        if (LearningRate is float lr && !(lr > 0 && float.IsFinite(lr))) throw new ArgumentOutOfRangeException("lr", lr, "The learning rate must be a positive finite number.");
        foreach (var (setting, value) in _values) setting.Check(value);
    }

    // Shorthands for the built-in architectures' settings (each is declared in its architecture's folder).

    /// <summary>FF loss threshold θ (<see cref="FFSettings.Threshold"/>).</summary>
    public float Threshold { get => Get(FFSettings.Threshold); init => _values = _values.SetItem(FFSettings.Threshold, value); }

    /// <summary>FF loss direction: L− (Minimize) or L+ (Maximize) (<see cref="FFSettings.Loss"/>).</summary>
    public LossDirection Loss { get => Get(FFSettings.Loss); init => _values = _values.SetItem(FFSettings.Loss, value); }

    /// <summary>FFNN+C: the classifier's Adam learning rate (<see cref="FFClassifierSettings.ClassifierLearningRate"/>).</summary>
    public float ClassifierLearningRate { get => Get(FFClassifierSettings.ClassifierLearningRate); init => _values = _values.SetItem(FFClassifierSettings.ClassifierLearningRate, value); }

    /// <summary>FFRNN: damping β (<see cref="FFRecurrentSettings.Beta"/>).</summary>
    public float Beta { get => Get(FFRecurrentSettings.Beta); init => _values = _values.SetItem(FFRecurrentSettings.Beta, value); }

    /// <summary>FFRNN: frames per training batch, K_train (<see cref="FFRecurrentSettings.TrainFrames"/>).</summary>
    public int TrainFrames { get => Get(FFRecurrentSettings.TrainFrames); init => _values = _values.SetItem(FFRecurrentSettings.TrainFrames, value); }

    /// <summary>FFRNN: goodness is averaged over prediction frames after this one, K_testlow (<see cref="FFRecurrentSettings.TestFrameLow"/>).</summary>
    public int TestFrameLow { get => Get(FFRecurrentSettings.TestFrameLow); init => _values = _values.SetItem(FFRecurrentSettings.TestFrameLow, value); }

    /// <summary>FFRNN: prediction frames per label, K_testhigh (<see cref="FFRecurrentSettings.TestFrameHigh"/>).</summary>
    public int TestFrameHigh { get => Get(FFRecurrentSettings.TestFrameHigh); init => _values = _values.SetItem(FFRecurrentSettings.TestFrameHigh, value); }

    /// <summary>Equal when the widths, the learning rate and every setting's value are (a setting given at its default equals one left out).</summary>
    public bool Equals(ModelSettings? other) =>
        other is not null && HiddenSizes.SequenceEqual(other.HiddenSizes) && LearningRate == other.LearningRate
        && _values.Keys.Concat(other._values.Keys).All(s => Equals(Get(s), other.Get(s)));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(HiddenSizes.Count > 0 ? HiddenSizes[0] : 0, HiddenSizes.Count, LearningRate);
}
