using LitePcie.Hil.Boards;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.Backends;

/// <summary>The lab's own commands for a platform control: a programmable switch or relay, a sleep script.</summary>
/// <param name="Detach">Takes the board off the bus (<c>{device}</c> = its address); empty = the platform's own.</param>
/// <param name="Attach">Puts it back.</param>
/// <param name="Sleep">Sleeps the host and returns after wake (<c>{seconds}</c> = duration); empty = the platform's own.</param>
/// <param name="Timeout">Bound on each command.</param>
public sealed record LabCommands(string Detach, string Attach, string Sleep, TimeSpan Timeout)
{
    /// <summary>No lab command: the platform's own controls.</summary>
    public static LabCommands None { get; } = new("", "", "", TimeSpan.FromSeconds(60));
}

/// <summary>
/// What a run asks of a backend, whoever asks (runsettings, the command line, the fault matrix): the boards, the
/// device, the simulator's settings and the lab's commands. Providers read only what applies to them.
/// </summary>
public sealed record BackendRequest
{
    /// <summary>Backend name: <c>sim</c>, <c>linux</c> or <c>macos</c> (<see cref="BackendRegistry.Names"/>).</summary>
    public string Backend { get; init; } = SimBackendProvider.Name;

    /// <summary>Board profiles (names or paths): one simulated board each; on a platform, what the devices should look like.</summary>
    public IReadOnlyList<string> Boards { get; init; } = [BoardCatalog.DefaultBoard];

    /// <summary>The device to use (an address, a tail of one, a device node); empty = every board found.</summary>
    public string Device { get; init; } = "";

    /// <summary>How the caller names the backend in an error (<c>Backend=linux</c>, <c>--backend linux</c>).</summary>
    public string AskedAs { get; init; } = "";

    /// <summary>What an error adds after the reason a platform backend cannot run: it is never replaced by the simulator.</summary>
    public string NeverReplaced { get; init; } = "; it is never replaced by the simulator";

    /// <summary>Simulator: fault string for every board.</summary>
    public string? Faults { get; init; }

    /// <summary>Simulator: pace DMA to each board's link payload rate.</summary>
    public bool Paced { get; init; }

    /// <summary>Simulator: lossless host flow control (the model's engines wait for the client); the RTL engine has none.</summary>
    public bool FlowControl { get; init; } = true;

    /// <summary>Simulator: which engine computes each board's gateware, our model or the board's real RTL.</summary>
    public SimEngine Engine { get; init; } = SimEngine.Model;

    /// <summary>The lab's attach/detach and sleep commands; on a platform they take precedence over its own controls.</summary>
    public LabCommands Lab { get; init; } = LabCommands.None;

    /// <summary>Bound on a device re-enumerating after attach (macOS: how long an IOKit match notification is awaited).</summary>
    public TimeSpan ReenumerationTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The name of the backend in errors: <see cref="AskedAs"/>, or <c>Backend=name</c>.</summary>
    public string Asked => AskedAs.Length > 0 ? AskedAs : $"Backend={Backend}";
}

/// <summary>One board a backend can reach, known without opening it.</summary>
/// <param name="Address">Its address (a PCI address, or a registry id on macOS without pcidebug).</param>
/// <param name="Board">The profile name it matches.</param>
public sealed record DiscoveredBoard(string Address, string Board);

/// <summary>What discovery found, or the reason it found nothing.</summary>
public sealed record BackendDiscovery(IReadOnlyList<DiscoveredBoard> Boards, string? Reason)
{
    /// <summary>Nothing found, with the reason.</summary>
    public static BackendDiscovery None(string reason) => new([], reason);
}
