using Xunit;

namespace FFLib.Tests;

/// <summary><c>fflib compress</c> end to end on a small model, and its refusals.</summary>
public sealed class CompressCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-compress-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => CliTestsAccess.Run(args);

    private (string Data, string Run) Trained()
    {
        string data = SweepClusterTests.SyntheticMnist(Path.Combine(_dir, "data"), 600, 100);
        string run = Path.Combine(_dir, "run");
        var (code, _, err) = Run("train", "--layers", "16,12", "--epochs", "2", "--data-dir", data, "--no-download", "--out", run);
        Assert.True(code == 0, err);
        return (data, run);
    }

    [Fact]
    public void CompressWritesEveryModelsSizesAndAFrontierAndItsFilesLoadElsewhere()
    {
        var (data, run) = Trained();
        string outDir = Path.Combine(_dir, "c");
        var (code, stdout, err) = Run("compress", "--model", run, "--keep", "8", "--formats", "fp32,int4,kmeans4", "--ranks", "0,4", "--finetune-epochs", "1", "--finetune-lr", "0.001",
            "--codebook-finetune-epochs", "1", "--data-dir", data, "--no-download", "--out", outDir, "--save-models");
        Assert.True(code == 0, err);
        Assert.Contains("[14/14]", err); // 12 chains, and kmeans4 trained at both kept counts
        Assert.Contains("frontier", stdout);
        var lines = File.ReadAllLines(Path.Combine(outDir, "compress.csv"));
        Assert.Equal(15, lines.Length);
        Assert.Contains(lines, l => l.Contains("\"prune-random keep 8 → finetune 1 → kmeans4 → trained 1\""));
        Assert.Contains(lines, l => l.Contains("\"prune-random keep 8 → finetune 1 → lowrank 4 → kmeans4\""));
        Assert.Contains(lines, l => l.Contains("\"lowrank 4 → int4\""));
        Assert.True(new FileInfo(Path.Combine(outDir, "compress.png")).Length > 10_000);
        // A compressed file is an ordinary model to every other command; it cannot be trained on.
        string coded = Path.Combine(outDir, "models", "keep8-int4.rans.safetensors");
        Assert.True(File.Exists(coded), string.Join(", ", Directory.GetFiles(Path.Combine(outDir, "models"))));
        (code, _, err) = Run("eval", "--model", coded, "--data-dir", data, "--no-download");
        Assert.True(code == 0, err);
        (code, _, err) = Run("train", "--resume", coded);
        Assert.Equal(3, code);
        Assert.Contains("with compressed weights cannot be resumed", err);
        // Two result sets on one figure, with the published reference point.
        string png = Path.Combine(_dir, "both.png");
        (code, stdout, err) = Run("compress-compare", "--results", $"{outDir},{Path.Combine(outDir, "compress.csv")}", "--labels", "a,b", "--reference", "deep-compression", "--out", png);
        Assert.True(code == 0, err);
        Assert.True(new FileInfo(png).Length > 10_000);
        Assert.Contains("b:", stdout);
        string broken = Path.Combine(_dir, "broken.csv");
        File.WriteAllLines(broken, File.ReadAllLines(Path.Combine(outDir, "compress.csv")).Select((l, i) => i == 2 ? l.Replace(",", ",x", StringComparison.Ordinal) : l));
        (code, _, err) = Run("compress-compare", "--results", broken, "--out", Path.Combine(_dir, "broken.png"));
        Assert.Equal(3, code);
        Assert.Contains("line 3 is malformed", err);
        // The same folder again is refused, not overwritten.
        (code, _, err) = Run("compress", "--model", run, "--keep", "8", "--formats", "int8", "--data-dir", data, "--no-download", "--out", outDir);
        Assert.Equal(2, code);
        Assert.Contains("--overwrite", err);
    }

    [Fact]
    public void FlashNamesTheMostAccurateStoredModelWhoseCFits()
    {
        var (data, run) = Trained();
        string outDir = Path.Combine(_dir, "flash");
        // 16×794 + 12×16 + 10-label columns: float32 C holds ~52 KB of constants, 4-bit codes ~7 KB.
        var (code, stdout, err) = Run("compress", "--model", run, "--keep", "8", "--formats", "fp32,int4", "--data-dir", data, "--no-download", "--out", outDir, "--flash", "16K");
        Assert.True(code == 0, err);
        Assert.Contains("flash budget 16K (16,384 bytes)", stdout);
        var listed = stdout.Split('\n').Where(l => l.StartsWith("fp32 ", StringComparison.Ordinal) || l.StartsWith("int4 ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, listed.Length);
        Assert.EndsWith("no", listed.Single(l => l.StartsWith("fp32", StringComparison.Ordinal)).TrimEnd());
        Assert.Contains("yes", listed.Single(l => l.StartsWith("int4", StringComparison.Ordinal)));
        Assert.Matches("most accurate (model that fits|model whose C constants fit) 16K: ", stdout);
        Assert.False(Directory.Exists(Path.Combine(outDir, "models"))); // measured, then removed without --save-models
        (code, _, err) = Run("compress", "--model", run, "--formats", "int4", "--data-dir", data, "--no-download", "--out", Path.Combine(_dir, "flash2"), "--flash", "lots");
        Assert.Equal(2, code);
        Assert.Contains("--flash must be a size like 256K", err);
    }

    [Fact]
    public void BadFormatsAndCountsAreOneLineNamingTheOptionAndWriteNothing()
    {
        var (data, run) = Trained();
        string outDir = Path.Combine(_dir, "bad");
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--formats", "int9"], "--formats 'int9': uniform quantisation takes 2 to 8 bits"),
            (["--formats", "int0"], "--formats 'int0'"),
            (["--formats", "kmeans1"], "--formats 'kmeans1': a codebook holds 2 to 256 values"),
            (["--formats", "fp16"], "--formats 'fp16' is not a weight format"),
            (["--formats", "kmeans256"], "--formats kmeans256: a codebook of 256 values is larger than layers.1.weight"),
            (["--keep", "20"], "--keep 20 exceeds the widest hidden layer"),
            (["--ranks", "0,17"], "--ranks 17 is larger than every weight matrix of"),
            (["--ranks", "-4"], "--ranks must list whole numbers (0 = matrices whole), not '-4'"),
            (["--finetune-epochs", "-1"], "--finetune-epochs must be 0 or more, not -1"),
            (["--finetune-lr", "0"], "--finetune-lr must be a positive number, not 0"),
            (["--prune-rounds", "3"], "--prune-rounds 3 needs --finetune-epochs"),
            (["--prune-rounds", "0"], "--prune-rounds must be at least 1, not 0"),
            (["--codebook-finetune-epochs", "-2"], "--codebook-finetune-epochs must be 0 or more, not -2"),
            (["--codebook-finetune-epochs", "1", "--formats", "int8"], "--codebook-finetune-epochs trains codebooks, but --formats int8 has no codebook format"),
        })
        {
            var (code, _, err) = Run(["compress", "--model", run, "--data-dir", data, "--no-download", "--out", outDir, .. args]);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}: {err}");
            Assert.Contains(expected, err);
            Assert.Single(err.Trim().Split('\n'));
            Assert.False(Directory.Exists(outDir), string.Join(' ', args));
        }
    }
}
