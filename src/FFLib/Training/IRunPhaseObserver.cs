namespace FFLib.Training;

/// <summary>
/// Told what a run is doing between training batches (where the data came from, testing, saving):
/// a progress reporter passed to <see cref="TrainingRun.Execute"/> may also implement it.
/// </summary>
public interface IRunPhaseObserver
{
    /// <summary>A phase of the run begins (one line, e.g. "testing on 10000 images").</summary>
    void PhaseStarted(string description);
}
