using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.Models;
using FFLib.Training;

namespace FFLib.Experiments;

/// <summary>
/// This machine's training speed, measured: seconds per weight × image of an FFNN training epoch
/// (a 784-2000-2000 network trained on 1,024 synthetic images, fastest of three, after a warm-up),
/// or as the last real training run on this machine showed it; the unit
/// <see cref="Reproduction.EstimateSeconds(IEnumerable{RunSpec}, SpeedCalibration?)"/> scales by.
/// </summary>
/// <param name="SecondsPerWeightImage">Training seconds per weight per image.</param>
/// <param name="Threads">Compute threads it was measured with.</param>
/// <param name="Simd">The SIMD path it ran on.</param>
/// <param name="MeasuredUtc">When.</param>
public sealed record SpeedCalibration(double SecondsPerWeightImage, int Threads, string Simd, DateTime MeasuredUtc)
{
    /// <summary>How many times slower than the 2-core AVX-512 machine the cost model was written on (below 1: faster).</summary>
    public double RelativeToReference => SecondsPerWeightImage / MachineSpeed.ReferenceSecondsPerWeightImage;
}

/// <summary>Measures (about a second) and caches this machine's <see cref="SpeedCalibration"/>, so that time estimates come from the machine they are printed on.</summary>
public static class MachineSpeed
{
    /// <summary>The cost model's unit as measured on its reference machine (2 cores, AVX-512): an FFNN 2×2000 epoch in 5.8 s.</summary>
    public const double ReferenceSecondsPerWeightImage = 2.0e-11;

    /// <summary>A cached measurement is trusted this long.</summary>
    public static TimeSpan CacheLifetime { get; } = TimeSpan.FromDays(1);

    private static (SpeedCalibration Speed, string File)? s_current;

    /// <summary>
    /// The calibration for the current <see cref="ComputeSettings.Threads"/>: from this process, else from
    /// the cache file (speed.json in the FFLib cache folder) when it was measured for this machine,
    /// thread count, SIMD path and library version within <see cref="CacheLifetime"/>, else measured now and cached.
    /// </summary>
    public static SpeedCalibration Current(string? cacheRoot = null)
    {
        string file = Path.Combine(cacheRoot ?? DatasetLocator.DefaultCacheRoot(), "speed.json");
        if (s_current is var (c, f) && f == file && c.Threads == ComputeSettings.Threads && c.Simd == ComputeSettings.SimdPath) return c;
        string key = CacheKey;
        var cached = Read(file, key);
        if (cached is not null) { s_current = (cached, file); return cached; }
        var measured = Measure();
        Store(file, key, measured);
        return measured;
    }

    /// <summary>
    /// Records the speed a real training run showed (seconds per weight × image of its training
    /// epochs, divided by its architecture's relative cost): it replaces the cached measurement, so
    /// the next estimate comes from what this machine did, not from a one-second sample of it.
    /// </summary>
    public static void Observe(double secondsPerWeightImage, string? cacheRoot = null)
    {
        if (!(secondsPerWeightImage > 0 && double.IsFinite(secondsPerWeightImage))) return;
        // A run 10× off the reference machine in either direction says more about the run (another
        // job sharing the cores, an architecture whose relative cost is misjudged) than about the
        // machine: kept for a day, it would make every estimate absurd. Such a run is not recorded.
        if (secondsPerWeightImage > 10 * ReferenceSecondsPerWeightImage || secondsPerWeightImage < ReferenceSecondsPerWeightImage / 10) return;
        string file = Path.Combine(cacheRoot ?? DatasetLocator.DefaultCacheRoot(), "speed.json");
        Store(file, CacheKey, new SpeedCalibration(secondsPerWeightImage, ComputeSettings.Threads, ComputeSettings.SimdPath, DateTime.UtcNow));
    }

    private static void Store(string file, string key, SpeedCalibration speed)
    {
        s_current = (speed, file);
        try
        {
            var root = (File.Exists(file) && new FileInfo(file).Length < 1 << 20 ? TryParse(file) : null) ?? [];
            root[key] = new JsonObject
            {
                ["seconds_per_weight_image"] = speed.SecondsPerWeightImage,
                ["measured_utc"] = speed.MeasuredUtc.ToString("o", CultureInfo.InvariantCulture),
            };
            AtomicFile.WriteAllText(file, root.ToJsonString() + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // a read-only cache only costs a measurement next time
    }

    /// <summary>What a cached measurement must match: machine, cores, threads, SIMD path, library version.</summary>
    internal static string CacheKey => $"{Environment.MachineName}|{Environment.ProcessorCount}|{ComputeSettings.Threads}|{ComputeSettings.SimdPath}|{ModelCheckpoint.LibraryVersion}";

    /// <summary>
    /// Measures now (about a second on a 2-core machine): a warm-up epoch, then the fastest of three
    /// timed epochs of 1,024 images (the fastest: other work on the machine only ever slows one down).
    /// </summary>
    public static SpeedCalibration Measure()
    {
        const int features = 784, images = 1024;
        int[] widths = [2000, 2000];
        var random = new FFRandom(1);
        var pixels = new byte[images * features];
        var labels = new byte[images];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)random.NextInt(256);
        for (int i = 0; i < images; i++) labels[i] = (byte)(i % 10);
        var data = new ImageDataset("calibration", images, features, 10, pixels, labels);
        var model = Architecture.Ffnn.Create(new ModelSettings { HiddenSizes = widths }, features, 10, random);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 128, ValidateEachEpoch = false };
        new Trainer().Train(model, data.Take(384), null, options, random); // compiles and warms the kernels
        double seconds = double.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var sw = Stopwatch.StartNew();
            new Trainer().Train(model, data, null, options, random);
            seconds = Math.Min(seconds, sw.Elapsed.TotalSeconds);
        }
        double weights = (double)features * widths[0] + (double)widths[0] * widths[1];
        return new SpeedCalibration(seconds / (weights * images), ComputeSettings.Threads, ComputeSettings.SimdPath, DateTime.UtcNow);
    }

    private static SpeedCalibration? Read(string file, string key)
    {
        if (!File.Exists(file) || new FileInfo(file).Length >= 1 << 20) return null;
        if (TryParse(file)?[key] is not JsonObject entry) return null;
        if (entry["seconds_per_weight_image"] is not JsonValue v || !v.TryGetValue<double>(out double s) || !(s > 0 && double.IsFinite(s))) return null;
        if (!DateTime.TryParse(entry["measured_utc"]?.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at)) return null;
        at = at.ToUniversalTime();
        if (at > DateTime.UtcNow || DateTime.UtcNow - at > CacheLifetime) return null;
        return new SpeedCalibration(s, ComputeSettings.Threads, ComputeSettings.SimdPath, at);
    }

    private static JsonObject? TryParse(string file)
    {
        try { return JsonNode.Parse(File.ReadAllText(file)) as JsonObject; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or ArgumentException) { return null; }
    }
}
