using Xunit;
using System.Text.RegularExpressions;

namespace FFLib.Tests;

/// <summary>The README's C# is real code: every ```csharp block is, verbatim, a file under examples/ (which the solution builds and CI runs).</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void EveryCSharpBlockIsAnExampleFile()
    {
        string root = TestUtil.RepoRoot();
        // The README and the packages' PACKAGE.md.
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n") + "\n" + File.ReadAllText(Path.Combine(root, "PACKAGE.md")).ReplaceLineEndings("\n");
        var blocks = Regex.Matches(readme, "```csharp\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value.TrimEnd()).ToArray();
        Assert.NotEmpty(blocks);
        var files = Directory.GetFiles(Path.Combine(root, "examples"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToDictionary(f => Path.GetRelativePath(root, f), f => File.ReadAllText(f).ReplaceLineEndings("\n").TrimEnd());
        foreach (var block in blocks)
            Assert.True(files.ContainsValue(block), $"This README block is not the content of any file under examples/ (the examples are what CI compiles):\n{block[..Math.Min(200, block.Length)]}…");
        // And every example project is in the solution, so it is built with the tests.
        string solution = File.ReadAllText(Path.Combine(root, "FFLib.slnx"));
        foreach (var project in Directory.GetFiles(Path.Combine(root, "examples"), "*.csproj", SearchOption.AllDirectories))
            Assert.Contains(Path.GetRelativePath(root, project).Replace('\\', '/'), solution);
    }
}
