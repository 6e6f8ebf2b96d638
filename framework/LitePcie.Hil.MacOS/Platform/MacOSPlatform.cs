using LitePcie.Hil.Platform;

namespace LitePcie.Hil.MacOS.Platform;

/// <summary>The platform seams of a Mac lab host.</summary>
public static class MacOSPlatform
{
    /// <summary>
    /// Every control a Mac offers: sleep through <see cref="MacOSPowerControl"/> (when root), attach/detach through
    /// <paramref name="labAttach"/> confirmed by IOKit notifications (when a lab command is configured), and the test
    /// process plus <see cref="MacOSResourceProbe"/>. A missing control is named in <see cref="PlatformControls.MissingReason"/>.
    /// </summary>
    /// <param name="labAttach">What causes detach/attach (e.g. <see cref="CommandAttachControl"/>), or null when none is configured.</param>
    /// <param name="notificationTimeout">Bound of the IOKit notification after a lab command.</param>
    /// <param name="power">Sleep options.</param>
    /// <param name="probe">Resource probe options.</param>
    public static PlatformControls For(IAttachControl? labAttach, TimeSpan notificationTimeout, MacOSPowerOptions? power = null, MacOSProbeOptions? probe = null)
    {
        var sleep = new MacOSPowerControl(power);
        string? sleepMissing = sleep.MissingReason;
        string? attachMissing = labAttach is null
            ? "no attach/detach control for Backend=macos: set AttachCommand and DetachCommand (a programmable Thunderbolt/USB4 switch or relay)"
            : OperatingSystem.IsMacOS() ? null : "no IOKit attach notifications: not macOS";
        var attach = attachMissing is null ? new MacOSAttachControl(labAttach!, notificationTimeout) : null;
        return new PlatformControls(
            sleepMissing is null ? sleep : null,
            attach,
            new CompositeResourceProbe(new ProcessResourceProbe(), new MacOSResourceProbe(probe)),
            string.Join("; ", new[] { sleepMissing is null ? null : "no sleep/wake control: " + sleepMissing, attachMissing }.OfType<string>()));
    }
}
