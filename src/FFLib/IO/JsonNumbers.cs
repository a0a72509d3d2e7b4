using System.Text.Json.Nodes;

namespace FFLib.IO;

/// <summary>JSON has no NaN or infinity: records written by the library carry null in their place instead of failing to write.</summary>
internal static class JsonNumbers
{
    /// <summary>Replaces every non-finite float or double in <paramref name="node"/> (in place) by null; returns the node.</summary>
    public static T Finite<T>(T node) where T : JsonNode
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(p => p.Key).ToArray())
                    if (o[key] is { } child && IsNonFinite(child)) o[key] = null; else if (o[key] is { } c) Finite(c);
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                    if (a[i] is { } child && IsNonFinite(child)) a[i] = null; else if (a[i] is { } c) Finite(c);
                break;
        }
        return node;
    }

    private static bool IsNonFinite(JsonNode node) =>
        node is JsonValue v && ((v.TryGetValue<double>(out var d) && !double.IsFinite(d)) || (v.TryGetValue<float>(out var f) && !float.IsFinite(f)));

    /// <summary>
    /// Walks every object and array of a parsed tree, so that what JsonNode defers (a repeated key
    /// throws ArgumentException when its object is first read) happens inside the caller's error handling.
    /// </summary>
    public static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o: foreach (var (_, child) in o) Materialize(child); break;
            case JsonArray a: foreach (var child in a) Materialize(child); break;
        }
    }
}
