namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>Which engine runs a simulated board's gateware.</summary>
public enum SimEngine
{
    /// <summary>Our C# model of the LitePCIe gateware: fast, fault injection.</summary>
    Model,

    /// <summary>The real LitePCIe RTL of the board under Verilator, behind our root-complex model: slow, the truth.</summary>
    Rtl,
}

/// <summary>What kind of message a device sent towards the host's interrupt controller.</summary>
public enum DeviceMessageKind
{
    /// <summary>The core raised the hard IP's MSI port (<c>phy.msi</c>); the hard IP turns it into an MSI, or drops it.</summary>
    PhyMsi,

    /// <summary>The core itself posted a memory write into the interrupt window (MSI-X).</summary>
    InterruptWrite,
}

/// <summary>A message from the device towards the interrupt controller.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Vector">The MSI port's data (<see cref="DeviceMessageKind.PhyMsi"/>); unused for writes.</param>
/// <param name="Address">Address of the interrupt write.</param>
/// <param name="Data">Data of the interrupt write.</param>
public readonly record struct DeviceMessage(DeviceMessageKind Kind, int Vector, ulong Address, uint Data);

/// <summary>What an engine moved since it was created.</summary>
public sealed record GatewareStatistics(long BuffersMoved, long WriterBytes, long ReaderBytes, long BuffersDropped, long BitsFlipped, long Cycles)
{
    /// <summary>Memory-read requests the device issued (TLPs).</summary>
    public long ReadRequests { get; init; }

    /// <summary>Memory-write requests the device issued for DMA (TLPs, interrupt writes excluded).</summary>
    public long WriteRequests { get; init; }

    /// <summary>Requests whose bytes cross a 4 KiB boundary (PCIe forbids it; split from the descriptor start, LitePCIe issues them).</summary>
    public long Requests4KCrossing { get; init; }
}

/// <summary>
/// The gateware seam: everything behind BAR0 of a LitePCIe board (MMIO in, DMA to host memory through
/// <see cref="IBusAddressSpace"/>, interrupt messages out). <see cref="SimulatedBoard"/> hosts one engine; the dext core
/// cannot tell which. Not thread-safe: the board serialises every call under its lock.
/// </summary>
internal interface IGatewareEngine : IDisposable
{
    /// <summary>Which engine this is.</summary>
    SimEngine Kind { get; }

    /// <summary>The string the identifier ROM holds.</summary>
    string RomIdentifier { get; }

    /// <summary>How long the hardware thread may sleep when <see cref="Step"/> found nothing to do (a kick wakes it earlier).</summary>
    TimeSpan IdleWait { get; }

    /// <summary>A 32-bit read of BAR0 at <paramref name="barOffset"/> (already reduced modulo the BAR size).</summary>
    uint Read32(uint barOffset);

    /// <summary>A 32-bit write of BAR0.</summary>
    void Write32(uint barOffset, uint value);

    /// <summary>
    /// The hard IP resets the user logic (function-level reset, D3hot): registers to their reset values, block RAM
    /// keeps its contents. With <paramref name="powerOn"/>, a fresh FPGA configuration (block RAM too).
    /// </summary>
    void Reset(bool powerOn);

    /// <summary>Moves the hardware on by one step. Returns whether anything moved.</summary>
    bool Step();

    /// <summary>The next message the device sent, if any.</summary>
    bool TryTakeMessage(out DeviceMessage message);

    /// <summary>How many messages the device has sent that <see cref="TryTakeMessage"/> has not yet taken (at most).</summary>
    int PendingMessages { get; }

    /// <summary>What moved since creation.</summary>
    GatewareStatistics Statistics { get; }

    /// <summary><c>ctrl_bus_errors</c> as the hardware counts it.</summary>
    uint BusErrors { get; }
}
