using System.Diagnostics;
using FFLib.Compute;
using FFLib.Data;
using FFLib.Models;

namespace FFLib.Training;

/// <summary>
/// The training loop for every architecture: per epoch a fresh shuffle from the run's random
/// source, batches of images with their labels and one uniformly drawn wrong label each (the FF
/// negative data; drawn in every phase so the random stream does not depend on the model), the
/// model's step for the epoch's phase, then validation accuracy.
/// </summary>
public sealed class Trainer
{
    /// <summary>Reported after every batch.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Called after every epoch.</summary>
    public Action<EpochMetrics>? EpochCompleted { get; init; }

    /// <summary>Called before every epoch, e.g. for a learning-rate schedule.</summary>
    public Action<EpochStart>? BeforeEpoch { get; init; }

    /// <summary>Called before every batch.</summary>
    public Action<BatchStart>? BeforeBatch { get; init; }

    /// <summary>
    /// Called when cancellation stops training between two batches, just before the
    /// <see cref="OperationCanceledException"/>, with where the epoch stood: to checkpoint it and
    /// continue later with <see cref="Train(ITrainableModel, ImageDataset, ImageDataset?, TrainingOptions, FFRandom, PartialEpoch, CancellationToken)"/>.
    /// </summary>
    public Action<PartialEpoch>? Interrupted { get; init; }

    /// <summary>Asked before every batch (after the first of the run) whether to take a snapshot now; when it says yes, <see cref="Snapshot"/> gets where the epoch stands.</summary>
    public Func<bool>? SnapshotDue { get; init; }

    /// <summary>Receives the state between two batches when <see cref="SnapshotDue"/> asks for it (e.g. a time-based checkpoint).</summary>
    public Action<PartialEpoch>? Snapshot { get; init; }

    /// <summary>Whether the training set is kept on the model's backend (null: where the backend is not host memory). Tests set it to compare both paths.</summary>
    internal bool? ResidentData { get; init; }

    /// <summary>The label scorer hard negatives use: the model itself (FFNN, FFRNN) or the FFNN+C stack.</summary>
    internal static ILabelScorer? HardNegativeScorer(ITrainableModel model) => model switch
    {
        ILabelScorer s => s,
        ILabelScorerSource source => source.LabelScorer,
        _ => null,
    };

