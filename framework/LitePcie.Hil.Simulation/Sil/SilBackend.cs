using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Faults;

namespace LitePcie.Hil.Simulation.Sil;

/// <summary>The transport of one SIL user client: a direct call into the core in <c>liblpc_sil</c>.</summary>
internal sealed class SilTransport(SilDevice device, uint client) : IDextTransport
{
    private int _closed;

    public string Device => device.Address;

    public int Call(DextSelector selector, ReadOnlySpan<ulong> scalarInput, ReadOnlySpan<byte> structInput,
        Span<ulong> scalarOutput, Span<byte> structOutput, out int structOutputSize) =>
        device.Call(client, selector, scalarInput, structInput, scalarOutput, structOutput, out structOutputSize);

    public int CallAsync(DextSelector selector, ReadOnlySpan<ulong> scalarInput, out Task<DextCompletion> completion) =>
        device.CallAsync(client, selector, scalarInput, out completion);

    public DextMapping Map(DextMemoryKind kind, int channel)
    {
        int status = device.Map(client, kind, channel, out var mapping);
        return status == IOReturn.Success
            ? mapping
            : throw DextClient.ToException(Device, DextSelector.GetInfo, status, $"CopyClientMemoryForType({kind}, channel {channel}) refused");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            device.CloseClient(client);
        }
    }
}

/// <summary>Options of the software-in-the-loop backend.</summary>
public sealed record SilBackendOptions
{
    /// <summary>Board profiles (names or paths), one simulated board each.</summary>
    public IReadOnlyList<string> Boards { get; init; } = [BoardCatalog.DefaultBoard];

    /// <summary>Fault string for every board (see <see cref="FaultPlan"/>).</summary>
    public string? Faults { get; init; }

    /// <summary>Pace DMA to each board's link payload rate.</summary>
    public bool Paced { get; init; }

    /// <summary>Lossless SIL (engines wait for the client); false reproduces real overruns. The RTL engine has no flow control.</summary>
    public bool HostFlowControl { get; init; } = true;

    /// <summary>Which engine runs each board's gateware: our model or the board's real RTL.</summary>
    public Gateware.SimEngine Engine { get; init; } = Gateware.SimEngine.Model;

    /// <summary>How the RTL engine's root complex behaves.</summary>
    public Gateware.RtlEngineOptions Rtl { get; init; } = new();

    /// <summary>DMA ring segment size (0 = contiguous); exercises the core's segment walking.</summary>
    public long DmaSegmentSize { get; init; }

    /// <summary>The engines run ahead of the host after every register write (see <see cref="SimulationOptions.HardwareRunsAhead"/>).</summary>
    public bool HardwareRunsAhead { get; init; }
}

/// <summary>One slot of the simulated PCI bus: a board, and the driver bound to it.</summary>
public sealed class SilSlot
{
    internal SilSlot(int index, BoardProfile profile, SimulatedBoard board, SilDevice driver)
    {
        Index = index;
        Profile = profile;
        Board = board;
        Driver = driver;
    }

    /// <summary>Slot number.</summary>
    public int Index { get; }

    /// <summary>The board's profile.</summary>
    public BoardProfile Profile { get; }

    /// <summary>The board model.</summary>
    public SimulatedBoard Board { get; internal set; }

    /// <summary>The dext core bound to it.</summary>
    public SilDevice Driver { get; internal set; }

    /// <summary>PCI address.</summary>
    public string Address => PciAddress.OfSimulatedSlot(Index).ToString();

    /// <summary>Attaches since the backend started (the attach-fail fault counts these).</summary>
    public int Attaches { get; internal set; }

    /// <summary>Allocations the attach-leak fault leaked on purpose (never freed until the backend is disposed).</summary>
    internal List<HostAllocation> Leaked { get; } = [];

    /// <summary>Driver instances not yet freed (a retired one lives until its last client closes).</summary>
    internal List<SilDevice> Instances { get; } = [];

    /// <summary>Serialises attach, detach and power transitions of this slot.</summary>
    internal SemaphoreSlim Gate { get; } = new(1, 1);
}

