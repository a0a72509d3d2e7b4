namespace FFLib.Layers;

/// <summary>
/// Regularisers of an FF layer's training, each off at 0 (the default keeps training bit-identical):
/// <list type="bullet">
/// <item><see cref="PeerNormalization"/> (Hinton 2022, §"peer normalisation"): λ·mean_j (r̄ − r_j)², where
/// r_j is unit j's running mean activity over positive samples (r ← m·r + (1 − m)·batch mean, momentum
/// m = <see cref="PeerMomentum"/>, r starting at 0.5 as in the reference implementation) and r̄ the
/// layer's mean of r. It pushes every unit's activity toward the layer's: no unit stays dead or dominates. Its
/// gradient passes straight through the ReLU (as in Hinton's reference code), so that it reaches units that are off.</item>
/// <item><see cref="ActivityL1"/>: λ·(1/rows)·Σ_r Σ_j |h_rj| over positive and negative rows (activations are
/// ReLU outputs, so |h| = h): pushes activity toward 0.</item>
/// <item><see cref="WeightDecay"/>: decoupled decay as AdamW: each weight matrix w ← w·(1 − lr·λ) before
/// the Adam step (biases are not decayed).</item>
/// </list>
/// The two activity terms add to the layer's own FF loss (gradients stay local to the layer); the
/// reported layer loss is the FF loss alone.
/// </summary>
public sealed record FFRegularization
{
    /// <summary>None: all three at 0.</summary>
    public static readonly FFRegularization None = new();

    /// <summary>Momentum of the peer-normalisation running means (Hinton's paper and its reference code: 0.9).</summary>
    public const float PeerMomentum = 0.9f;

    /// <summary>Starting value of every unit's running mean activity (the reference code's 0.5).</summary>
    public const float PeerInitialMean = 0.5f;

    /// <summary>λ of the peer-normalisation loss (Hinton's reference setting: 0.03).</summary>
    public float PeerNormalization { get; init; }

    /// <summary>λ of the L1 penalty on activations.</summary>
    public float ActivityL1 { get; init; }

    /// <summary>λ of the decoupled (AdamW) weight decay.</summary>
    public float WeightDecay { get; init; }

    /// <summary>Whether either activity term is on (the layer's backward step then adds their gradient).</summary>
    public bool HasActivityTerms => PeerNormalization != 0 || ActivityL1 != 0;

    /// <summary>Whether every regulariser is off.</summary>
    public bool IsNone => !HasActivityTerms && WeightDecay == 0;

    /// <summary>Throws naming the first λ that is negative or not finite.</summary>
    public void Validate()
    {
        Check(PeerNormalization, nameof(PeerNormalization));
        Check(ActivityL1, nameof(ActivityL1));
        Check(WeightDecay, nameof(WeightDecay));
    }

    /// <summary>The problem with one λ, or null: each must be finite and at least 0.</summary>
    public static string? Problem(float lambda) =>
        float.IsFinite(lambda) && lambda >= 0 ? null : $"must be a finite number ≥ 0 (got {lambda.ToString(System.Globalization.CultureInfo.InvariantCulture)})";

    private static void Check(float value, string name)
    {
        if (Problem(value) is string p) throw new ArgumentOutOfRangeException(name, value, $"{name} {p}.");
    }
}
