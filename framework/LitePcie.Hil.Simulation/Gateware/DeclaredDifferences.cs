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

    /// <summary>The declaration covering an observation, or null.</summary>
    public static DeclaredDifference? Find(string board, string scenario, string observation) => All.FirstOrDefault(d => d.Covers(board, scenario, observation));
}