/// <summary>
/// The default backend: simulated boards on a simulated PCI bus, each driven by the dext's own core
/// compiled for this host. Sessions speak the dext's method table exactly as on macOS.
/// </summary>
public sealed class SilBackend : IDeviceBackend
{
    /// <summary>Backend name in options and reports.</summary>
    public const string BackendName = "sim";

    private readonly List<SilSlot> _slots = [];
    private readonly SilBackendOptions _options;
    private readonly FaultPlan _faults;
    private readonly System.Collections.Concurrent.ConcurrentBag<byte[]> _clientLeak = [];

    /// <summary>The simulator backend: each board <paramref name="options"/> names (the default board when null) as a simulated function driven by the dext core.</summary>
    public SilBackend(SilBackendOptions? options = null)
    {
        _options = options ?? new SilBackendOptions();
        _faults = FaultPlan.Parse(_options.Faults);
        try
        {
            for (int i = 0; i < _options.Boards.Count; i++)
            {
                var profile = BoardCatalog.Load(_options.Boards[i]);
                var board = CreateBoard(profile, i);
                var slot = new SilSlot(i, profile, board, new SilDevice(board, PciAddress.OfSimulatedSlot(i).ToString(), DeviceOptions));
                _slots.Add(slot);
                slot.Instances.Add(slot.Driver);
                board.Removed += _ => slot.Driver.Retire(); // the OS terminates the driver of a board that left the bus
                Bind(slot);
            }
        }
        catch
        {
            DisposeSlots();
            throw;
        }
    }

    /// <inheritdoc />
    public string Name => BackendName;

    /// <summary>The simulated bus (for the platform seams and tests).</summary>
    public IReadOnlyList<SilSlot> Slots => _slots;

    /// <summary>The faults every board runs with.</summary>
    public FaultPlan Faults => _faults;

    private SilDeviceOptions DeviceOptions => new(_options.HostFlowControl && _options.Engine == Gateware.SimEngine.Model, _options.DmaSegmentSize);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<DeviceDescriptor>> EnumerateAsync(CancellationToken cancellationToken = default)
    {
        var found = new List<DeviceDescriptor>();
        foreach (var slot in _slots)
        {
            // Other boards attach and detach concurrently (one fixture per board): presence and config space are
            // read as one, so a board leaving the bus mid-enumeration is simply not found.
            if (!slot.Driver.IsStarted || !slot.Board.TryReadConfigSpace(out var config))
            {
                continue;
            }

            var cs = PciConfigSpace.Parse(config);
            var pcie = cs.Find<PciExpressCapability>();
            found.Add(new DeviceDescriptor(Name, slot.Address, cs.VendorId, cs.DeviceId, slot.Profile.Name,
                pcie?.LinkSpeed ?? PciLinkSpeed.Unknown, pcie?.LinkWidth ?? 0));
        }

        return ValueTask.FromResult<IReadOnlyList<DeviceDescriptor>>(found);
    }

    /// <inheritdoc />
    public ValueTask<IDeviceSession> OpenAsync(DeviceDescriptor device, CancellationToken cancellationToken = default)
    {
        var slot = _slots.FirstOrDefault(s => s.Address == device.Address)
            ?? throw new DeviceGoneException(device.Address, $"no simulated board at {device.Address}");
        if (!slot.Board.IsPresent || !slot.Driver.IsStarted)
        {
            throw new DeviceGoneException(device.Address, "the simulated board is detached or its driver is not started");
        }

        int status = slot.Driver.OpenClient(out uint client);
        if (status != IOReturn.Success)
        {
            throw DextClient.ToException(device.Address, DextSelector.GetInfo, status,
                status == IOReturn.ExclusiveAccess ? "another client holds this device (one client per device)" : "NewUserClient refused");
        }

        if (_faults.Has(FaultKind.DriverNativeLeak))
        {
            LpcSilNative.DebugLeak((ulong)_faults.Value(FaultKind.DriverNativeLeak)); // a driver path that forgets an allocation per open
        }

        if (_faults.Has(FaultKind.ClientLeak))
        {
            _clientLeak.Add(new byte[(int)_faults.Value(FaultKind.ClientLeak)]); // a client library that keeps something per open
        }

        var transport = new SilTransport(slot.Driver, client);
        return ValueTask.FromResult<IDeviceSession>(DextSession.Open(transport, device, slot.Profile.CsrMap,
            slot.Board.Engine == Gateware.SimEngine.Rtl ? "lpc-core (SIL, RTL engine)" : "lpc-core (SIL)"));
    }

