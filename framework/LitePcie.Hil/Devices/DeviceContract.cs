using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Devices;

/// <summary>
/// A way to reach LitePCIe boards: the software-in-the-loop stack, the Linux <c>litepcie</c> driver or
/// the macOS dext. Tests never see a backend type; they get sessions from it. A backend never falls
/// back to another one: asking for a platform that is not there is an error naming what is missing.
/// </summary>
public interface IDeviceBackend : IAsyncDisposable
{
    /// <summary><c>sim</c>, <c>linux</c> or <c>macos</c>.</summary>
    string Name { get; }

    /// <summary>Finds the LitePCIe functions this backend can open.</summary>
    ValueTask<IReadOnlyList<DeviceDescriptor>> EnumerateAsync(CancellationToken cancellationToken = default);

    /// <summary>Opens a session on one function. Throws <see cref="DeviceBusyException"/> when another client holds it.</summary>
    ValueTask<IDeviceSession> OpenAsync(DeviceDescriptor device, CancellationToken cancellationToken = default);
}

/// <summary>One LitePCIe function as enumerated, before it is opened.</summary>
/// <param name="Backend">Backend name.</param>
/// <param name="Address">Backend address: PCI BDF (<c>0000:01:00.0</c>), device node or registry entry id.</param>
/// <param name="VendorId">PCI vendor ID.</param>
/// <param name="DeviceId">PCI device ID.</param>
/// <param name="Board">Board profile name when known.</param>
/// <param name="LinkSpeed">Negotiated link speed when known.</param>
/// <param name="LinkWidth">Negotiated link width when known.</param>
public sealed record DeviceDescriptor(
    string Backend,
    string Address,
    ushort VendorId,
    ushort DeviceId,
    string? Board,
    PciLinkSpeed LinkSpeed,
    int LinkWidth)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Backend}:{Address} [{VendorId:x4}:{DeviceId:x4}]{(Board is null ? "" : " " + Board)} {LinkSpeed.Describe()} x{LinkWidth}";
}

/// <summary>A BAR as the session sees it.</summary>
public sealed record BarInfo(int Index, PciBarKind Kind, bool Prefetchable, ulong Size);

/// <summary>Geometry of a DMA ring (per channel and direction).</summary>
/// <param name="BufferCount">Buffers (= descriptors) in the ring; LitePCIe default 256.</param>
/// <param name="BufferSize">Bytes per buffer; LitePCIe default 8192.</param>
public readonly record struct DmaRingGeometry(int BufferCount, int BufferSize)
{
    /// <summary>Bytes in the ring.</summary>
    public long RingBytes => (long)BufferCount * BufferSize;
}

/// <summary>Facts about an open device.</summary>
public sealed record DeviceInfo(
    DeviceDescriptor Device,
    string Identifier,
    byte Revision,
    uint ClassCode,
    ushort SubsystemVendorId,
    ushort SubsystemId,
    IReadOnlyList<BarInfo> Bars,
    int ChannelCount,
    DmaRingGeometry DmaGeometry,
    string Driver,
    string DriverVersion);

/// <summary>Counters of one DMA direction of one channel, as the driver reports them.</summary>
/// <param name="HwCount">Buffers completed by the hardware (monotonic, 64-bit, from <c>loop_status</c>).</param>
/// <param name="SwCount">Buffers the software has consumed (writer) or provided (reader).</param>
/// <param name="Lost">Buffers the driver detected as lost (overrun/underrun).</param>
/// <param name="Running">Whether the engine is started.</param>
/// <param name="Interrupts">Interrupts handled for this source since start.</param>
/// <param name="LastInterruptTimestamp">Stopwatch timestamp of the last interrupt for this source (0 if none).</param>
public readonly record struct DmaCounters(long HwCount, long SwCount, long Lost, bool Running, long Interrupts, long LastInterruptTimestamp);

/// <summary>Options for starting one DMA direction.</summary>
/// <param name="IrqEvery">One interrupt per this many buffers (1..BufferCount/2); Linux uses 32.</param>
/// <param name="InterruptsMasked">Leave the source's MSI enable bit clear: the engine runs, no interrupt is sent.</param>
public sealed record DmaStartOptions(int IrqEvery = 32, bool InterruptsMasked = false)
{
    /// <summary>The Linux driver's coalescing (<c>DMA_BUFFER_PER_IRQ</c> = 32).</summary>
    public static DmaStartOptions Default { get; } = new();
}

/// <summary>Interrupt statistics of a session (the driver's view).</summary>
/// <param name="Messages">MSI/MSI-X messages handled.</param>
/// <param name="Spurious">Messages with no enabled source pending.</param>
/// <param name="PerSource">Per interrupt bit number: how many times it was seen pending.</param>
public sealed record InterruptStatistics(long Messages, long Spurious, IReadOnlyDictionary<int, long> PerSource);

/// <summary>Zero-copy view of a DMA ring mapped into the test process.</summary>
public interface IDmaRing
{
    /// <summary>Ring geometry.</summary>
    DmaRingGeometry Geometry { get; }

