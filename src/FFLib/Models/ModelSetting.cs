using System.Globalization;
using System.Text.Json.Nodes;

namespace FFLib.Models;

/// <summary>
/// One hyperparameter of an architecture, declared once beside it (name, type, default, help,
/// validation). Everything else is derived from the declaration: the command line's option
/// (<c>--</c> + <see cref="Key"/> with '-' for '_'), the run.json key, the sweep grid key, the
/// run id's entry and the checkpoint's entry. Adding a hyperparameter to an architecture is one
/// declaration in its <see cref="Architecture.Settings"/> plus the code that reads it.
/// </summary>
public abstract class ModelSetting
{
    private protected ModelSetting(string key, string help, IReadOnlyList<string>? formerNames)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(help);
        if (!key.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') || !char.IsAsciiLetterLower(key[0]))
            throw new ArgumentException($"A setting key is lower-case ASCII letters, digits and '_', starting with a letter, not '{key}'.", nameof(key));
        Key = key;
        Help = help;
        FormerNames = formerNames ?? [];
    }

    /// <summary>The one spelling of the setting: run.json, sweep grids, run ids and checkpoints use it; the command line writes it <c>--k-train</c> for <c>k_train</c>.</summary>
    public string Key { get; }

    /// <summary>One line for help texts.</summary>
    public string Help { get; }

    /// <summary>Names older files used for it (checkpoints of earlier versions wrote property names such as "TrainFrames"); read, never written.</summary>
    public IReadOnlyList<string> FormerNames { get; }

    /// <summary>The command-line spelling of <see cref="Key"/>: "k_train" → "k-train".</summary>
    public string OptionName => Key.Replace('_', '-');

    /// <summary>The value's type.</summary>
    public abstract Type ValueType { get; }

    /// <summary>The default value, boxed.</summary>
    public abstract object DefaultValue { get; }

    /// <summary>Reads a value from text as a user types it; <see cref="FormatException"/> saying what is expected (not naming any option: callers add where the text came from).</summary>
    public abstract object Parse(string text);

    /// <summary>The value as text, in the form <see cref="Parse"/> reads (invariant culture, round-trip precision).</summary>
    public abstract string Format(object value);

    /// <summary>Why <paramref name="value"/> is not allowed, or null if it is.</summary>
    public abstract string? Problem(object value);

    /// <summary>The value as JSON (run.json, checkpoints).</summary>
    public abstract JsonNode ToJson(object value);

    /// <summary>Reads <see cref="ToJson"/>'s form back (and the forms older files used); <see cref="FormatException"/> if it is neither.</summary>
    public abstract object FromJson(JsonNode node);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> with <see cref="Key"/> as its parameter name when the value is not allowed.</summary>
    public void Check(object value)
    {
        if (Problem(value) is { } why) throw new ArgumentOutOfRangeException(Key, value, why);
    }

