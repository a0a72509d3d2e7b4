using System.Globalization;
using System.Text.Json.Nodes;
using FFLib.Compute;
using FFLib.Layers;
using FFLib.Models;

namespace FFLib.IO.Torch;

/// <summary>A model read from the original PyTorch FFLib's file, as one of ours, and what the file said about it.</summary>
/// <param name="Model">Our model with the file's weights.</param>
/// <param name="Settings">The settings read from the file (widths, θ, loss direction, learning rates, the FFRNN's β and K).</param>
/// <param name="SourceClass">The original's class ("fflib.nn.ff_net.FFNet", "__main__.BPDenseNet", …).</param>
/// <param name="Training">run.json-style facts of the file: epochs trained, its own test accuracy, the date it was saved.</param>
public sealed record ImportedModel(IClassifierModel Model, ModelSettings Settings, string SourceClass, JsonObject Training);

/// <summary>
/// <c>fflib import</c>: a model saved by the original PyTorch FFLib (its suites' <c>save</c>: a torch file holding a dict
/// whose "net" is the whole module) turned into ours. FFNet → ffnn, FFC → ffc, FFRNN → ffrnn; any other network whose
/// weights are a chain of <c>nn.Linear</c> layers (the original's BPNN is a class of the training script) → bpnn. The
/// file's tensors are copied into our model's named parameters in order, each checked against the shape ours expects.
/// </summary>
public static class OriginalModelImport
{
    /// <summary>Reads <paramref name="path"/> and builds our model from it.</summary>
    /// <exception cref="InvalidDataException">The file is not a torch file, or holds no network this importer knows (the message says what it found).</exception>
    public static ImportedModel Import(string path)
    {
        var top = TorchFile.Read(path);
        var dict = top as Dictionary<object, object?> ?? throw new InvalidDataException($"{path} holds a {Describe(top)}, not the dict an FFLib suite saves (with \"net\").");
        var net = (dict.TryGetValue("net", out var n) ? n : null) as PyObject
            ?? throw new InvalidDataException($"{path} has no \"net\" entry holding a network (keys: {string.Join(", ", dict.Keys)}).");
        var training = new JsonObject { ["imported_from"] = Path.GetFullPath(path), ["original_class"] = net.Type.FullName };
        if (dict.TryGetValue("current_epoch", out var e) && e is long epochs) training["epochs"] = epochs;
        if (dict.TryGetValue("test_accuracy", out var a) && a is double acc) training["original_test_accuracy"] = acc;
        if (dict.TryGetValue("date", out var d) && d is string date) training["original_date"] = date;

        var (arch, settings, tensors, classes) = net.Type.Name switch
        {
            "FFNet" => FromFFNet(path, net),
            "FFC" => FromFfc(path, net),
            "FFRNN" => FromFfrnn(path, net),
            _ => FromLinearChain(path, net),
        };
        int imageFeatures = tensors[0].Shape[1] - (arch == Architecture.Ffrnn || arch == Architecture.Bpnn ? 0 : classes);
        var model = arch.Create(settings, imageFeatures, classes, new FFRandom(0));
        var parameters = model.Parameters().Where(p => p.Trainable).ToArray();
        if (parameters.Length != tensors.Count)
            throw new InvalidDataException($"{path}: the {net.Type.Name} has {tensors.Count} weight tensors but our {arch.Id} of the same widths has {parameters.Length}.");
        for (int i = 0; i < parameters.Length; i++)
        {
            if (!parameters[i].Shape.SequenceEqual(tensors[i].Shape))
                throw new InvalidDataException($"{path}: tensor {i + 1} of the {net.Type.Name} is {tensors[i].ShapeText} but our {arch.Id}'s {parameters[i].Name} is {parameters[i].ShapeText}.");
            tensors[i].Values.CopyTo(parameters[i].Data, 0);
        }
        return new ImportedModel(model, settings, net.Type.FullName, training);
    }

    private static string Describe(object? o) => o switch { null => "None", PyObject p => p.Type.FullName, _ => o.GetType().Name };

    private static TorchTensor Param(string path, PyObject module, string name) =>
        (module["_parameters"] as Dictionary<object, object?>)?.GetValueOrDefault(name) as TorchTensor
        ?? throw new InvalidDataException($"{path}: the {module.Type.Name} has no parameter '{name}'.");

    private static double Number(string path, PyObject o, string name) => o[name] switch
    {
        double v => v,
        long l => l,
        _ => throw new InvalidDataException($"{path}: the {o.Type.Name} has no number '{name}'."),
    };

    private static bool Flag(PyObject o, string name, bool otherwise) => o[name] is bool b ? b : otherwise;

    private static List<PyObject> Layers(string path, PyObject net) =>
        (net["layers"] as List<object?>)?.Cast<PyObject>().ToList() ?? throw new InvalidDataException($"{path}: the {net.Type.Name} has no list of layers.");

    /// <summary>θ, the loss direction and the learning rate of the FF layers (the first layer's; the original gives every layer its own).</summary>
    private static ModelSettings FFSettingsOf(string path, PyObject net, PyObject first, int[] widths) =>
        new ModelSettings { HiddenSizes = widths, LearningRate = (float)Number(path, first, "lr") }
            .With(FFSettings.Threshold, (float)Number(path, first, "loss_threshold"))
            .With(FFSettings.Loss, Flag(net, "maximize", true) ? LossDirection.Maximize : LossDirection.Minimize);