    /// <summary>Direction this ring serves (writer rings are read-only to the host).</summary>
    DmaDirection Direction { get; }

    /// <summary>The buffer for a 64-bit buffer count (slot = count mod BufferCount), read-only.</summary>
    ReadOnlySpan<byte> Read(long bufferIndex);

    /// <summary>The buffer for a 64-bit buffer count, writable (reader rings only).</summary>
    Span<byte> Write(long bufferIndex);
}

/// <summary>One LitePCIe DMA channel (<c>pcie_dmaN</c>): a writer and a reader engine with their rings.</summary>
public interface IDmaChannel
{
    /// <summary>Channel number N.</summary>
    int Index { get; }

    /// <summary>Registers of this channel and the layout guard's findings.</summary>
    DmaChannelLayout Layout { get; }

    /// <summary>Ring geometry (both directions).</summary>
    DmaRingGeometry Geometry { get; }

    /// <summary>Starts a direction (descriptor table programmed, loop mode, MSI bit enabled).</summary>
    void Start(DmaDirection direction, DmaStartOptions options);

    /// <summary>Stops a direction (MSI bit cleared first, then the Linux stop sequence).</summary>
    void Stop(DmaDirection direction);

    /// <summary>Enables or disables internal loopback (refused on a design without <c>loopback_enable</c>).</summary>
    void SetLoopback(bool enabled);

    /// <summary>Current counters of a direction.</summary>
    DmaCounters GetCounters(DmaDirection direction);

    /// <summary>
    /// Reports software progress: writer = buffers consumed, reader = buffers filled. Monotonic; bounded by
    /// the hardware count (writer) or hardware count + ring size (reader). Returns the driver's lost count.
    /// </summary>
    long UpdateSwCount(DmaDirection direction, long swCount);

    /// <summary>Waits (bounded) until the hardware count reaches <paramref name="targetHwCount"/>.</summary>
    ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>The zero-copy view of a direction's ring.</summary>
    IDmaRing Ring(DmaDirection direction);

    /// <summary>What the driver behind this channel can do (asked before a suite relies on it).</summary>
    DmaCapabilities Capabilities { get; }
}

/// <summary>
/// What a driver can do with its DMA channels, in one place: the dext accepts every valid option and counts interrupts
/// per source (<see cref="Full"/>); litepcie.ko has a compile-time coalescing, cannot keep an engine's interrupt masked
/// and keeps no per-source counts. A suite asks <see cref="Unsupported"/> and skips with the reason.
/// </summary>
public sealed record DmaCapabilities
{
    /// <summary>Every option, per-source counts: the dext.</summary>
    public static DmaCapabilities Full { get; } = new();

    /// <summary>The only interrupt coalescing the driver programs, or null when any valid value can be asked for.</summary>
    public int? FixedIrqEvery { get; init; }

    /// <summary>Why <see cref="FixedIrqEvery"/> is fixed (completed with the value asked for).</summary>
    public string FixedIrqEveryReason { get; init; } = "";

    /// <summary>Why a direction cannot run with its interrupt masked, or null when it can.</summary>
    public string? MaskedInterruptsUnsupported { get; init; }

    /// <summary>Whether <see cref="DmaCounters.Interrupts"/> counts interrupts per source (litepcie.ko does not).</summary>
    public bool CountsInterruptsPerSource { get; init; } = true;

    /// <summary>Why this driver cannot start a direction with <paramref name="options"/>, or null when it can.</summary>
    public string? Unsupported(DmaStartOptions options) =>
        FixedIrqEvery is { } fixedIrq && options.IrqEvery != fixedIrq ? $"{FixedIrqEveryReason}; irqEvery {options.IrqEvery} needs a rebuilt driver"
        : options.InterruptsMasked ? MaskedInterruptsUnsupported
        : null;
}

/// <summary>
/// An open session on one LitePCIe function. The session owns the device; fixtures own sessions.
/// Register offsets are BAR offsets; CSR addresses are converted with <see cref="ICsrBus.Map"/>.
/// </summary>
public interface IDeviceSession : ICsrBus, IAsyncDisposable
{
    /// <summary>Facts about the device read at open.</summary>
    DeviceInfo Info { get; }

    /// <summary>
    /// Incremented by the driver on every DMA start, reset, power transition and attach; a change tells the
    /// client that its view of running engines is stale.
    /// </summary>
    long Generation { get; }

    /// <summary>True once the driver has seen the device disappear (latched).</summary>
    bool IsDeviceGone { get; }

    /// <summary>DMA channels in index order.</summary>
    IReadOnlyList<IDmaChannel> Channels { get; }

    /// <summary>Reads the function's configuration space (256 or 4096 bytes).</summary>
    PciConfigSpace ReadConfigSpace();

    /// <summary>Reads a 32-bit word from a memory BAR other than the CSR BAR.</summary>
    uint ReadBar(int bar, ulong offset);

    /// <summary>Writes a 32-bit word to a memory BAR other than the CSR BAR.</summary>
    void WriteBar(int bar, ulong offset, uint value);

    /// <summary>Interrupt statistics since the session opened.</summary>
    InterruptStatistics GetInterruptStatistics();
}