    /// <summary>
    /// Trains <paramref name="model"/> in place for <see cref="TrainingOptions.Epochs"/> epochs as
    /// planned by <see cref="ITrainableModel.PlanEpochs"/>. <paramref name="random"/> drives the
    /// shuffles and negative labels; the same seed, data and thread count give bit-identical weights.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Train(ITrainableModel model, ImageDataset train, ImageDataset? validation,
        TrainingOptions options, FFRandom random, CancellationToken cancellationToken = default) =>
        Train(model, train, validation, options, random, startEpoch: 1, cancellationToken);

    /// <summary>
    /// As <see cref="Train(ITrainableModel, ImageDataset, ImageDataset?, TrainingOptions, FFRandom, CancellationToken)"/>,
    /// starting at epoch <paramref name="startEpoch"/> (1-based) of the planned run: for resuming from a
    /// <see cref="TrainingCheckpoint"/> whose random source and model are in their post-epoch state.
    /// Returns the metrics of the epochs run now.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Train(ITrainableModel model, ImageDataset train, ImageDataset? validation,
        TrainingOptions options, FFRandom random, int startEpoch, CancellationToken cancellationToken = default) =>
        Run(model, train, validation, options, random, startEpoch, null, cancellationToken);

    /// <summary>
    /// Continues an epoch that <see cref="Interrupted"/> reported, the model, optimisers and random
    /// source restored to that moment: the rest of its batches in the same order, then the later
    /// epochs. Ends bit-identical to an uninterrupted run.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Train(ITrainableModel model, ImageDataset train, ImageDataset? validation,
        TrainingOptions options, FFRandom random, PartialEpoch resume, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resume);
        return Run(model, train, validation, options, random, resume.Epoch, resume, cancellationToken);
    }

    private IReadOnlyList<EpochMetrics> Run(ITrainableModel model, ImageDataset train, ImageDataset? validation,
        TrainingOptions options, FFRandom random, int startEpoch, PartialEpoch? resume, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        BuildCheck.WarnIfUnoptimised();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        options.Validate();
        if (train.Features != model.ImageFeatures)
            throw new ArgumentException($"{train.Name} has {train.Features} features per image but the model expects {model.ImageFeatures}.", nameof(train));
        if (train.Classes != model.Classes)
            throw new ArgumentException($"{train.Name} has {train.Classes} classes but the model has {model.Classes}.", nameof(train));
        if (train.Count == 0) throw new ArgumentException($"{train.Name} is empty.", nameof(train));

        int n = train.Count, bs = options.BatchSize, batches = (n + bs - 1) / bs;
        var plan = model.PlanEpochs(options.Epochs);
        var order = new int[n];
        var images = new Matrix(bs, model.ImageFeatures);
        Matrix? tail = null;
        var labels = new int[bs];
        var negatives = new int[bs];
        if (options.GivenNegatives is { } givenNegatives && givenNegatives.Count != n)
            throw new ArgumentException($"GivenNegatives has {givenNegatives.Count} labels for {n} training images.", nameof(options));
        if (options.GivenNegatives?.FirstOrDefault(v => (uint)v >= (uint)model.Classes, 0) is int badNegative and not 0)
            throw new ArgumentException($"GivenNegatives holds label {badNegative}, not one of the {model.Classes} classes.", nameof(options));
        if (options.RankedNegatives is { } ranked)
        {
            if (ranked.Classes != model.Classes) throw new ArgumentException($"RankedNegatives ranks {ranked.Classes} classes; the model has {model.Classes}.", nameof(options));
            ranked.Validate(n);
        }
        if (options.Negatives is NegativeMode.Hard or NegativeMode.HardSampled && HardNegativeScorer(model) is null)
            throw new ArgumentException($"{options.Negatives} negatives need a model that scores labels (FFNN, FFNN+C, FFRNN); {model.Architecture.DisplayName} does not.", nameof(options));
        var history = new List<EpochMetrics>();
        long seen = (long)(startEpoch - 1) * n;
        if (startEpoch < 1) throw new ArgumentOutOfRangeException(nameof(startEpoch), startEpoch, "startEpoch is 1-based.");
        if (resume is not null && (resume.Epoch > plan.Count || resume.Order.Length != n || (uint)resume.BatchesDone > (uint)batches))
            throw new ArgumentException($"The interrupted epoch (epoch {resume.Epoch}, {resume.BatchesDone} batches, {resume.Order.Length} images) does not belong to this run ({plan.Count} epochs of {batches} batches over {n} images).", nameof(resume));
        var feed = new BatchFeed(model, train, bs, options.Negatives, ResidentData);
        // The schedule runs over each phase's own steps (an FFNN+C's FF epochs, then its classifier's).
        var (epochInPhase, phaseEpochs) = PhasePositions(plan);
        var optimizers = model.AllOptimizers;
        var total = Stopwatch.StartNew();
        try
        {
            for (int epoch = startEpoch; epoch <= plan.Count; epoch++)
            {
                var phase = plan[epoch - 1];
                BeforeEpoch?.Invoke(new EpochStart(epoch, plan.Count, phase, model));
                var names = model.LossNames(phase);
                int layers = names.Count;
                var sw = Stopwatch.StartNew();
                var lossSums = new double[layers];
                int firstBatch = 0;
                double earlierSeconds = 0;
                if (resume is not null && epoch == resume.Epoch)
                {
                    // The interrupted epoch: its order and loss sums as they were; the random source already is.
                    if (resume.LossSums.Length != layers) throw new ArgumentException($"The interrupted epoch has {resume.LossSums.Length} loss sums; this phase has {layers} losses.", nameof(resume));
                    resume.Order.CopyTo(order, 0);
                    resume.LossSums.CopyTo(lossSums, 0);
                    firstBatch = resume.BatchesDone;
                    earlierSeconds = resume.Seconds;
                    seen += Math.Min((long)firstBatch * bs, n);
                }
                else
                {
                    for (int i = 0; i < n; i++) order[i] = i;
                    random.Shuffle(order.AsSpan());
                }
                feed.BeginEpoch(phase, order);
                // Losses come back from the feed in bursts (a device's every few batches): each batch's is
                // checked and summed, and its progress reported, in order, when it arrives.
                int folded = firstBatch;
                void Fold()
                {
                    foreach (var losses in feed.Drain())
                    {
                        float mean = 0;
                        for (int l = 0; l < layers; l++)
                        {
                            if (!float.IsFinite(losses[l]))
                                throw new TrainingDivergedException($"Training diverged: {names[l]} loss is {losses[l]} in epoch {epoch}, batch {folded + 1}.", epoch, l + 1);
                            lossSums[l] += losses[l];
                            mean += losses[l] / layers;
                        }
                        seen += Math.Min(bs, n - folded * bs);
                        folded++;
                        Progress?.Report(new TrainingProgress(epoch, plan.Count, folded, batches, seen, mean, total.Elapsed));
                    }
                }
                for (int bi = firstBatch; bi < batches; bi++)
                {
                    PartialEpoch Here() => new(epoch, bi, order.ToArray(), lossSums.ToArray(), earlierSeconds + sw.Elapsed.TotalSeconds);
                    if (cancellationToken.IsCancellationRequested)
                    {
                        Fold();
                        Interrupted?.Invoke(Here());
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                    // Between two batches of an epoch (its start and end belong to the epoch checkpoints).
                    if (bi > firstBatch && Snapshot is not null && SnapshotDue?.Invoke() == true)
                    {
                        Fold();
                        Snapshot(Here());
                    }
                    BeforeBatch?.Invoke(new BatchStart(epoch, bi + 1, batches, phase, model));
                    int start = bi * bs, count = Math.Min(bs, n - start);
                    var idx = order.AsSpan(start, count);
                    // The last, shorter batch has the same size every epoch: one buffer for the whole run.
                    var batch = count == bs ? images : tail?.Rows == count ? tail : (tail = new Matrix(count, model.ImageFeatures));
                    if (!feed.Resident) train.CopyImages(idx, batch.Data);
                    for (int i = 0; i < count; i++) labels[i] = train.Label(idx[i]);
                    // Random wrong labels are drawn in every phase and mode, so the random stream (and with it
                    // the shuffles) does not depend on the negative mode.
                    NegativeLabels.RandomWrong(random, labels.AsSpan(0, count), model.Classes, negatives.AsSpan(0, count));
                    if (options.GivenNegatives is { } given)
                        for (int i = 0; i < count; i++)
                            if (given[idx[i]] != labels[i]) negatives[i] = given[idx[i]];
                    if (options.RankedNegatives is { } rankedNegatives)
                        for (int i = 0; i < count; i++)
                            if (rankedNegatives.Draw(idx[i], epoch) is var drawn && drawn != labels[i]) negatives[i] = drawn;
                    var control = phase == TrainingPhase.ForwardForward
                        ? NegativeControl.Make(options.Negatives, model, batch, labels.AsSpan(0, count), negatives.AsSpan(0, count), random)
                        : NegativeControl.OneHot(negatives.AsSpan(0, count), model.Classes);
                    if (options.Schedule != LearningRateSchedule.Constant)
                    {
                        float factor = LearningRateSchedules.Factor(options.Schedule, (long)epochInPhase[epoch - 1] * batches + bi, (long)phaseEpochs[epoch - 1] * batches);
                        foreach (var o in optimizers) o.LearningRateScale = factor;
                    }
                    feed.Step(start, batch, labels.AsSpan(0, count), control);
                    if (feed.Full) Fold();
                }
                Fold();
                double trainSeconds = earlierSeconds + sw.Elapsed.TotalSeconds;
                double? valAcc = null;
                double valSeconds = 0;
                if (options.ValidateEachEpoch && validation is { Count: > 0 })
                {
                    var vs = Stopwatch.StartNew();
                    valAcc = Evaluation.Accuracy(model, validation);
                    valSeconds = vs.Elapsed.TotalSeconds;
                }
                var metrics = new EpochMetrics(epoch, phase, names, lossSums.Select(s => s / batches).ToArray(), valAcc, trainSeconds, valSeconds)
                {
                    ClassifierPending = plan.Skip(epoch).Contains(TrainingPhase.Classifier),
                };
                history.Add(metrics);
                EpochCompleted?.Invoke(metrics);
            }
        }
        finally
        {
            feed.Release(); // the resident training set stays for the next call; the feed's buffers go now
            foreach (var o in optimizers) o.LearningRateScale = 1f; // the model's optimisers back at their base rates
        }
        return history;
    }

    /// <summary>For each planned epoch, its 0-based index within its phase and the number of epochs of that phase.</summary>
    private static (int[] Index, int[] Count) PhasePositions(IReadOnlyList<TrainingPhase> plan)
    {
        var (index, count) = (new int[plan.Count], new int[plan.Count]);
        for (int e = 0; e < plan.Count; e++)
        {
            index[e] = plan.Take(e).Count(p => p == plan[e]);
            count[e] = plan.Count(p => p == plan[e]);
        }
        return (index, count);
    }
}
