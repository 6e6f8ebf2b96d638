using LitePcie.Hil.Devices;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Simulation.Sil;

/// <summary>The platform seams of the SIL: power, attach and the driver-side resource probe of the simulated bus.</summary>
public static class SilPlatform
{
    /// <summary>Every control the SIL offers, with the test process probe added to its own.</summary>
    public static PlatformControls For(SilBackend backend) =>
        new(new SilPowerControl(backend), new SilAttachControl(backend), new CompositeResourceProbe(new ProcessResourceProbe(), new SilResourceProbe(backend)));
}

/// <summary>System sleep of the simulated bus (D3hot with the OS's save/restore, then D0).</summary>
public sealed class SilPowerControl(SilBackend backend, TimeProvider? time = null) : IPowerControl
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <inheritdoc />
    public string Description => "SIL: SetPowerState(off), config saved, D3hot; D0, config restored, SetPowerState(on)";

    /// <inheritdoc />
    public async Task SleepAsync(TimeSpan duration, Action<PowerEvent> onTransition, CancellationToken cancellationToken)
    {
        long start = _time.GetTimestamp();
        int step = 0;
        var transitions = new[] { PowerTransition.WillSleep, PowerTransition.Asleep, PowerTransition.WillWake, PowerTransition.Awake };
        await backend.SleepAsync(duration, detail => onTransition(new PowerEvent(transitions[Math.Min(step++, 3)], _time.GetElapsedTime(start), detail)),
            _time, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Attach/detach on the simulated bus: the board's presence, and a fresh driver instance on attach.</summary>
public sealed class SilAttachControl(SilBackend backend) : IAttachControl
{
    /// <inheritdoc />
    public string Description => "SIL: surprise removal from the simulated bus / power-up, BAR assignment and a new driver instance";

    /// <summary>As on hardware, a board that already left the bus cannot be taken off it: that is reported, not ignored.</summary>
    public async Task DetachAsync(string device, CancellationToken cancellationToken)
    {
        if (!await backend.DetachAsync(device, cancellationToken).ConfigureAwait(false))
        {
            throw new DeviceGoneException(device, "the board was not on the bus when the detach was issued: it had already left (surprise removal) — device gone");
        }
    }

    /// <summary>An attach that does not bring the board back (attach-fail) is not an error here: re-enumeration times out, as on hardware.</summary>
    public async Task AttachAsync(string device, CancellationToken cancellationToken) => await backend.AttachAsync(device, cancellationToken).ConfigureAwait(false);
}

/// <summary>The driver side of the SIL: the dext core's allocations, waits and timers, live driver instances, the bus's DMA memory.</summary>
public sealed class SilResourceProbe(SilBackend backend) : IResourceProbe
{
    /// <inheritdoc />
    public string Description => "SIL driver side (dext core allocations, waits, timers, instances; simulated DMA memory)";

    /// <inheritdoc />
    public IReadOnlyList<ResourceReading> Sample(string device) =>
        [.. backend.DriverResources(device).Select(r => new ResourceReading(r.Name, r.Value, r.Bytes ? ResourceUnit.Bytes : ResourceUnit.Count))];
}
