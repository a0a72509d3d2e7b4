using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using FFLib.Compute;
using FFLib.IO;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>Everything needed to continue a run exactly where it stopped.</summary>
/// <param name="Model">The model with its optimiser state restored.</param>
/// <param name="Random">The run's random source, in the state it had after the last finished epoch (or at the interrupted batch).</param>
/// <param name="EpochsDone">Finished epochs.</param>
/// <param name="History">Their metrics.</param>
/// <param name="Spec">The run's specification.</param>
/// <param name="Partial">The epoch after them, when it was interrupted between two batches (null: none).</param>
public sealed record TrainingState(ITrainableModel Model, FFRandom Random, int EpochsDone, IReadOnlyList<EpochMetrics> History, RunSpec Spec, PartialEpoch? Partial = null);

/// <summary>
/// Resumable training checkpoints: one safetensors file (written atomically) holding the model
/// tensors (same names as a model file, so <c>fflib eval</c> reads it too), every optimiser's
/// moments under the name of the parameter they belong to ("layers.0.weight.adam_m",
/// "layers.0.weight.adam_v", in the parameter's shape; files of earlier versions named them
/// "optimizer.{i}.m.{j}" and still load) and, in the metadata, the optimisers' parameters, step
/// counts and learning rates, the random generators' states, the finished epochs with their
/// metrics and the run specification. The shuffle of the next epoch is drawn from the restored
/// generator, so a resumed run ends bit-identical to an uninterrupted one (same thread count not
/// even required: results do not depend on it).
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>File name inside a run folder.</summary>
    public const string FileName = "checkpoint.safetensors";

    internal static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = false,
    };

    /// <summary>Saves the state after <paramref name="epochsDone"/> epochs.</summary>
    /// <remarks>With <paramref name="partial"/>, the state is inside epoch <c>epochsDone + 1</c>, after <see cref="PartialEpoch.BatchesDone"/> of its batches.</remarks>
    public static void Save(string path, ITrainableModel model, FFRandom random, int epochsDone, IReadOnlyList<EpochMetrics> history, RunSpec spec,
        PartialEpoch? partial = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(random);
        // A model on a device: parameters and optimiser moments back into the host arrays first.
        (model as Modules.ComputeModule)?.SynchronizeToHost();
        var tensors = new List<NamedTensor>();
        var steps = new JsonArray();
        var rates = new JsonArray();
        var groups = new JsonArray();
        var opts = model.AllOptimizers;
        var names = StateNames(model);
        for (int i = 0; i < opts.Count; i++)
        {
            var o = opts[i];
            var group = new JsonArray();
            for (int j = 0; j < o.ParameterCount; j++)
            {
                var (name, shape) = names(i, j, o.ParameterArrays[j]);
                tensors.Add(new NamedTensor(name + ".adam_m", shape, o.FirstMoments[j]));
                tensors.Add(new NamedTensor(name + ".adam_v", shape, o.SecondMoments[j]));
                group.Add(name);
            }
            steps.Add(o.StepCount);
            rates.Add(o.Settings.LearningRate);
            groups.Add(group);
        }
        // Training state that is no parameter (a regulariser's running means), under its own name.
        if (model is Modules.Module module)
            foreach (var b in module.Buffers()) tensors.Add(new NamedTensor(b.Name, b.Shape, b.Data));
        var meta = new Dictionary<string, string>
        {
            ["checkpoint"] = "training",
            ["epochs_done"] = epochsDone.ToString(CultureInfo.InvariantCulture),
            ["optimizer_steps"] = steps.ToJsonString(),
            ["optimizer_learning_rates"] = rates.ToJsonString(),
            ["optimizer_parameters"] = groups.ToJsonString(),
            ["rng"] = StateJson(random),
            ["history"] = JsonSerializer.Serialize(history, Json),
            ["spec"] = JsonSerializer.Serialize(spec, Json),
        };
        if (model is IRandomStateOwner owner) meta["state_rng"] = StateJson(owner.StateRandom);
        if (partial is not null)
        {
            if (partial.Epoch != epochsDone + 1) throw new ArgumentException($"An interrupted epoch {partial.Epoch} cannot follow {epochsDone} finished epochs.", nameof(partial));
            if (partial.Order.Length >= 1 << 24) throw new ArgumentException("More than 2^24 training images: the epoch's order would not be exact in float32.", nameof(partial));
            meta["partial_epoch"] = new JsonObject
            {
                ["epoch"] = partial.Epoch,
                ["batches_done"] = partial.BatchesDone,
                ["loss_sums"] = new JsonArray(partial.LossSums.Select(x => (JsonNode)x.ToString("R", CultureInfo.InvariantCulture)).ToArray()),
                ["seconds"] = partial.Seconds,
            }.ToJsonString();
            // The order as float32: exact for image indices below 2^24.
            tensors.Add(new NamedTensor("trainer.order", [partial.Order.Length], partial.Order.Select(i => (float)i).ToArray()));
        }
        ModelCheckpoint.Write(path, model, TrainingRun.TrainingMetadata(spec, null), quantize: false, tensors, meta);
    }

    /// <summary>Loads a checkpoint written by <see cref="Save"/>; every inconsistency names the file.</summary>
    public static TrainingState Load(string path)
    {
        var file = SafeTensors.Read(path);
        var m = file.Metadata;
        if (!m.TryGetValue("checkpoint", out var kind) || kind != "training")
            throw new InvalidDataException($"{path}: not a training checkpoint (a model file{(m.ContainsKey(CompressedWeights.MetadataKey) ? " with compressed weights" : "")} cannot be resumed: train with RunSpec.CheckpointEvery set).");
        try
        {
            var loaded = ModelCheckpoint.Load(path, file);
            if (loaded.Model is not ITrainableModel model) throw new InvalidDataException($"{path}: the model cannot be trained.");
            var steps = JsonNode.Parse(m["optimizer_steps"])!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
            var rates = JsonNode.Parse(m["optimizer_learning_rates"])!.AsArray().Select(n => n!.GetValue<float>()).ToArray();
            var opts = model.AllOptimizers;
            if (steps.Length != opts.Count || rates.Length != opts.Count)
                throw new InvalidDataException($"{path}: {steps.Length} optimiser states for a model with {opts.Count} optimisers.");
            var names = StateNames(model);
            for (int i = 0; i < opts.Count; i++)
            {
                var o = opts[i];
                var first = new float[o.ParameterCount][];
                var second = new float[o.ParameterCount][];
                for (int j = 0; j < o.ParameterCount; j++)
                {
                    // By the parameter's name; files of earlier versions by optimiser and position.
                    string name = names(i, j, o.ParameterArrays[j]).Name;
                    bool named = file.Tensors.Any(t => t.Name == name + ".adam_m");
                    first[j] = file.Get(named ? name + ".adam_m" : $"optimizer.{i}.m.{j}").Data;
                    second[j] = file.Get(named ? name + ".adam_v" : $"optimizer.{i}.v.{j}").Data;
                }
                o.Restore(steps[i], first, second);
                o.Settings = o.Settings with { LearningRate = rates[i] };
            }
            if (model is Modules.Module module)
                foreach (var b in module.Buffers())
                {
                    // A checkpoint written before the buffer existed leaves it at its starting value.
                    if (file.Tensors.FirstOrDefault(t => t.Name == b.Name) is not { } saved) continue;
                    if (saved.Data.Length != b.Data.Length) throw new InvalidDataException($"{path}: {b.Name} holds {saved.Data.Length} values; the model needs {b.Data.Length}.");
                    saved.Data.CopyTo(b.Data, 0);
                }
            var random = new FFRandom(0);
            random.SetState(ParseState(m["rng"]));
            if (model is IRandomStateOwner owner && m.TryGetValue("state_rng", out var sr)) owner.StateRandom.SetState(ParseState(sr));
            var history = JsonSerializer.Deserialize<List<EpochMetrics>>(m["history"], Json) ?? [];
            var spec = ReadSpec(m["spec"]) ?? throw new InvalidDataException($"{path}: the run specification is empty.");
            int done = int.Parse(m["epochs_done"], CultureInfo.InvariantCulture);
            PartialEpoch? partial = null;
            if (m.TryGetValue("partial_epoch", out var pj))
            {
                var p = JsonNode.Parse(pj)!.AsObject();
                var order = file.Get("trainer.order").Data.Select(v => (int)v).ToArray();
                partial = new PartialEpoch(p["epoch"]!.GetValue<int>(), p["batches_done"]!.GetValue<int>(), order,
                    p["loss_sums"]!.AsArray().Select(x => double.Parse(x!.GetValue<string>(), CultureInfo.InvariantCulture)).ToArray(), p["seconds"]!.GetValue<double>());
                if (partial.Epoch != done + 1 || partial.BatchesDone < 0) throw new InvalidDataException($"{path}: the interrupted epoch {partial.Epoch} does not follow the {done} finished ones.");
            }
            return new TrainingState(model, random, done, history, spec, partial);
        }
        catch (Exception e) when (e is KeyNotFoundException or JsonException or FormatException or ArgumentException or NullReferenceException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: the training checkpoint is incomplete or inconsistent ({e.Message}).");
        }
    }

    /// <summary>The run specification, epochs done and batches done of an interrupted epoch (null: none) of a checkpoint file, from its header alone.</summary>
    /// <remarks>SecondsDone: the training and validation time of the epochs the checkpoint holds, plus its
    /// interrupted epoch's so far (time lost after the last checkpoint is not in it).</remarks>
    internal static (RunSpec? Spec, int? EpochsDone, int? BatchesDone, double SecondsDone) ReadHeader(string path)
    {
        IO.FileKind.RequireRegularFile(path, "Training checkpoint");
        using var fs = File.OpenRead(path);
        Span<byte> len = stackalloc byte[8];
        fs.ReadExactly(len);
        long n = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(len);
        if (n <= 0 || n > 100_000_000 || n > fs.Length - 8) throw new InvalidDataException($"{path}: not a safetensors file.");
        var header = new byte[n];
        fs.ReadExactly(header);
        var meta = JsonNode.Parse(header)?["__metadata__"];
        var spec = meta?["spec"]?.GetValue<string>() is string s ? ReadSpec(s) : null;
        int? done = int.TryParse(meta?["epochs_done"]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out int d) ? d : null;
        var partial = meta?["partial_epoch"]?.GetValue<string>() is string pj ? JsonNode.Parse(pj) : null;
        int? batches = partial?["batches_done"]?.GetValue<int>();
        double seconds = partial?["seconds"]?.GetValue<double>() ?? 0;
        if (meta?["history"]?.GetValue<string>() is string h)
            seconds += (JsonSerializer.Deserialize<List<EpochMetrics>>(h, Json) ?? []).Sum(e => e.TrainSeconds + e.ValidationSeconds);
        return (spec, done, batches, seconds);
    }

    /// <summary>
    /// The run specification, also from checkpoints written before the model settings were one
    /// record (they kept the BPNN's widths and learning rate under "Backprop", the FFRNN's dynamics
    /// under "Recurrent" and the FFNN+C's classifier rate beside them).
    /// </summary>
    internal static RunSpec? ReadSpec(string json)
    {
        if (JsonNode.Parse(json) is not JsonObject o) return null;
        if (o["Backprop"] is JsonObject || o["Recurrent"] is JsonObject || o.ContainsKey("ClassifierLearningRate"))
        {
            var old = o["Model"] as JsonObject ?? [];
            var model = new JsonObject
            {
                ["HiddenSizes"] = old["HiddenSizes"]?.DeepClone(),
                ["LearningRate"] = old["LearningRate"]?.DeepClone(),
                ["Threshold"] = old["Threshold"]?.DeepClone(),
                ["Loss"] = old["Loss"]?.DeepClone(),
            };
            if (string.Equals(o["Architecture"]?.GetValue<string>(), "bpnn", StringComparison.OrdinalIgnoreCase) && o["Backprop"] is JsonObject bp)
            {
                model["HiddenSizes"] = bp["HiddenSizes"]?.DeepClone();
                model["LearningRate"] = bp["LearningRate"]?.DeepClone();
            }
            if (o["Recurrent"] is JsonObject rec)
                foreach (var key in new[] { "Beta", "TrainFrames", "TestFrameLow", "TestFrameHigh" })
                    if (rec[key] is { } v) model[key] = v.DeepClone();
            if (o["ClassifierLearningRate"] is { } clr) model["ClassifierLearningRate"] = clr.DeepClone();
            foreach (var key in new[] { "Backprop", "Recurrent", "ClassifierLearningRate" }) o.Remove(key);
            o["Model"] = model;
        }
        return o.Deserialize<RunSpec>(Json);
    }

    /// <summary>
    /// The name (and shape) optimiser state is saved under: the model parameter whose live array the
    /// optimiser updates; an array that is no parameter of the model (a model keeping state of its
    /// own) keeps the positional name "optimizer.{i}.{j}".
    /// </summary>
    private static Func<int, int, float[], (string Name, int[] Shape)> StateNames(ITrainableModel model)
    {
        var byArray = new Dictionary<float[], Modules.Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var p in model.Parameters()) byArray.TryAdd(p.Data, p);
        return (i, j, array) => byArray.TryGetValue(array, out var p) ? (p.Name, p.Shape) : ($"optimizer.{i}.{j}", [array.Length]);
    }

    private static string StateJson(FFRandom r) => new JsonArray(r.GetState().Select(x => (JsonNode)x.ToString(CultureInfo.InvariantCulture)).ToArray()).ToJsonString();

    private static ulong[] ParseState(string json) =>
        JsonNode.Parse(json)!.AsArray().Select(n => ulong.Parse(n!.GetValue<string>(), CultureInfo.InvariantCulture)).ToArray();
}
