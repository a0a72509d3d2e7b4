using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;
using FFLib.Modules;
using FFLib.Training;

namespace FFLib.ModelCompression;

/// <summary>
/// Training under a constraint that is restored between steps (trained quantisation's tied codebooks,
/// low-rank fine-tuning's rank): the model takes its own ordinary steps, and before every batch and once at
/// the end <c>restore</c> puts its weights back on the constraint. The restoring reads and writes the host
/// values, so the model must be on the CPU backend.
/// </summary>
internal static class ConstrainedTraining
{
    /// <summary>Checks the arguments every constrained fine-tuning shares (method names the kind in the messages).</summary>
    public static void Check(ITrainableModel model, ImageDataset data, TrainingOptions options, FFRandom random, string method)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        if (model is ComputeModule { Backend: var be } && be != ComputeBackend.Cpu)
            throw new ArgumentException($"{method} runs on the CPU backend; the model is on {be.Name}.", nameof(model));
    }

    /// <summary>Trains for the options' epochs (no validation), restoring the constraint before every batch and at the end.</summary>
    public static void Train(ITrainableModel model, ImageDataset data, TrainingOptions options, FFRandom random, Action restore, CancellationToken cancellationToken)
    {
        var trainer = new Trainer { BeforeBatch = _ => restore() };
        trainer.Train(model, data, null, options with { ValidateEachEpoch = false }, random, cancellationToken);
        restore();
    }
}
