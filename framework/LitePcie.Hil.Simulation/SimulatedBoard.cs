using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Faults;
using LitePcie.Hil.Simulation.Gateware;
using LitePcie.Hil.Simulation.Pci;

namespace LitePcie.Hil.Simulation;

/// <summary>Receives the MSI/MSI-X messages a simulated board posts (the host's interrupt controller).</summary>
public interface IMsiSink
{
    /// <summary>
    /// A message arrived. Called on the board's hardware thread without any board lock held, so the
    /// handler may access the board's registers (as an interrupt handler does).
    /// </summary>
    void OnMessage(MsiMessage message, long timestamp);
}

/// <summary>How a simulated board runs.</summary>
public sealed record SimulationOptions
{
    /// <summary>Faults to inject.</summary>
    public FaultPlan Faults { get; init; } = FaultPlan.None;

    /// <summary>Pace DMA to the link's payload rate (false = as fast as the host allows).</summary>
    public bool Paced { get; init; }

    /// <summary>
    /// With <see cref="Paced"/>: the DMA rate per direction in bytes/s instead of the link's payload rate (null). A
    /// host that runs slower than real time — an emulated (TCG) guest — needs the board slowed by the same factor,
    /// or the loop-mode engines lap software a thousand times faster than a real link would.
    /// </summary>
    public double? PacedBytesPerSecond { get; init; }

    /// <summary>Run the hardware on a background thread (false = the caller steps it with <see cref="SimulatedBoard.Step"/>).</summary>
    public bool RunHardwareThread { get; init; } = true;

    /// <summary>Clock for pacing, timestamps and spurious-MSI timing.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Serial number in the Device Serial Number capability (boards on one bus differ by it).</summary>
    public ulong SerialNumber { get; init; } = 0x4C50_4349_0000_0001;

    /// <summary>
    /// After every register or config write, the engines run as far as they can before the writer's next access:
    /// the schedule of a host thread preempted right after each write, made deterministic (start-up races of the
    /// driver show on every run instead of a few cycles in a thousand). Interrupts are still posted by the
    /// hardware thread.
    /// </summary>
    public bool HardwareRunsAhead { get; init; }

    /// <summary>Which engine runs the gateware: our model (default) or the board's real RTL under Verilator.</summary>
    public SimEngine Engine { get; init; } = SimEngine.Model;

    /// <summary>How the RTL engine's root complex behaves (with <see cref="Engine"/> = rtl).</summary>
    public RtlEngineOptions Rtl { get; init; } = new();

    /// <summary>
    /// Where the engines' DMA goes: null = the board's own <see cref="SimulatedBoard.Memory"/> (the SIL's host);
    /// the device server passes a VM's guest RAM here.
    /// </summary>
    public IBusAddressSpace? BusAddressSpace { get; init; }
}

/// <summary>Statistics of a simulated board since it was created.</summary>
public sealed record SimulatedBoardStatistics(
    long BuffersMoved, long WriterBytes, long ReaderBytes, long MsiSent, long MsiDropped, long MsiSpurious,
    long BuffersDropped, long BitsFlipped, uint BusErrors, int DmaFaults)
{
    /// <summary>The engine that ran the gateware.</summary>
    public SimEngine Engine { get; init; }

    /// <summary>Clock cycles the RTL engine simulated (0 for the model).</summary>
    public long Cycles { get; init; }

    /// <summary>Interrupt messages the hard IP dropped (MSI port raised while MSI or bus mastering was disabled).</summary>
    public long MsiBlocked { get; init; }

    /// <summary>Memory-read requests (TLPs) the device issued.</summary>
    public long ReadRequests { get; init; }

    /// <summary>Memory-write requests (TLPs) the device issued for DMA.</summary>
    public long WriteRequests { get; init; }

    /// <summary>Requests crossing a 4 KiB boundary.</summary>
    public long Requests4KCrossing { get; init; }
}

