using LitePcie.Hil.Simulation;

namespace LitePcie.Hil.Backends;

/// <summary>How a served board reaches its host: the host's memory for its DMA and the rate its engines keep.</summary>
/// <param name="Bus">Where the board's DMA goes (a QEMU guest's RAM, mapped by the device server).</param>
public sealed record BoardServing(IBusAddressSpace Bus)
{
    /// <summary>Pace DMA to this many bytes/s per direction instead of the link's payload rate (a guest under TCG runs slower than real time).</summary>
    public double? PacedBytesPerSecond { get; init; }
}

/// <summary>
/// A provider whose boards can be served on their own to a host outside this process (QEMU's <c>litepcie-hil</c> device
/// behind the device server): the board alone, without our driver core, the guest's driver owning it. The device server
/// finds its board here, through <see cref="BackendRegistry.Server"/>, as the fixtures and the CLI find their backends.
/// </summary>
public interface IBoardServer
{
    /// <summary>
    /// The first board of <paramref name="request"/> with its faults and engine, paced when <see cref="BackendRequest.Paced"/>
    /// (or at <see cref="BoardServing.PacedBytesPerSecond"/>); ask <see cref="IBackendProvider.Unavailable"/> first.
    /// </summary>
    SimulatedBoard Serve(BackendRequest request, BoardServing serving);
}
