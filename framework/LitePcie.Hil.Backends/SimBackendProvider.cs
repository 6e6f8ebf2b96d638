using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Gateware;
using LitePcie.Hil.Simulation.Sil;

namespace LitePcie.Hil.Backends;

/// <summary>
/// The simulator: one simulated board per profile on a simulated bus (board i at <see cref="PciAddress.OfSimulatedSlot"/>),
/// each driven by the dext's core compiled for this host, its gateware computed by our model or by the board's real RTL
/// (<see cref="BackendRequest.Engine"/>). Its platform controls are its own (simulated attach, sleep and resources).
/// </summary>
public sealed class SimBackendProvider : IBackendProvider, IBoardServer
{
    /// <summary>Backend name.</summary>
    public const string Name = SilBackend.BackendName;

    /// <inheritdoc />
    public string BackendName => Name;

    /// <summary>Null, or why the RTL engine cannot run one of the boards here (its Verilated model is not built).</summary>
    public string? Unavailable(BackendRequest request) =>
        request.Engine == SimEngine.Model ? null
        : request.Boards.Select(b => SimulatedBoard.EngineUnavailable(BoardCatalog.Load(b), request.Engine)).FirstOrDefault(r => r is not null);

    /// <inheritdoc />
    public IDeviceBackend Create(BackendRequest request) => Create(request, request.Boards, request.Faults);

    /// <summary>A simulator of <paramref name="boards"/> with <paramref name="faults"/>, otherwise as <paramref name="request"/> says.</summary>
    public static SilBackend Create(BackendRequest request, IReadOnlyList<string> boards, string? faults) =>
        new(new SilBackendOptions
        {
            Boards = boards,
            Faults = faults,
            Paced = request.Paced,
            HostFlowControl = request.FlowControl,
            Engine = request.Engine,
        });

    /// <summary>One board of the request on its own, for the device server: the request's faults, engine and pacing, its DMA on the host's bus.</summary>
    public SimulatedBoard Serve(BackendRequest request, BoardServing serving) =>
        new(BoardCatalog.Load(request.Boards[0]), new SimulationOptions
        {
            Faults = Simulation.Faults.FaultPlan.Parse(request.Faults),
            Paced = request.Paced || serving.PacedBytesPerSecond is not null,
            PacedBytesPerSecond = serving.PacedBytesPerSecond,
            Engine = request.Engine,
            BusAddressSpace = serving.Bus,
        });

    /// <summary>Every simulated board is a target (no backend is created to find them).</summary>
    public BackendDiscovery Discover(BackendRequest request)
    {
        var all = request.Boards.Select((board, i) => new DiscoveredBoard(PciAddress.OfSimulatedSlot(i).ToString(), BoardCatalog.Load(board).Name)).ToList();
        var boards = all.Where(t => request.Device.Length == 0 || t.Address == request.Device).ToList();
        return boards.Count > 0
            ? new BackendDiscovery(boards, null)
            : BackendDiscovery.None($"no simulated board at Device={request.Device} (simulated boards: {string.Join(", ", all.Select(b => b.Address))})");
    }

    /// <summary>The profile of the board in the address's slot.</summary>
    public BoardProfile ProfileFor(BackendRequest request, string address, string board) =>
        BoardCatalog.Load(request.Boards[PciAddress.Parse(address).SimulatedSlot]);

    /// <inheritdoc />
    public PlatformControls? Platform(BackendRequest request, IDeviceBackend backend) => backend is SilBackend sil ? SilPlatform.For(sil) : null;
}
