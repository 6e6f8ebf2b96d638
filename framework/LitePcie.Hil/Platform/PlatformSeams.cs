namespace LitePcie.Hil.Platform;

/// <summary>A power transition the platform went through.</summary>
public enum PowerTransition
{
    /// <summary>The system (or the board's power domain) is about to sleep; drivers are told.</summary>
    WillSleep,

    /// <summary>Asleep: the function is in D3 (or powered off).</summary>
    Asleep,

    /// <summary>Waking: power is back, the OS restores the function.</summary>
    WillWake,

    /// <summary>Awake: drivers have been told; the device may still be re-appearing.</summary>
    Awake,
}

/// <summary>One power transition, with when it happened (since the sleep began) and what the platform said.</summary>
public sealed record PowerEvent(PowerTransition Transition, TimeSpan At, string Detail);

/// <summary>
/// Sleeps and wakes the machine or the board's power domain. SIL: the function goes to D3hot and back with the
/// OS's config save/restore; Linux: <c>rtcwake</c>; macOS: <c>IOPMSchedulePowerEvent</c>/<c>pmset</c>; labs: a command.
/// </summary>
public interface IPowerControl
{
    /// <summary>What this control does, for reports (e.g. "rtcwake -m mem").</summary>
    string Description { get; }

    /// <summary>
    /// Sleeps for about <paramref name="duration"/> and wakes, reporting each transition. Returns once awake; the
    /// board may still be re-appearing, which the caller waits for (bounded).
    /// </summary>
    Task SleepAsync(TimeSpan duration, Action<PowerEvent> onTransition, CancellationToken cancellationToken);
}

/// <summary>
/// Takes a board off the bus and puts it back. SIL: the model's presence; Linux: sysfs remove/rescan; macOS and
/// labs: commands driving a programmable Thunderbolt/PCIe switch or power relay.
/// </summary>
public interface IAttachControl
{
    /// <summary>What this control does, for reports.</summary>
    string Description { get; }

    /// <summary>
    /// The board at <paramref name="device"/> leaves the bus (a surprise removal if a session is open). Throws
    /// <see cref="Devices.DeviceGoneException"/> where the platform can tell that the board was not on the bus
    /// (it left before the planned detach), so an unplanned removal is never mistaken for the planned one.
    /// </summary>
    Task DetachAsync(string device, CancellationToken cancellationToken);

    /// <summary>The board comes back; re-enumeration is what the caller then waits for (bounded).</summary>
    Task AttachAsync(string device, CancellationToken cancellationToken);
}

/// <summary>Unit of a resource reading (what a leak slope is expressed in).</summary>
public enum ResourceUnit
{
    /// <summary>The reading counts bytes (heap, private memory, driver allocations).</summary>
    Bytes,
    /// <summary>The reading counts objects (handles, threads, buffers, waits).</summary>
    Count,
}

/// <summary>One resource sample.</summary>
/// <param name="Name">Stable name, e.g. <c>process.managed_bytes</c>, <c>driver.live_dma_buffers</c>.</param>
/// <param name="Value">The reading.</param>
/// <param name="Unit">Bytes or a count.</param>
public sealed record ResourceReading(string Name, double Value, ResourceUnit Unit);

/// <summary>
/// Samples resources once per cycle: the test process (managed and native memory, handles, threads) and the
/// driver side's own counters (SIL: the core's and the model's allocations; macOS: ioclasscount and the
/// dext's footprint; Linux: slab and kmemleak where available).
/// </summary>
public interface IResourceProbe
{
    /// <summary>What this probe reads, for reports.</summary>
    string Description { get; }

    /// <summary>One sample of every resource it knows for <paramref name="device"/>.</summary>
    IReadOnlyList<ResourceReading> Sample(string device);
}

/// <summary>Several probes read as one.</summary>
public sealed class CompositeResourceProbe(params IResourceProbe[] probes) : IResourceProbe
{
    /// <inheritdoc />
    public string Description => string.Join(" + ", probes.Select(p => p.Description));

    /// <inheritdoc />
    public IReadOnlyList<ResourceReading> Sample(string device) => [.. probes.SelectMany(p => p.Sample(device))];
}

/// <summary>
/// What a platform offers the cycling suites; a missing control is a skip with <see cref="MissingReason"/>,
/// never a silent substitute.
/// </summary>
public sealed record PlatformControls(IPowerControl? Power, IAttachControl? Attach, IResourceProbe Probe, string MissingReason = "");