    private static (Architecture, ModelSettings, List<TorchTensor>, int) FromFFNet(string path, PyObject net)
    {
        var layers = Layers(path, net);
        if (layers.Count == 0) throw new InvalidDataException($"{path}: the FFNet has no layers.");
        var tensors = layers.SelectMany(l => new[] { Param(path, l, "weight"), Param(path, l, "bias") }).ToList();
        var settings = FFSettingsOf(path, net, layers[0], layers.Select(l => Param(path, l, "weight").Shape[0]).ToArray());
        // The FFNet records no class count: the original's one-hot labels are always 10 wide.
        return (Architecture.Ffnn, settings, tensors, 10);
    }

    private static (Architecture, ModelSettings, List<TorchTensor>, int) FromFfc(string path, PyObject net)
    {
        var layers = Layers(path, net);
        var classifier = net["classifier"] as PyObject ?? (net["_modules"] as Dictionary<object, object?>)?.GetValueOrDefault("classifier") as PyObject
            ?? throw new InvalidDataException($"{path}: the FFC has no classifier.");
        var tensors = layers.SelectMany(l => new[] { Param(path, l, "weight"), Param(path, l, "bias") }).ToList();
        var cw = Param(path, classifier, "weight");
        tensors.Add(cw);
        tensors.Add(Param(path, classifier, "bias"));
        var settings = FFSettingsOf(path, net, layers[0], layers.Select(l => Param(path, l, "weight").Shape[0]).ToArray());
        if (OptimizerLearningRate(net["optimizer"]) is double clr) settings = settings.With(FFClassifierSettings.ClassifierLearningRate, (float)clr);
        return (Architecture.Ffc, settings, tensors, cw.Shape[0]);
    }

    private static (Architecture, ModelSettings, List<TorchTensor>, int) FromFfrnn(string path, PyObject net)
    {
        // [input dummy, recurrent layers…, output dummy]; each recurrent layer: fw [width, below], bw [width, above], fb [width].
        var layers = Layers(path, net).Where(l => l.Type.Name == "FFRecurrentLayer").ToList();
        if (layers.Count == 0) throw new InvalidDataException($"{path}: the FFRNN has no recurrent layers.");
        var tensors = layers.SelectMany(l => new[] { Param(path, l, "fw"), Param(path, l, "bw"), Param(path, l, "fb") }).ToList();
        var first = layers[0];
        var settings = new ModelSettings { HiddenSizes = layers.Select(l => Param(path, l, "fb").Shape[0]).ToArray(), LearningRate = (float)Number(path, first, "lr") }
            .With(FFSettings.Threshold, (float)Number(path, first, "loss_threshold"))
            .With(FFSettings.Loss, Flag(first, "maximize", true) ? LossDirection.Maximize : LossDirection.Minimize)
            .With(FFRecurrentSettings.Beta, (float)Number(path, first, "beta"))
            .With(FFRecurrentSettings.TrainFrames, (int)Number(path, net, "K_train"))
            .With(FFRecurrentSettings.TestFrameLow, (int)Number(path, net, "K_testlow"))
            .With(FFRecurrentSettings.TestFrameHigh, (int)Number(path, net, "K_testhigh"));
        return (Architecture.Ffrnn, settings, tensors, Param(path, layers[^1], "bw").Shape[1]);
    }

    private static (Architecture, ModelSettings, List<TorchTensor>, int) FromLinearChain(string path, PyObject net)
    {
        var linears = new List<PyObject>();
        void Walk(PyObject m)
        {
            if (m.Type.FullName == "torch.nn.modules.linear.Linear") { linears.Add(m); return; }
            if (m["_modules"] is Dictionary<object, object?> children)
                foreach (var child in children.Values.OfType<PyObject>()) Walk(child);
        }
        Walk(net);
        if (linears.Count < 2)
            throw new InvalidDataException($"{path}: the network is a {net.Type.FullName}, which is none of the original's FFNet, FFC, FFRNN, and not a chain of nn.Linear layers (a BPNN); nothing to import.");
        var tensors = linears.SelectMany(l => new[] { Param(path, l, "weight"), Param(path, l, "bias") }).ToList();
        for (int i = 1; i < linears.Count; i++)
            if (Param(path, linears[i], "weight").Shape[1] != Param(path, linears[i - 1], "weight").Shape[0])
                throw new InvalidDataException($"{path}: the {net.Type.Name}'s linear layers do not chain (layer {i + 1} takes {Param(path, linears[i], "weight").Shape[1]} inputs, layer {i} gives {Param(path, linears[i - 1], "weight").Shape[0]}).");
        var settings = new ModelSettings { HiddenSizes = linears.Take(linears.Count - 1).Select(l => Param(path, l, "weight").Shape[0]).ToArray() };
        if (net["lr"] is double lr) settings = settings with { LearningRate = (float)lr };
        return (Architecture.Bpnn, settings, tensors, Param(path, linears[^1], "weight").Shape[0]);
    }

    /// <summary>An optimiser's first param group's learning rate (null when the file has no optimiser: the original's strip_down removes it).</summary>
    private static double? OptimizerLearningRate(object? optimizer) =>
        optimizer is PyObject o && o["param_groups"] is List<object?> { Count: > 0 } groups && groups[0] is Dictionary<object, object?> g && g.GetValueOrDefault("lr") is double lr ? lr : null;

    /// <summary>One line for the command line: what was read.</summary>
    public static string Summary(ImportedModel imported)
    {
        ArgumentNullException.ThrowIfNull(imported);
        var s = imported.Settings;
        var arch = imported.Model.Architecture;
        string extra = arch.Uses(FFSettings.Threshold)
            ? string.Create(CultureInfo.InvariantCulture, $", θ {s.Get(FFSettings.Threshold):G4}, loss {(s.Get(FFSettings.Loss) == LossDirection.Minimize ? "min" : "max")}")
            : "";
        return $"{imported.SourceClass} → {arch.Id}, layers {string.Join(",", s.HiddenSizes)}{extra}";
    }
}
