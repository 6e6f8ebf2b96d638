using LitePcie.Hil.Devices;
using System.Globalization;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Linux;

/// <summary>The Linux platform seams: rtcwake power, sysfs remove/rescan attach, process and kernel probe.</summary>
public static class LinuxPlatform
{
    /// <summary>Whether the process can write sysfs and trigger suspend (root).</summary>
    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>
    /// The controls on this host; <paramref name="attachCommand"/>/<paramref name="sleepCommand"/> (lab commands) take
    /// precedence. A control the host cannot offer is null and the reason is in <see cref="PlatformControls.MissingReason"/>.
    /// </summary>
    public static PlatformControls For(LinuxPaths paths, IAttachControl? attachCommand, IPowerControl? sleepCommand)
    {
        var missing = new List<string>();
        IAttachControl? attach = attachCommand;
        if (attach is null)
        {
            if (IsRoot)
            {
                attach = new SysfsAttachControl(paths);
            }
            else
            {
                missing.Add("attach/detach through sysfs remove/rescan needs root (or set AttachCommand/DetachCommand for a lab switch)");
            }
        }

        IPowerControl? power = sleepCommand;
        if (power is null)
        {
            if (RtcWakePowerControl.Unavailable(paths) is { } why)
            {
                missing.Add(why);
            }
            else
            {
                power = new RtcWakePowerControl();
            }
        }

        return new PlatformControls(power, attach, new CompositeResourceProbe(new ProcessResourceProbe(), new LinuxKernelProbe(paths)), string.Join("; ", missing));
    }
}

/// <summary>
/// Detach/attach through sysfs, as litepcie's rescan.py does: write 1 to the function's <c>remove</c>, then 1 to
/// the bus's <c>rescan</c> (or the hot-plug slot's <c>power</c> where the function sits in one). Root only.
/// </summary>
public sealed class SysfsAttachControl(LinuxPaths paths) : IAttachControl
{
    /// <inheritdoc />
    public string Description => "sysfs: /sys/bus/pci/devices/<bdf>/remove, /sys/bus/pci/rescan (slot power where present)";

    /// <inheritdoc />
    public async Task DetachAsync(string device, CancellationToken cancellationToken)
    {
        string slot = SlotPower(device) ?? "";
        if (slot.Length > 0)
        {
            await File.WriteAllTextAsync(slot, "0", cancellationToken).ConfigureAwait(false);
            return;
        }

        string remove = Path.Combine(paths.PciDevices, device, "remove");
        if (!File.Exists(remove))
        {
            throw new DeviceGoneException(device, $"{remove} does not exist: {device} is not on the bus — device gone");
        }

        await File.WriteAllTextAsync(remove, "1", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task AttachAsync(string device, CancellationToken cancellationToken)
    {
        if (SlotPower(device) is { } slot)
        {
            await File.WriteAllTextAsync(slot, "1", cancellationToken).ConfigureAwait(false);
        }

        await File.WriteAllTextAsync(Path.Combine(paths.Sys, "bus", "pci", "rescan"), "1", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The <c>power</c> file of the hot-plug slot holding <paramref name="device"/>, if any (slot address = bus:device).</summary>
    private string? SlotPower(string device)
    {
        string slots = Path.Combine(paths.Sys, "bus", "pci", "slots");
        if (!Directory.Exists(slots))
        {
            return null;
        }

        string busDevice = device[..device.LastIndexOf('.')];
        foreach (var slot in Directory.EnumerateDirectories(slots))
        {
            string address = Path.Combine(slot, "address");
            if (File.Exists(address) && File.ReadAllText(address).Trim() == busDevice && File.Exists(Path.Combine(slot, "power")))
            {
                return Path.Combine(slot, "power");
            }
        }

        return null;
    }
}

/// <summary>Suspend to RAM and wake on the RTC alarm: <c>rtcwake -m mem -s N</c> (returns once awake).</summary>
public sealed class RtcWakePowerControl(TimeProvider? time = null) : IPowerControl
{
    private readonly CommandPowerControl _command = new("rtcwake -m mem -s {seconds}", TimeSpan.FromSeconds(120), time);

    /// <inheritdoc />
    public string Description => "rtcwake -m mem -s N (suspend to RAM, RTC wake)";

    /// <summary>Why suspend/resume cannot be driven here, or null.</summary>
    public static string? Unavailable(LinuxPaths paths)
    {
        string state = Path.Combine(paths.Sys, "power", "state");
        if (!File.Exists(state))
        {
            return $"{state} does not exist: this kernel offers no system sleep";
        }

        if (!File.ReadAllText(state).Split(' ', StringSplitOptions.TrimEntries).Contains("mem"))
        {
            return $"{state} lists '{File.ReadAllText(state).Trim()}': no suspend to RAM (mem) on this machine (a VM often has none)";
        }

        if (!new[] { "/usr/sbin/rtcwake", "/sbin/rtcwake", "/usr/bin/rtcwake", "/bin/rtcwake" }.Any(File.Exists))
        {
            return "rtcwake (util-linux) is not installed";
        }

        return LinuxPlatform.IsRoot ? null : "suspend with rtcwake needs root";
    }

    /// <inheritdoc />
    public Task SleepAsync(TimeSpan duration, Action<PowerEvent> onTransition, CancellationToken cancellationToken) =>
        _command.SleepAsync(duration, onTransition, cancellationToken);
}

/// <summary>
/// Kernel-side resources visible without a debug kernel: unreclaimable slab (kmalloc'd driver objects land there) and
/// the litepcie module's reference count (open files).
/// </summary>
public sealed class LinuxKernelProbe(LinuxPaths paths) : IResourceProbe
{
    /// <inheritdoc />
    public string Description => "kernel (SUnreclaim from /proc/meminfo, litepcie module refcnt)";

    /// <inheritdoc />
    public IReadOnlyList<ResourceReading> Sample(string device)
    {
        var readings = new List<ResourceReading>();
        string meminfo = Path.Combine(paths.Proc, "meminfo");
        if (File.Exists(meminfo))
        {
            foreach (var line in File.ReadLines(meminfo))
            {
                if (line.StartsWith("SUnreclaim:", StringComparison.Ordinal))
                {
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    readings.Add(new ResourceReading("kernel.slab_unreclaimable_bytes", long.Parse(f[1], CultureInfo.InvariantCulture) * 1024, ResourceUnit.Bytes));
                }
            }
        }

        string refcnt = Path.Combine(paths.Sys, "module", "litepcie", "refcnt");
        if (File.Exists(refcnt) && int.TryParse(File.ReadAllText(refcnt).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int refs))
        {
            readings.Add(new ResourceReading("driver.module_references", refs, ResourceUnit.Count));
        }

        return readings;
    }
}
