using System.Text.Json.Nodes;
using Xunit;

namespace FFLib.Tests;

internal static class TestUtil
{
    /// <summary>The repository's root: the folder above the test binaries that holds FFLib.slnx.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FFLib.slnx"))) return dir.FullName;
        throw new InvalidOperationException("FFLib.slnx not found above the test binaries.");
    }

    /// <summary>A rows × cols matrix of uniform [0, 1) values drawn from <paramref name="r"/> in row-major order.</summary>
    public static Compute.Matrix RandomMatrix(int rows, int cols, Compute.FFRandom r)
    {
        var m = new Compute.Matrix(rows, cols);
        for (int i = 0; i < m.Length; i++) m.Data[i] = r.NextSingle();
        return m;
    }

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static JsonNode LoadJson(string name) => JsonNode.Parse(File.ReadAllText(Fixture(name)))!;

    public static float[] Floats(JsonNode? node) =>
        node is JsonArray a
            ? a.SelectMany(x => x is JsonArray ? Floats(x) : [(float)x!.GetValue<double>()]).ToArray()
            : [(float)node!.GetValue<double>()];

    public static int[] Ints(JsonNode? node) => node!.AsArray().Select(x => x!.GetValue<int>()).ToArray();

    /// <summary>
    /// Relative closeness: every |a−e| ≤ rtol·(|e| + 0.1·max|e|). The second term keeps entries
    /// that are tiny next to the rest of the tensor from demanding more precision than float32 has.
    /// </summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        double maxAbs = 0;
        foreach (var e in expected) maxAbs = Math.Max(maxAbs, Math.Abs(e));
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]) / (Math.Abs(expected[i]) + 0.1 * maxAbs + 1e-30);
            if (err > worst) { worst = err; worstAt = i; }
        }
        Assert.True(worst <= rtol, $"{what}: relative error {worst:E2} at [{worstAt}] (got {(worstAt >= 0 ? actual[worstAt] : 0)}, expected {(worstAt >= 0 ? expected[worstAt] : 0)}), allowed {rtol:E0}");
    }
}