    /// <summary>A real-valued setting (stored as float).</summary>
    public static ModelSetting<float> Number(string key, float defaultValue, string help, Func<float, string?>? problem = null, IReadOnlyList<string>? formerNames = null) =>
        new(key, defaultValue, help, problem ?? (v => float.IsFinite(v) ? null : $"{key} must be a finite number"),
            text => float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float f) ? f : throw new FormatException($"'{text}' is not a number"),
            v => v.ToString("R", CultureInfo.InvariantCulture),
            v => JsonValue.Create(v),
            n => n is JsonValue j && j.TryGetValue<double>(out double d) ? (float)d : throw new FormatException($"{n.ToJsonString()} is not a number"),
            formerNames);

    /// <summary>An integer setting.</summary>
    public static ModelSetting<int> Integer(string key, int defaultValue, string help, Func<int, string?>? problem = null, IReadOnlyList<string>? formerNames = null) =>
        new(key, defaultValue, help, problem ?? (_ => null),
            text => int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i) ? i : throw new FormatException($"'{text}' is not a whole number"),
            v => v.ToString(CultureInfo.InvariantCulture),
            v => JsonValue.Create(v),
            n => n is JsonValue j && j.TryGetValue<int>(out int i) ? i : throw new FormatException($"{n.ToJsonString()} is not a whole number"),
            formerNames);

    /// <summary>
    /// A setting written as text with its own grammar (e.g. a convolution stack "5p,3p,3"):
    /// <paramref name="normalize"/> checks a value and returns its one written form, throwing
    /// <see cref="FormatException"/> saying what is expected; values are stored normalised, so equal settings compare equal.
    /// </summary>
    public static ModelSetting<string> Text(string key, string defaultValue, string help, Func<string, string> normalize, IReadOnlyList<string>? formerNames = null)
    {
        ArgumentNullException.ThrowIfNull(normalize);
        return new(key, defaultValue, help,
            v => { try { return normalize(v) == v ? null : $"{key} '{v}' is not in its written form '{normalize(v)}'"; } catch (FormatException e) { return $"{key} {e.Message}"; } },
            normalize, v => v, v => JsonValue.Create(v),
            n => n is JsonValue j && j.TryGetValue<string>(out var s) ? normalize(s) : throw new FormatException($"{n.ToJsonString()} is not text"),
            formerNames);
    }

    /// <summary>
    /// A setting with named values, e.g. loss = min | max. The first spelling of each value is the one
    /// written; the others are read too (aliases, and the enum names older files used).
    /// </summary>
    public static ModelSetting<T> Choice<T>(string key, T defaultValue, string help, IReadOnlyList<(T Value, string[] Names)> choices, IReadOnlyList<string>? formerNames = null)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(choices);
        string Name(T v) => choices.FirstOrDefault(c => EqualityComparer<T>.Default.Equals(c.Value, v)).Names?[0]
            ?? throw new ArgumentOutOfRangeException(key, v, $"{v} is not one of {string.Join(", ", choices.Select(c => c.Names[0]))}");
        T Read(string text)
        {
            foreach (var (value, names) in choices)
                if (names.Contains(text.Trim(), StringComparer.OrdinalIgnoreCase)) return value;
            throw new FormatException($"'{text}' is not one of {string.Join(", ", choices.Select(c => c.Names[0]))}");
        }
        return new(key, defaultValue, help, v => choices.Any(c => EqualityComparer<T>.Default.Equals(c.Value, v)) ? null : $"{key} must be one of {string.Join(", ", choices.Select(c => c.Names[0]))}",
            Read, Name, v => JsonValue.Create(Name(v)),
            n => n is JsonValue j && j.TryGetValue<string>(out var s) ? Read(s) : throw new FormatException($"{n.ToJsonString()} is not one of {string.Join(", ", choices.Select(c => c.Names[0]))}"),
            formerNames);
    }

    /// <inheritdoc />
    public override string ToString() => Key;
}

/// <summary>A setting whose values are of type <typeparamref name="T"/>; made by <see cref="ModelSetting.Number"/>, <see cref="ModelSetting.Integer"/> or <see cref="ModelSetting.Choice"/>.</summary>
public sealed class ModelSetting<T> : ModelSetting where T : notnull
{
    private readonly Func<T, string?> _problem;
    private readonly Func<string, T> _parse;
    private readonly Func<T, string> _format;
    private readonly Func<T, JsonNode> _toJson;
    private readonly Func<JsonNode, T> _fromJson;

    internal ModelSetting(string key, T defaultValue, string help, Func<T, string?> problem, Func<string, T> parse, Func<T, string> format,
        Func<T, JsonNode> toJson, Func<JsonNode, T> fromJson, IReadOnlyList<string>? formerNames)
        : base(key, help, formerNames)
    {
        Default = defaultValue;
        _problem = problem;
        _parse = parse;
        _format = format;
        _toJson = toJson;
        _fromJson = fromJson;
        if (problem(defaultValue) is { } why) throw new ArgumentException($"The default of '{key}' is not allowed: {why}.", nameof(defaultValue));
    }

    /// <summary>The value a run uses when none is given.</summary>
    public T Default { get; }

    /// <inheritdoc />
    public override Type ValueType => typeof(T);

    /// <inheritdoc />
    public override object DefaultValue => Default;

    /// <inheritdoc />
    public override object Parse(string text) => _parse(text ?? throw new ArgumentNullException(nameof(text)));

    /// <inheritdoc />
    public override string Format(object value) => _format(Cast(value));

    /// <inheritdoc />
    public override string? Problem(object value) => value is T v ? _problem(v) : $"it must be a {typeof(T).Name}, not {value?.GetType().Name ?? "null"}";

    /// <inheritdoc />
    public override JsonNode ToJson(object value) => _toJson(Cast(value));

    /// <inheritdoc />
    public override object FromJson(JsonNode node) => _fromJson(node ?? throw new FormatException("null is not a value"));

    private T Cast(object value) => value is T v ? v : throw new ArgumentException($"Setting '{Key}' holds {typeof(T).Name} values, not {value?.GetType().Name ?? "null"}.", nameof(value));
}
