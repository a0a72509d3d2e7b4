using FFLib.Data;
using FFLib.Training;

namespace FFLib.Cli;

/// <summary>A command-line mistake: printed without a stack trace, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Shared command-line plumbing: error handling and option conversion.</summary>
internal static class Cli
{
    /// <summary>Exit code of a command that finished but skipped something it names on stderr.</summary>
    public const int DoneWithWarnings = 6;

    /// <summary>Exit code: the GPU failed during work (out of memory, a driver or cuBLAS error).</summary>
    public const int GpuFailed = 7;

    /// <summary>Exit code: the machine's memory cannot hold what was asked for.</summary>
    public const int OutOfMemory = 8;

    /// <summary>Runs a command body, turning expected failures into one clear message and an exit code.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UsageException e) { return Fail(e.Message, 2); }
        catch (OperationCanceledException) { return Fail($"interrupted; {Interruption.Hint}.", Interruption.ExitCode); }
        catch (DatasetNotFoundException e) { return Fail(e.Message, 3); }
        catch (InvalidDataException e) { return Fail(e.Message, 3); }
        catch (FileNotFoundException e) { return Fail(e.Message, 3); }
        catch (TrainingDivergedException e) { return Fail(e.Message, 4); }
        catch (ArgumentException e) { return Fail(Clean(e.Message), 2); }
        catch (IOException e) { return Fail(e.Message, 5); }
        catch (UnauthorizedAccessException e) { return Fail(e.Message, 5); }
        catch (Gpu.GpuFailureException e) { return Fail(e.Message, GpuFailed); }
        catch (OutOfMemoryException)
        {
            // The arrays are sized by the options: a model or batch too large for this machine's memory.
            return Fail($"not enough memory for this request ({GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 20):N0} MiB available to this process); use smaller --layers or --batch-size.", OutOfMemory);
        }
        catch (ILGPU.Runtime.Cuda.CudaException e) { return Fail($"the GPU failed: {e.Message}", GpuFailed); }
    }

    /// <summary>A library message without .NET's "(Parameter 'x')" and "Actual value was …" additions.</summary>
    internal static string Clean(string message) =>
        System.Text.RegularExpressions.Regex.Replace(message.Split('\n')[0], @" ?\(Parameter '[^']*'\)", "").Trim();

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine("error: " + InOptionTerms(message));
        return code;
    }

    /// <summary>The library names the API's properties where a message tells the user what to set; the command line says which option sets them.</summary>
    private static readonly (string Api, string Option)[] OptionOfProperty =
    [
        ("DatasetLoadOptions.DataDirectory", "--data-dir"),
        ("RunSpec.CheckpointEvery", "--checkpoint-every"),
    ];

    /// <summary>A library message with the API's property names replaced by the options that set them.</summary>
    internal static string InOptionTerms(string message)
    {
        foreach (var (api, option) in OptionOfProperty) message = message.Replace(api, option, StringComparison.Ordinal);
        return message;
    }

    /// <summary>The --device option of every command that trains or evaluates.</summary>
    public static System.CommandLine.Option<string> DeviceOption() =>
        new("--device") { Description = $"Where to compute: {Gpu.ComputeDevices.Names}.", DefaultValueFactory = _ => "cpu" };

    /// <summary>The --precision option beside every --device.</summary>
    public static System.CommandLine.Option<string> PrecisionOption() =>
        new("--precision") { Description = "The GPU's matrix products: fp32 (as on the CPU) or tf32 (tensor cores: faster, ~1e-3 relative from fp32; never the default).", DefaultValueFactory = _ => "fp32" };

    /// <summary>The backend for --device and --precision, or a one-line usage error saying why it cannot be used.</summary>
    public static Compute.ComputeBackend OpenDevice(string name, string precision = "fp32")
    {
        var p = precision.Trim().ToLowerInvariant() switch
        {
            "fp32" or "float32" => Gpu.GpuPrecision.Float32,
            "tf32" => Gpu.GpuPrecision.Tf32,
            _ => throw new UsageException($"--precision must be fp32 or tf32, not '{precision}'."),
        };
        try { return Gpu.ComputeDevices.Open(name, p); }
        catch (Gpu.GpuUnavailableException e) { throw new UsageException($"--device {name}: {e.Message}."); }
        catch (ArgumentException e) when (e.ParamName == "precision") { throw new UsageException($"--precision {precision}: {Clean(e.Message)}"); }
        catch (ArgumentException e) { throw new UsageException($"--device: {e.Message}"); }
    }

    /// <summary>The --streams option of sweep and reproduce.</summary>
    public static System.CommandLine.Option<int> StreamsOption() =>
        new("--streams") { Description = "With --device cuda: train this many runs at once on the GPU, each on a CUDA stream of its own (one run at batch 128 leaves the GPU waiting for kernel launches).", DefaultValueFactory = _ => 1 };

    /// <summary>Checks --streams before the device is opened.</summary>
    public static int CheckStreams(int streams) =>
        streams is >= 1 and <= 32 ? streams : throw new UsageException($"--streams must be between 1 and 32, not {streams}.");

    /// <summary>One backend per concurrent worker: the device, then further streams of the same GPU.</summary>
    public static IReadOnlyList<Compute.ComputeBackend> OpenStreams(Compute.ComputeBackend backend, int streams, string deviceName)
    {
        if (streams == 1) return [backend];
        if (backend is not Gpu.GpuBackend gpu)
            throw new UsageException($"--streams {streams} needs --device cuda; on --device {deviceName}, start several sweep processes on the same results folder instead (they share the runs).");
        return [gpu, .. Enumerable.Range(1, streams - 1).Select(_ => gpu.CreateStream())];
    }

    /// <summary>
    /// The output folder of a command that writes several files: --out as given (locked for this
    /// process; refused when it already holds one of <paramref name="ownFiles"/>, unless --overwrite),
    /// or a new folder runs/TIME-<paramref name="defaultName"/> of its own. Dispose the lock when done.
    /// </summary>
    public static (string Folder, IO.FolderLock Lock) ClaimOutput(string? chosen, string defaultName, bool overwrite, params string[] ownFiles)
    {
        if (chosen is null) return RunFolders.ClaimNew("runs", defaultName);
        if (File.Exists(chosen)) throw new UsageException($"--out {chosen} is a file; this command writes {string.Join(", ", ownFiles)} into a folder.");
        var held = IO.FolderLock.Acquire(chosen);
        if (!overwrite && ownFiles.FirstOrDefault(f => File.Exists(Path.Combine(chosen, f))) is string existing)
        {
            held.Dispose();
            throw new UsageException($"--out {chosen} already holds {existing}; pass --overwrite to replace it, or choose another folder.");
        }
        return (chosen, held);
    }

    /// <summary>Refuses to replace an existing file at <paramref name="path"/> (named by --out) unless --overwrite.</summary>
    public static void RefuseOverwrite(string path, bool overwrite)
    {
        if (Directory.Exists(path)) throw new UsageException($"--out {path} is a folder; this command writes one file, e.g. --out {Path.Combine(path, "out")}{Path.GetExtension(path)}.");
        if (File.Exists(path) && !overwrite) throw new UsageException($"--out {path} already exists; pass --overwrite to replace it, or choose another name.");
    }

    /// <summary>The --overwrite option of commands that write files.</summary>
    public static System.CommandLine.Option<bool> OverwriteOption() =>
        new("--overwrite") { Description = "Replace the files an earlier run of this command wrote at --out." };

    /// <summary>Loads the model a --model names (a model file or a run folder); the path read comes back with it.</summary>
    public static (string Path, IO.ModelCheckpoint.Loaded Loaded) LoadModel(string option)
    {
        string path = ModelFile(option);
        return (path, IO.ModelCheckpoint.Load(path));
    }

    /// <summary>The model file a --model names: the file itself, or a run folder's model.safetensors.</summary>
    public static string ModelFile(string path)
    {
        if (!Directory.Exists(path)) return path;
        string inside = Path.Combine(path, "model.safetensors");
        if (!File.Exists(inside)) throw new UsageException($"--model {path} is a folder without model.safetensors; pass the model file or a folder written by fflib train.");
        return inside;
    }

    public static DatasetKind ParseDataset(string id)
    {
        try { return DatasetCatalog.Parse(id); }
        catch (ArgumentException e) { throw new UsageException(e.Message.Split(" (Parameter")[0]); }
    }

    public static DatasetLoadOptions DataOptions(string? dataDir, bool noDownload) => new()
    {
        DataDirectory = dataDir,
        AllowDownload = !noDownload,
        Progress = new DownloadReporter(),
    };

    /// <summary>Plain download progress lines on stderr (one per 10%).</summary>
    private sealed class DownloadReporter : IProgress<DownloadProgress>
    {
        private string? _file;
        private int _lastDecile = -1;

        public void Report(DownloadProgress p)
        {
            if (p.File != _file) { _file = p.File; _lastDecile = -1; }
            int decile = p.TotalBytes is long t && t > 0 ? (int)(p.Bytes * 10 / t) : (int)(p.Bytes >> 23);
            if (decile == _lastDecile) return;
            _lastDecile = decile;
            string total = p.TotalBytes is long tb ? $"/{tb / 1e6:F1} MB" : " MB";
            Console.Error.WriteLine($"downloading {p.File}: {p.Bytes / 1e6:F1}{total}");
        }
    }
}
