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

    /// <summary>Lossless SIL (engines wait for the client); false reproduces real overruns.</summary>
    public bool HostFlowControl { get; init; } = true;

    /// <summary>DMA ring segment size (0 = contiguous); exercises the core's segment walking.</summary>
    public long DmaSegmentSize { get; init; }
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
    public string Address => $"0000:{Index + 1:x2}:00.0";
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
                var slot = new SilSlot(i, profile, board, new SilDevice(board, $"0000:{i + 1:x2}:00.0", DeviceOptions));
                _slots.Add(slot);
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

    private SilDeviceOptions DeviceOptions => new(_options.HostFlowControl, _options.DmaSegmentSize);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<DeviceDescriptor>> EnumerateAsync(CancellationToken cancellationToken = default)
    {
        var found = new List<DeviceDescriptor>();
        foreach (var slot in _slots)
        {
            if (!slot.Board.IsPresent || !slot.Driver.IsStarted)
            {
                continue;
            }

            var cs = PciConfigSpace.Parse(slot.Board.ReadConfigSpace());
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

        var transport = new SilTransport(slot.Driver, client);
        return ValueTask.FromResult<IDeviceSession>(DextSession.Open(transport, device, slot.Profile.CsrMap, "lpc-core (SIL)"));
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        DisposeSlots();
        return ValueTask.CompletedTask;
    }

    private SimulatedBoard CreateBoard(BoardProfile profile, int index) =>
        new(profile, new SimulationOptions
        {
            Faults = _faults,
            Paced = _options.Paced,
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
            slot.Driver.Dispose();
            slot.Board.Dispose();
        }

        _slots.Clear();
    }
}
