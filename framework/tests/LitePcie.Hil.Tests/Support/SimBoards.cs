using LitePcie.Hil.Boards;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Faults;

namespace LitePcie.Hil.Tests.Support;

/// <summary>Builds simulated boards for model tests.</summary>
internal static class SimBoards
{
    public static BoardProfile Profile(string name = BoardCatalog.DefaultBoard) => BoardCatalog.Load(name);

    /// <summary>A board stepped by the test (no hardware thread), optionally with faults.</summary>
    public static SimulatedBoard Manual(string name = BoardCatalog.DefaultBoard, string? faults = null) =>
        new(Profile(name), new SimulationOptions { RunHardwareThread = false, Faults = FaultPlan.Parse(faults) });

    /// <summary>A board whose engines run on their own thread.</summary>
    public static SimulatedBoard Running(string name = BoardCatalog.DefaultBoard, string? faults = null, bool paced = false) =>
        new(Profile(name), new SimulationOptions { Faults = FaultPlan.Parse(faults), Paced = paced });

    /// <summary>What firmware/OS enumeration does: assign BAR addresses and enable memory space (no bus mastering).</summary>
    public static void Enumerate(SimulatedBoard board) => SimulatedHostEnumeration.AssignBars(board);

    /// <summary>Enumerate plus bus mastering.</summary>
    public static void EnumerateWithBusMaster(SimulatedBoard board)
    {
        Enumerate(board);
        board.WriteConfig(0x04, 2, (uint)(PciCommand.MemorySpace | PciCommand.BusMaster));
    }
}