/// <summary>
/// A simulated LitePCIe board: the PCI function (config space, BARs, power states, presence), the
/// gateware behind BAR0 built from the board's CSR map, a RAM window for any other memory BAR, the link
/// model and fault injection. The DMA engines run on a hardware thread (or are stepped by the caller).
/// All register and engine state is guarded by one lock; MSIs are delivered without it held.
/// </summary>
public sealed class SimulatedBoard : IDisposable, IGatewareHost
{
    private readonly object _sync = new();

    // Held across a hardware step and the delivery of its messages, and across a flush: messages reach the driver in the
    // order they were raised, and a message taken off the queue reaches the handler before the engines move again (the
    // handler of a single-MSI design credits a source by its vector bit, which the next completion would share).
    // Order: _delivery, then the driver's lock, then _sync; never taken with either of those held.
    private readonly object _delivery = new();
    private readonly SimulatedPciFunction _function;
    private readonly IGatewareEngine _gateware;
    private readonly GatewareModel? _model;
    private readonly uint[] _msixShadow; // what the host wrote into the MSI-X table (its interrupt allocation)
    private int _accessWaiters;
    private long _msiBlocked;
    private readonly Dictionary<int, uint[]> _memoryBars = [];
    private readonly Random _msiDropRandom;
    private readonly AutoResetEvent _kick = new(false);
    private readonly TimeProvider _time;
    private readonly LinkPacer? _writerPacer;
    private readonly LinkPacer? _readerPacer;
    private (int Width, int Mps) _pacedLink; // the link the pacers were last set for
    private bool _surpriseRemovalFired;
    private long _lifetimeBuffers; // buffers moved since the board was created, across power-ups (gateware thread only)
    private bool _removalPending;
    private Thread? _thread;
    private volatile bool _stopping;
    private volatile bool _present = true;
    private long _msiSent;
    private long _msiDropped;
    private long _msiSpurious;
    private long _nextSpurious;
    private IMsiSink? _sink;
    private IHostFlowControl? _flow;

    /// <summary>The gateware model and PCI function of <paramref name="profile"/>, with the fault injection and pacing of <paramref name="options"/>.</summary>
    public SimulatedBoard(BoardProfile profile, SimulationOptions? options = null)
    {
        Options = options ?? new SimulationOptions();
        Profile = profile;
        Map = profile.CsrMap;
        Faults = Options.Faults;
        _time = Options.Time;
        Memory = new HostMemory(Map.Layout.DmaAddressWidth);
        int width = profile.LinkWidth;
        if (Faults.Has(FaultKind.LinkDegrade))
        {
            width = Math.Min(width, (int)Faults.Value(FaultKind.LinkDegrade));
        }

        _function = new SimulatedPciFunction(profile, width, Options.SerialNumber);
        _function.PowerStateChanged += OnPowerStateChanged;
        _msiDropRandom = Faults.CreateRandom(FaultKind.MsiDrop);
        var userPattern = profile.WriterSource == UserWriterSource.SequencePattern ? new Dma.SequencePattern(profile.DmaGeometry.BufferSize) : null;
        if (Options.Engine == SimEngine.Rtl)
        {
            var modelOnly = Faults.Active.Keys.Where(ModelOnlyFaults.Contains).ToList();
            if (modelOnly.Count > 0)
            {
                string names = string.Join(", ", modelOnly.Select(k => FaultPlan.Catalog.First(d => d.Kind == k).Name));
                throw new ArgumentException($"SimFaults {names}: injected inside the gateware model, so only with SimEngine=model (the RTL engine runs the real gateware)", nameof(options));
            }

            _gateware = RtlEngine.Create(profile, this, Options.Rtl);
        }
        else
        {
            var build = GatewareBuild.Of(profile);
            _model = new GatewareModel(Map, this, new GatewareOptions(profile.DataWidthBits, LitePcieLayout.DefaultTableDepth, build.BufferingDepth, userPattern,
                build.SocResetWired, build.MaxPendingRequests, build.SplitStreams, profile.ReaderSink == UserReaderSink.Discard), Faults);
            _gateware = _model;
        }

        _msixShadow = new uint[Map.Layout.Msi.Flavour == MsiFlavour.MsiX ? Map.Layout.Msi.Width * 4 : 0];
        foreach (var bar in profile.Bars.Where(b => b.Role == BarRole.Memory && b.Kind != PciBarKind.Io))
        {
            _memoryBars[bar.Index] = new uint[bar.Size / 4];
        }

        if (Options.Paced)
        {
            // Payload rate of the trained link at the Max_Payload_Size the host programmed (followed in Step()).
            _pacedLink = LinkRateKey;
            double rate = Options.PacedBytesPerSecond ?? Link.PayloadBytesPerSecond;
            _writerPacer = new LinkPacer(rate, _time);
            _readerPacer = new LinkPacer(rate, _time);
        }

        if (Options.RunHardwareThread)
        {
            _thread = new Thread(HardwareLoop) { IsBackground = true, Name = $"sim-hw {profile.Name}" };
            _thread.Start();
        }
    }

