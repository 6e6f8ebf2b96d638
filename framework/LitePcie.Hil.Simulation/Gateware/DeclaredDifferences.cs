namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>A difference between the gateware model and the real RTL that the model keeps on purpose.</summary>
/// <param name="Scenario">The conformance scenario that shows it (exact name).</param>
/// <param name="Observation">The observation that differs (exact key, or a prefix ending in <c>*</c>).</param>
/// <param name="Reason">Why the model keeps it.</param>
/// <param name="Board">The board it concerns (null = every board).</param>
public sealed record DeclaredDifference(string Scenario, string Observation, string Reason, string? Board = null)
{
    /// <summary>Whether this declaration covers <paramref name="observation"/> of <paramref name="scenario"/> on <paramref name="board"/>.</summary>
    public bool Covers(string board, string scenario, string observation) =>
        (Board is null || Board == board) && scenario == Scenario &&
        (Observation.EndsWith('*') ? observation.StartsWith(Observation[..^1], StringComparison.Ordinal) : observation == Observation);
}

/// <summary>
/// A way a simulated board behaves unlike the hardware on purpose, whichever engine (model or RTL) computes its gateware:
/// what the conformance tier cannot show, since both engines get it.
/// </summary>
/// <param name="Name">Its name, as the device server's log and summary name it.</param>
/// <param name="Where">Where it is made and how it is switched on or off.</param>
/// <param name="Reason">Why the board keeps it.</param>
public sealed record DeclaredBoardDifference(string Name, string Where, string Reason);

/// <summary>
/// The one place where the gateware model's differences from the real LitePCIe RTL are declared. The conformance
/// tier (<c>Category=Conformance</c>) runs every scenario with identical register-level stimuli on both engines; a
/// difference listed here is reported with its reason, every other difference fails. docs/rtl.md shows this list.
/// </summary>
public static class DeclaredDifferences
{
    /// <summary>Every declared difference.</summary>
    public static IReadOnlyList<DeclaredDifference> All { get; } =
    [
        new("unmapped BAR read", "cycles until the completion",
            "The model has no clock: an access outside every Wishbone slave answers at once with all-ones and counts a bus " +
            "error, where LiteX's bus times out after 1,000,000 cycles (8 ms at 125 MHz). Holding the caller 8 ms per access " +
            "would only slow the SIL; the values, bus_errors and the ordering of later accesses agree and are compared."),
        new("host flow control holds the writer", "*",
            "SimFlowControl=true (the model's default) holds an engine until the client consumed or filled the ring slot: a " +
            "simulation convenience the real gateware does not have (it overwrites and re-reads). The model is unpaced (it " +
            "moves buffers as fast as the host CPU copies), so without it every SIL stream would overrun by design; lossy " +
            "runs (SimFlowControl=false, and every RTL run) agree with the RTL and are compared in 'lossy loop mode'."),
    ];

    /// <summary>Differences of the simulated board (either engine) from the hardware, kept on purpose.</summary>
    public static IReadOnlyList<DeclaredBoardDifference> OfTheBoard { get; } =
    [
        new("guest-pacing",
            "litepcie-hil-device-server --lead N (GuestPacing; lab/linux-guest/run.sh --lead, default 128, 0 = off): the model " +
            "holds an engine before its next descriptor, the RTL engine stops its whole clock (Verilator is not evaluated)",
            "A DMA engine may run at most N buffers ahead of its count when the guest's driver last read its loop_status. The " +
            "hardware never waits for software, and a real host is never stopped for hundreds of milliseconds; a TCG guest on " +
            "a loaded machine is, while the board runs in wall-clock time, so without the coupling the board laps its rings " +
            "and upstream dma_test counts the lost buffers as data errors (measured on the RTL engine: 258 buffers, each one " +
            "the driver logged as 'Reading too late'). While the guest runs, the board behaves as the hardware; holds are " +
            "bounded (250 ms), so a driver that stops looking gets the hardware's behaviour back. Emulated guests only."),
    ];

    /// <summary>The declaration covering an observation, or null.</summary>
    public static DeclaredDifference? Find(string board, string scenario, string observation) => All.FirstOrDefault(d => d.Covers(board, scenario, observation));
}
