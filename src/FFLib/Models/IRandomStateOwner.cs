using FFLib.Compute;

namespace FFLib.Models;

/// <summary>A model that draws random numbers while it trains (FFRNN's initial states): a resume checkpoint stores the generator's state.</summary>
public interface IRandomStateOwner
{
    /// <summary>The model's own random source.</summary>
    FFRandom StateRandom { get; }
}