    /// <summary>Why <paramref name="engine"/> cannot run <paramref name="profile"/>'s gateware here, or null when it can.</summary>
    public static string? EngineUnavailable(BoardProfile profile, SimEngine engine) =>
        engine == SimEngine.Rtl ? RtlEngine.Unavailable(profile) : null;

    /// <summary>Faults injected inside the gateware model (not available with the RTL engine).</summary>
    public static IReadOnlySet<FaultKind> ModelOnlyFaults { get; } = new HashSet<FaultKind>
    {
        FaultKind.DmaBitflip, FaultKind.DmaDropBuffer, FaultKind.DmaDuplicateBuffer, FaultKind.DmaStall,
        FaultKind.ScratchStuckBit, FaultKind.WrongIdent, FaultKind.SurpriseRemoval,
    };

    /// <summary>How the board runs.</summary>
    public SimulationOptions Options { get; }

    /// <summary>Which engine runs the gateware.</summary>
    public SimEngine Engine => _gateware.Kind;

    /// <summary>The board profile it was built from.</summary>
    public BoardProfile Profile { get; }

    /// <summary>The CSR map of its gateware.</summary>
    public CsrMap Map { get; }

    /// <summary>Active faults.</summary>
    public FaultPlan Faults { get; }

    /// <summary>The host DMA address space the engines reach.</summary>
    public HostMemory Memory { get; }

    /// <summary>The link as trained (width reduced under <c>link-degrade</c>).</summary>
    public LinkModel Link => new(Profile.LinkSpeed, _function.TrainedWidth, _function.MaxPayloadSize, _function.MaxReadRequestSize);

    /// <summary>What of the link can change the payload rate while the board runs.</summary>
    private (int Width, int Mps) LinkRateKey => (_function.TrainedWidth, _function.MaxPayloadSize);

    /// <summary>What the identifier ROM holds.</summary>
    public string RomIdentifier => _gateware.RomIdentifier;

    /// <summary>Where MSIs go.</summary>
    public IMsiSink? InterruptSink
    {
        get => _sink;
        set => _sink = value;
    }

    /// <summary>Optional flow control against the host's consumption (see <see cref="IHostFlowControl"/>).</summary>
    public IHostFlowControl? FlowControl
    {
        get => _flow;
        set
        {
            // Under the lock: once the setter returns no hardware step still uses the old controller.
            lock (_sync)
            {
                _flow = value;
            }

            Kick();
        }
    }

    /// <summary>False after a surprise removal until re-attached.</summary>
    public bool IsPresent => _present;

    /// <summary>Current PCI power state.</summary>
    public PciPowerState PowerState
    {
        get
        {
            lock (_sync)
            {
                return _function.PowerState;
            }
        }
    }

    bool IGatewareHost.BusMasterEnabled => _function.BusMasterEnabled;

    bool IGatewareHost.MsiEnabled => _function.MsiEnabled;

    bool IGatewareHost.MsixEnabled => _function.MsixEnabled && !_function.MsixFunctionMasked;