    /// <summary>The slot at a PCI address.</summary>
    public SilSlot Slot(string address) =>
        _slots.FirstOrDefault(s => s.Address == address)
        ?? throw new DeviceArgumentException(address, "device", address, $"a simulated board address ({string.Join(", ", _slots.Select(s => s.Address))})");

    /// <summary>
    /// The board leaves the bus (a surprise removal when a session is open): reads go all-ones, the driver is
    /// told the device is gone and is torn down once its last client closed. Returns false when the board was not
    /// on the bus (it had already left: a surprise removal, a failed attach).
    /// </summary>
    public async Task<bool> DetachAsync(string address, CancellationToken cancellationToken = default)
    {
        var slot = Slot(address);
        await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // One atomic step: reading IsPresent first left a window (the lock wait) in which the surprise-removal fault could
            // fire and then be counted as this planned detach (fault matrix, sim-kc705-msix64-noloop, twice in CI).
            bool present = slot.Board.SurpriseRemove();
            slot.Driver.Retire();
            return present;
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    /// <summary>
    /// The board comes back: it powers up fresh, firmware assigns its BARs and a new instance of the driver
    /// starts on it (as the dext is matched again). Returns false when the attach failed (the attach-fail
    /// fault: the link does not train and the board stays off the bus until the next attach).
    /// </summary>
    public async Task<bool> AttachAsync(string address, CancellationToken cancellationToken = default)
    {
        var slot = Slot(address);
        await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (slot.Board.IsPresent && slot.Driver.IsStarted && !slot.Driver.IsRetired)
            {
                return true; // already on the bus
            }

            slot.Driver.Retire();
            slot.Attaches++;
            if (_faults.Has(FaultKind.AttachFail) && slot.Attaches % (int)_faults.Value(FaultKind.AttachFail) == 0)
            {
                return false;
            }

            slot.Board.Reattach();
            slot.Driver = new SilDevice(slot.Board, slot.Address, DeviceOptions);
            slot.Instances.Add(slot.Driver);
            slot.Instances.RemoveAll(d => d.IsDisposed);
            Bind(slot);
            if (_faults.Has(FaultKind.AttachLeak))
            {
                // A driver that forgets one allocation per attach: visible in the DMA memory the bus accounts for.
                slot.Leaked.Add(slot.Board.Memory.Allocate((long)_faults.Value(FaultKind.AttachLeak), $"{slot.Address} attach-leak (never freed)"));
            }

            return true;
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    /// <summary>
    /// System sleep for every board on the bus, as the OS does it: drivers are told (SetPowerState off), the
    /// OS saves each function's config registers and puts it in D3hot; after <paramref name="duration"/> the
    /// function returns to D0 (an internal reset), the OS restores its registers and drivers are told again.
    /// Faults: wake-state-loss skips the restore; wake-no-return leaves the board off the bus. The sleep lasts
    /// <paramref name="duration"/> on <paramref name="time"/> (the power control's clock; the system clock by default).
    /// </summary>
    public async Task SleepAsync(TimeSpan duration, Action<string>? transition = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var present = _slots.Where(s => s.Board.IsPresent).ToList();
        foreach (var slot in present)
        {
            await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var saved = new Dictionary<SilSlot, ConfigSnapshot>();
            transition?.Invoke($"will sleep: {present.Count} board(s) told SetPowerState(off)");
            foreach (var slot in present)
            {
                slot.Driver.SetPowerState(false);
                saved[slot] = SimulatedHostEnumeration.SaveState(slot.Board);
                SetPowerState(slot.Board, PciPowerState.D3Hot);
            }

            transition?.Invoke("asleep: functions in D3hot");
            await Task.Delay(duration, time ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
            transition?.Invoke("will wake: functions back to D0");
            foreach (var slot in present)
            {
                SetPowerState(slot.Board, PciPowerState.D0);
                if (_faults.Has(FaultKind.WakeNoReturn))
                {
                    slot.Board.SurpriseRemove(); // the link never retrains: the board is gone for the OS
                }
                else if (!_faults.Has(FaultKind.WakeStateLoss))
                {
                    var snapshot = _faults.Has(FaultKind.WakeMsiLoss) ? SimulatedHostEnumeration.WithoutInterruptCapabilities(slot.Board, saved[slot]) : saved[slot];
                    SimulatedHostEnumeration.RestoreState(slot.Board, snapshot);
                }

                slot.Driver.SetPowerState(true);
            }

            transition?.Invoke("awake: drivers told SetPowerState(on)");
        }
        finally
        {
            foreach (var slot in present)
            {
                slot.Gate.Release();
            }
        }
    }

    /// <summary>Driver-side and bus-side resources of a slot (what the SIL resource probe reads).</summary>
    public IReadOnlyList<(string Name, double Value, bool Bytes)> DriverResources(string address)
    {
        var slot = Slot(address);
        var st = slot.Driver.Stats();
        return
        [
            ("driver.live_dma_buffers", st.LiveDmaBuffers, false),
            ("driver.live_dma_bytes", st.LiveDmaBytes, true),
            ("driver.shared_bytes", st.LiveSharedBytes, true),
            ("driver.pending_waits", st.PendingWaits, false),
            ("driver.armed_timers", st.LiveTimers, false),
            ("driver.live_instances", SilDevice.LiveDevices(), false),
            ("driver.native_allocations", st.NativeAllocations, false),
            ("driver.native_bytes", st.NativeBytes, true),
            ("bus.dma_memory_bytes", slot.Board.Memory.AllocatedBytes, true),
            ("bus.dma_allocations", slot.Board.Memory.LiveAllocations, false),
        ];
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        DisposeSlots();
        return ValueTask.CompletedTask;
    }

    private static void SetPowerState(SimulatedBoard board, PciPowerState state)
    {
        var pm = PciConfigSpace.Parse(board.ReadConfigSpace()).Find<PowerManagementCapability>();
        if (pm is not null)
        {
            uint pmcsr = board.ReadConfig(pm.Offset + 4, 2);
            board.WriteConfig(pm.Offset + 4, 2, (pmcsr & ~3u) | (uint)state);
        }
    }

    private SimulatedBoard CreateBoard(BoardProfile profile, int index) =>
        new(profile, new SimulationOptions
        {
            Faults = _faults,
            Paced = _options.Paced,
            HardwareRunsAhead = _options.HardwareRunsAhead,
            Engine = _options.Engine,
            Rtl = _options.Rtl,
            SerialNumber = 0x4C50_4349_0000_0001UL + (ulong)index,
        });

    /// <summary>What firmware and the OS do when a board appears: assign BARs, enable decode, start the driver.</summary>
    private static void Bind(SilSlot slot)
    {
        SimulatedHostEnumeration.AssignBars(slot.Board, 0xE000_0000UL + (ulong)slot.Index * 0x0100_0000UL);
        int status = slot.Driver.Start(BoardLayoutBuilder.Build(slot.Profile));
        if (status != IOReturn.Success)
        {
            throw new DeviceException(DeviceErrorCode.IoError, slot.Address,
                $"the dext core refused to start on board {slot.Profile.Name}: {IOReturn.Name(status)}; log: {string.Join(" | ", slot.Driver.Log)}");
        }

        // As the DriverKit glue does: ConfigureInterrupts after the core's Start (whose SoC reset clears MSI state).
        SimulatedHostEnumeration.EnableInterrupts(slot.Board);
    }

    private void DisposeSlots()
    {
        foreach (var slot in _slots)
        {
            foreach (var driver in slot.Instances)
            {
                driver.Dispose();
            }

            slot.Board.Dispose();
            slot.Gate.Dispose();
        }

        _slots.Clear();
    }
}