    uint IGatewareHost.LinkStatusRaw => Map.Layout.Phy is { Family: not PhyFamily.Unknown } phy
        ? PhyLinkStatusCodec.Encode(phy.Family, true, Profile.LinkSpeed, _function.TrainedWidth, 0x10)
        : 1u;

    int IGatewareHost.MaxPayloadSize => _function.MaxPayloadSize;

    int IGatewareHost.MaxReadRequestSize => _function.MaxReadRequestSize;

    int IGatewareHost.MsiGrantedVectors => _function.MsiGrantedVectors;

    ulong IGatewareHost.CsrBarAddress => _function.BarAddress(Profile.CsrBar.Index);

    IBusAddressSpace IGatewareHost.Memory => BusAddressSpace;

    /// <summary>The bus address space the engines reach: <see cref="SimulationOptions.BusAddressSpace"/> or <see cref="Memory"/>.</summary>
    public IBusAddressSpace BusAddressSpace => Options.BusAddressSpace ?? Memory;

    IHostFlowControl? IGatewareHost.FlowControl => _flow;

    LinkPacer? IGatewareHost.WriterPacer => _writerPacer;

    LinkPacer? IGatewareHost.ReaderPacer => _readerPacer;

    /// <summary>Reads 1, 2 or 4 bytes of config space (all-ones when removed).</summary>
    public uint ReadConfig(int offset, int size)
    {
        lock (_sync)
        {
            return _present ? _function.Read(offset, size) : size == 4 ? uint.MaxValue : (1u << (8 * size)) - 1;
        }
    }

    /// <summary>Writes 1, 2 or 4 bytes of config space (ignored when removed).</summary>
    public void WriteConfig(int offset, int size, uint value)
    {
        lock (_sync)
        {
            if (_present)
            {
                _function.Write(offset, size, value);
            }

            RunAheadLocked();
        }

        Kick();
    }

    /// <summary>Reads the whole configuration space.</summary>
    public byte[] ReadConfigSpace()
    {
        lock (_sync)
        {
            if (!_present)
            {
                return Enumerable.Repeat((byte)0xFF, _function.Length).ToArray();
            }

            return _function.Snapshot();
        }
    }

    /// <summary>
    /// The whole configuration space when the board is on the bus, read under the same lock as the presence check
    /// (a board leaving between a presence check and a separate read would read all-ones); false when it is not.
    /// </summary>
    public bool TryReadConfigSpace([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? config)
    {
        lock (_sync)
        {
            config = _present ? _function.Snapshot() : null;
            return config is not null;
        }
    }

    /// <summary>Size of a BAR (0 when not implemented).</summary>
    public ulong BarSize(int bar) => _function.BarSize(bar);

    /// <summary>
    /// A 32-bit memory read through BAR <paramref name="bar"/> at <paramref name="offset"/> (wraps modulo the
    /// BAR size, as the address decoder does). All-ones when the device is removed, not in D0, or memory
    /// space is disabled (unsupported request).
    /// </summary>
    public uint ReadBar(int bar, ulong offset)
    {
        Interlocked.Increment(ref _accessWaiters);
        lock (_sync)
        {
            Interlocked.Decrement(ref _accessWaiters);
            if (!BarAccessible(bar, offset, out uint o))
            {
                return uint.MaxValue;
            }

            int target = bar != 0 && Faults.Has(FaultKind.BarAlias) ? 0 : bar;
            return target == 0 ? _gateware.Read32(o) : _memoryBars.TryGetValue(target, out var ram) ? ram[o / 4] : uint.MaxValue;
        }
    }

    /// <summary>A 32-bit memory write through a BAR (dropped when not accessible).</summary>
    public void WriteBar(int bar, ulong offset, uint value)
    {
        Interlocked.Increment(ref _accessWaiters);
        lock (_sync)
        {
            Interlocked.Decrement(ref _accessWaiters);
            if (!BarAccessible(bar, offset, out uint o))
            {
                return;
            }

            int target = bar != 0 && Faults.Has(FaultKind.BarAlias) ? 0 : bar;
            if (target == 0)
            {
                ShadowMsixTable(o, value);
                _gateware.Write32(o, value);
            }
            else if (_memoryBars.TryGetValue(target, out var ram))
            {
                ram[o / 4] = value;
            }

            RunAheadLocked();
        }

        Kick();
    }

    /// <summary>A CSR bus over BAR0 (for drivers and tests that speak CSR offsets).</summary>
    public ICsrBus CsrBus => new BoardCsrBus(this);

    /// <summary>Wakes the hardware thread (after the host released buffers or changed registers).</summary>
    public void Kick() => _kick.Set();

    /// <summary>
    /// One hardware step: each engine of each channel moves at most one descriptor, then pending MSIs are
    /// posted. Returns whether any descriptor moved.
    /// </summary>
    public bool Step()
    {
        bool progress;
        bool removed;
        bool more;
        lock (_delivery)
        {
            progress = StepLocked(out removed);
            more = DeliverInterrupts();
        }

        if (removed)
        {
            Removed?.Invoke(this); // a fault pulled the board mid-transfer: the bus tells the OS, as pciehp does
        }

        return progress || more;
    }

    private bool StepLocked(out bool removed)
    {
        bool progress;
        lock (_sync)
        {
            if (_writerPacer is not null && Options.PacedBytesPerSecond is null && LinkRateKey != _pacedLink)
            {
                // The host programmed another Max_Payload_Size, or the link retrained: pace to the new rate.
                _pacedLink = LinkRateKey;
                double rate = Options.PacedBytesPerSecond ?? Link.PayloadBytesPerSecond;
                _writerPacer.Retarget(rate);
                _readerPacer!.Retarget(rate);
            }

            progress = _present && _function.PowerState == PciPowerState.D0 && _gateware.Step();
            removed = _removalPending;
            _removalPending = false;
        }

        return progress;
    }

    /// <summary>
    /// Runs the hardware until nothing moves any more (conformance scenarios, tests): the model steps until no engine
    /// progresses; the RTL runs until no TLP or user-stream beat moved for <paramref name="quietCycles"/> cycles, at
    /// most <paramref name="maxCycles"/>. Returns whether it went quiet within the bound (the model always does).
    /// </summary>
    internal bool Settle(long maxCycles = 4 << 20, uint quietCycles = 4096)
    {
        bool quiet;
        lock (_sync)
        {
            if (_gateware is RtlEngine rtl)
            {
                quiet = (long)rtl.RunUntilQuiet((ulong)maxCycles, quietCycles) < maxCycles;
            }
            else
            {
                int steps = 0;
                while (_present && _function.PowerState == PciPowerState.D0 && _gateware.Step() && ++steps < 1_000_000)
                {
                }

                quiet = steps < 1_000_000;
            }
        }

        for (int batches = 0; batches < 64 && DeliverInterrupts(); batches++)
        {
        }

        return quiet;
    }

    /// <summary>
    /// Runs the RTL for exactly <paramref name="cycles"/> clock cycles; the model, which has no clock, settles instead.
    /// For scenarios that must stop the hardware at a bounded point (a never-ending transfer).
    /// </summary>
    internal void RunCycles(long cycles)
    {
        if (_gateware is RtlEngine rtl)
        {
            lock (_sync)
            {
                rtl.RunCycles((ulong)cycles);
            }

            DeliverInterrupts();
            return;
        }

        Settle();
    }

    /// <summary>The RTL engine's root-complex counters (null for the model).</summary>
    internal RtlStats? RtlStatistics()
    {
        lock (_sync)
        {
            return (_gateware as RtlEngine)?.Stats();
        }
    }

    /// <summary>
    /// Raised (without the board's lock held) when the board leaves the bus: a surprise removal or a fault.
    /// The simulated bus tells the driver, as the OS's hot-plug service does.
    /// </summary>
    public event Action<SimulatedBoard>? Removed;

    /// <summary>
    /// Surprise removal: reads return all-ones, DMA and MSIs stop. Returns whether the board was on the bus, decided under the
    /// board's lock: a fault that pulls it while the caller waits for the lock (the hardware thread holds it for a batch of
    /// steps) makes this false, so a planned detach cannot absorb that removal.
    /// </summary>
    public bool SurpriseRemove()
    {
        bool was;
        lock (_sync)
        {
            was = _present;
            _present = false;
        }

        Kick();
        if (was)
        {
            Removed?.Invoke(this);
        }

        return was;
    }

    /// <summary>Re-attach after removal: the board powers up fresh (gateware and config space reset).</summary>
    public void Reattach()
    {
        lock (_sync)
        {
            _function.Reset();
            _gateware.Reset(powerOn: true);
            if (_model is not null)
            {
                _model.Counters.Stalled = false;
            }
            _present = true;
        }

        Kick();
    }

    /// <summary>
    /// Function-level reset: the function and its gateware return to power-on state (BARs unassigned,
    /// command register cleared); whoever requested it restores the configuration, as the OS does.
    /// </summary>
    public void FunctionReset()
    {
        lock (_sync)
        {
            _function.Reset();
            _gateware.Reset(powerOn: false);
        }

        Kick();
    }

    /// <summary>Counters since creation.</summary>
    public SimulatedBoardStatistics GetStatistics()
    {
        lock (_sync)
        {
            var c = _gateware.Statistics;
            return new SimulatedBoardStatistics(c.BuffersMoved, c.WriterBytes, c.ReaderBytes,
                Interlocked.Read(ref _msiSent), Interlocked.Read(ref _msiDropped), Interlocked.Read(ref _msiSpurious),
                c.BuffersDropped, c.BitsFlipped, _present && _function.PowerState == PciPowerState.D0 ? _gateware.BusErrors : 0, BusAddressSpace.Faults.Count)
            {
                Engine = _gateware.Kind,
                Cycles = c.Cycles,
                MsiBlocked = Interlocked.Read(ref _msiBlocked),
                ReadRequests = c.ReadRequests,
                WriteRequests = c.WriteRequests,
                Requests4KCrossing = c.Requests4KCrossing,
            };
        }
    }

    /// <summary>Test hook: how many bytes the loopback path of a channel holds.</summary>
    internal long LoopbackFifoBytes(int channel)
    {
        lock (_sync)
        {
            return _model?.Channels[channel].LoopbackFifoBytes ?? 0;
        }
    }

    void IGatewareHost.OnBufferMoved(long totalBuffers)
    {
        if (Faults.Has(FaultKind.DmaStall) && totalBuffers >= (long)Faults.Value(FaultKind.DmaStall))
        {
            _model!.Counters.Stalled = true;
        }

        // One surprise removal when the board has moved that many buffers since it was created (power-ups reset the
        // gateware's counters, not this one); a re-attach recovers. Only a board on the bus can be pulled.
        long lifetime = ++_lifetimeBuffers;
        if (Faults.Has(FaultKind.SurpriseRemoval) && _present && !_surpriseRemovalFired && lifetime >= (long)Faults.Value(FaultKind.SurpriseRemoval))
        {
            _surpriseRemovalFired = true;
            _present = false;
            _removalPending = true;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stopping = true;
        _kick.Set();
        _thread?.Join(TimeSpan.FromSeconds(5));
        _thread = null;
        lock (_sync)
        {
            _gateware.Dispose();
        }

        Memory.Dispose();
        _kick.Dispose();
    }

    /// <summary><see cref="SimulationOptions.HardwareRunsAhead"/>: the engines move every descriptor they can before the host's next access.</summary>
    private void RunAheadLocked()
    {
        // Only the model under host flow control stops by itself: a lossy loop-mode writer (or the RTL) never runs dry.
        if (!Options.HardwareRunsAhead || _gateware.Kind != SimEngine.Model || _flow is null)
        {
            return;
        }

        while (_present && _function.PowerState == PciPowerState.D0 && _gateware.Step())
        {
        }
    }

    private bool BarAccessible(int bar, ulong offset, out uint reduced)
    {
        reduced = 0;
        ulong size = _function.BarSize(bar);
        if (!_present || size == 0 || !_function.MemorySpaceEnabled || _function.PowerState != PciPowerState.D0)
        {
            return false;
        }

        reduced = (uint)(offset % size) & ~3u;
        return true;
    }

    private void OnPowerStateChanged(PciPowerState before, PciPowerState after)
    {
        if (after == PciPowerState.D3Hot)
        {
            // Entering D3hot the gateware loses its state (engines stop, tables and MSI enables clear).
            _gateware.Reset(powerOn: false);
        }
    }

    private const int MaxMessagesPerStep = 256;

    /// <summary>
    /// Delivers, on the calling thread, every message the device sent before this call: on PCIe an MSI is a posted
    /// write and a read's completion never passes one, so by the time a read returns its messages have reached the host
    /// (whose handler runs microseconds later; here, at once). The driver calls this after a register read returned to
    /// its client, never with its own lock held (delivery enters its interrupt handler). Without it, a message raised
    /// before the read waited for the hardware thread's next step, and a count taken after a flushing read could still
    /// grow by an earlier window's messages (MsiSuite's masked-source check on the RTL saw 43 in a CI run, right after
    /// the irqEvery 1 latency test). Messages raised while these are being delivered (the handler's reads run the RTL's
    /// clock) are left to the hardware thread. Returns how many it took.
    /// </summary>
    public int FlushPostedMessages()
    {
        Interlocked.Increment(ref _accessWaiters); // the hardware thread lets waiting accesses in between its steps
        lock (_delivery)
        {
            Interlocked.Decrement(ref _accessWaiters);
            int pending;
            lock (_sync)
            {
                pending = _present && _function.PowerState == PciPowerState.D0 ? _gateware.PendingMessages : 0;
            }

            return pending == 0 ? 0 : DeliverMessages(pending, out _);
        }
    }

    /// <summary>Delivers the messages the gateware raised, a batch at most; true when more are waiting.</summary>
    private bool DeliverInterrupts()
    {
        // At most a batch per step: the driver's interrupt handler reads registers, and on the RTL engine every read runs
        // the clock, so at irqEvery 1 the handler raised new messages as fast as it took them and "until the queue is
        // empty" never came; the hardware thread held the driver in its handler and every other call into the driver
        // waited for ever (MsiSuite's latency test on the RTL). What is left is delivered on the next step.
        DeliverMessages(MaxMessagesPerStep, out bool more);
        DeliverSpurious();
        return more;
    }

    /// <summary>Takes and delivers at most <paramref name="max"/> messages; <paramref name="more"/> when the last take found one.</summary>
    private int DeliverMessages(int max, out bool more)
    {
        var sink = _sink;
        more = true;
        int taken = 0;
        for (; taken < max; taken++)
        {
            MsiMessage message;
            lock (_sync)
            {
                if (!_present || _function.PowerState != PciPowerState.D0 || !_gateware.TryTakeMessage(out var raised))
                {
                    more = false;
                    break;
                }

                if (!HardIpMessage(raised, out message))
                {
                    Interlocked.Increment(ref _msiBlocked);
                    continue;
                }

                if (Faults.Has(FaultKind.MsiDrop) && _msiDropRandom.NextDouble() < Faults.Value(FaultKind.MsiDrop))
                {
                    Interlocked.Increment(ref _msiDropped);
                    continue;
                }
            }

            Interlocked.Increment(ref _msiSent);
            sink?.OnMessage(message, _time.GetTimestamp());
        }

        return taken;
    }

    /// <summary>The spurious-MSI fault: a message with no source at the planned interval (hardware thread only).</summary>
    private void DeliverSpurious()
    {
        var sink = _sink;
        if (Faults.Has(FaultKind.MsiSpurious))
        {
            long now = _time.GetTimestamp();
            long interval = (long)(_time.TimestampFrequency / Faults.Value(FaultKind.MsiSpurious));
            if (_nextSpurious == 0)
            {
                _nextSpurious = now + interval;
            }
            else if (now >= _nextSpurious)
            {
                _nextSpurious = now + interval;
                bool enabled;
                lock (_sync)
                {
                    enabled = _present && _function.BusMasterEnabled && (_function.MsiEnabled || _function.MsixEnabled);
                }

                if (enabled)
                {
                    Interlocked.Increment(ref _msiSpurious);
                    Interlocked.Increment(ref _msiSent);
                    sink?.OnMessage(new MsiMessage(0, _function.MsiMessage.Address, _function.MsiMessage.Data), now);
                }
            }
        }
    }

    /// <summary>
    /// What reaches the host's interrupt controller for a message the core raised. The MSI port goes through the hard
    /// IP, which sends an MSI (address and data from the MSI capability, the vector in the data's low bits within the
    /// granted vectors) only when MSI and bus mastering are enabled, and otherwise completes the handshake without
    /// sending anything. An MSI-X message is a memory write the core posted itself: the root complex sees it whatever
    /// the function's enables; its vector is the table entry the host programmed with that address and data.
    /// </summary>
    private bool HardIpMessage(DeviceMessage raised, out MsiMessage message)
    {
        message = default;
        if (raised.Kind == DeviceMessageKind.PhyMsi)
        {
            if (!_function.MsiEnabled || !_function.BusMasterEnabled)
            {
                return false;
            }

            int granted = _function.MsiGrantedVectors;
            int vector = granted <= 1 ? 0 : raised.Vector & (granted - 1);
            var (address, data) = _function.MsiMessage;
            message = new MsiMessage(vector, address, (uint)(data | vector));
            return true;
        }

        int entry = -1;
        for (int i = 0; i < _msixShadow.Length / 4; i++)
        {
            if (_msixShadow[i * 4] == (uint)raised.Address && _msixShadow[i * 4 + 2] == raised.Data)
            {
                entry = i;
                break;
            }
        }

        message = new MsiMessage(entry, raised.Address, raised.Data);
        return true;
    }

    /// <summary>Remembers what the host writes into the MSI-X table: its interrupt allocation, by which it decodes messages.</summary>
    private void ShadowMsixTable(uint barOffset, uint value)
    {
        if (_msixShadow.Length == 0 || Map.Layout.Msi.TableBaseAddress is not { } table)
        {
            return;
        }

        uint start = Map.ToBarOffset(table);
        if (barOffset >= start && barOffset < start + (uint)_msixShadow.Length * 4)
        {
            _msixShadow[(barOffset - start) / 4] = value;
        }
    }

    private void HardwareLoop()
    {
        int idle = 0;
        while (!_stopping)
        {
            bool progress = Step();
            // Register accesses wait for the lock a step holds: let them in before the next step (a step of the RTL
            // engine holds it for a thousand clock cycles; without this the driver would queue behind step after step).
            for (int spin = 0; spin < 1000 && Volatile.Read(ref _accessWaiters) > 0; spin++)
            {
                Thread.Yield();
            }

            if (progress)
            {
                idle = 0;
                continue;
            }

            // Paced engines wait microseconds for link credit: poll briefly (yielding the core), then block until
            // a kick or the next millisecond. The pacers carry up to 20 ms of unused link time, so the engines
            // catch up after the sleep and the rate holds without a core spent spinning (which, on a small
            // machine, starves the host threads the stream depends on).
            if (_writerPacer is not null && ++idle < 64)
            {
                Thread.Yield();
                continue;
            }

            _kick.WaitOne(_gateware.IdleWait);
        }
    }

    private sealed class BoardCsrBus(SimulatedBoard board) : ICsrBus
    {
        public CsrMap Map => board.Map;

        public uint ReadCsr(uint barOffset) => board.ReadBar(board.Profile.CsrBar.Index, barOffset);

        public void WriteCsr(uint barOffset, uint value) => board.WriteBar(board.Profile.CsrBar.Index, barOffset, value);
    }
}
