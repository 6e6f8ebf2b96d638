using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Linux;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.MacOS.Platform;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Simulation.Sil;

namespace LitePcie.Hil.Cli;

/// <summary>An argument that turned out unusable once the device was known (e.g. <c>--channel 5</c> on a 2-channel design): exit 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>
/// The backend a command runs on, the board it picked and its profile. Built from a <see cref="DeviceRequest"/>:
/// the backend asked for or a device error with the reason it cannot run here — never another backend in its place.
/// </summary>
internal sealed class Bench : IAsyncDisposable
{
    private Bench(IDeviceBackend backend, BoardProfile profile, DeviceDescriptor device, IReadOnlyList<DeviceDescriptor> all)
    {
        Backend = backend;
        Profile = profile;
        Device = device;
        Found = all;
    }

    /// <summary>The backend.</summary>
    public IDeviceBackend Backend { get; }

    /// <summary>The board profile the device is expected to match.</summary>
    public BoardProfile Profile { get; }

    /// <summary>The chosen device.</summary>
    public DeviceDescriptor Device { get; }

    /// <summary>Every device the backend found.</summary>
    public IReadOnlyList<DeviceDescriptor> Found { get; }

    /// <summary>Creates the backend, enumerates and picks the device the request names (or the first one).</summary>
    public static async Task<Bench> OpenAsync(DeviceRequest request, CancellationToken cancellationToken, bool requireDevice = true)
    {
        var backend = CreateBackend(request, out var profile);
        try
        {
            var found = await backend.EnumerateAsync(cancellationToken).ConfigureAwait(false);
            var device = Select(request with { Device = NodeToAddress(backend, request.Device) }, found, requireDevice);
            return new Bench(backend, profile, device ?? new DeviceDescriptor(backend.Name, "-", 0, 0, null, default, 0), found);
        }
        catch
        {
            await backend.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens a session on the chosen device.</summary>
    public async Task<IDeviceSession> SessionAsync(CancellationToken cancellationToken) =>
        await Backend.OpenAsync(Device, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The platform's power, attach and resource-probe controls: the SIL's own; on Linux sysfs/rtcwake where this host
    /// allows them; on macOS pmset and IOKit notifications. The lab's commands (<paramref name="lab"/>: a switch or
    /// relay for attach/detach, a sleep script) take precedence on real platforms, as the suites' runsettings do.
    /// </summary>
    public PlatformControls Platform(LabCommands? lab = null)
    {
        lab ??= LabCommands.None;
        IAttachControl? attach = lab.Attach.Length > 0 ? new CommandAttachControl(lab.Detach, lab.Attach, lab.Timeout) : null;
        IPowerControl? power = lab.Sleep.Length > 0 ? new CommandPowerControl(lab.Sleep, lab.Timeout) : null;
        switch (Backend)
        {
            case SilBackend sil:
                return SilPlatform.For(sil);
            case LinuxBackend linux:
                return LinuxPlatform.For(linux.Paths, attach, power);
            case MacOSBackend:
                var mac = MacOSPlatform.For(attach, TimeSpan.FromSeconds(15));
                return power is null ? mac : mac with { Power = power };
            default:
                return new PlatformControls(power, attach, new ProcessResourceProbe(), $"no platform controls for backend {Backend.Name}");
        }
    }

    /// <summary>Enumerates again (after a detach, attach or sleep) and returns the chosen device if it is on the bus.</summary>
    public async Task<DeviceDescriptor?> FindAgainAsync(CancellationToken cancellationToken) =>
        (await Backend.EnumerateAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(d => d.Address == Device.Address);

    /// <summary>
    /// Polls enumeration until the chosen device is <paramref name="present"/> (re-enumerated after an attach or wake,
    /// or gone after a detach); a <see cref="DeviceTimeoutException"/> naming the wait when the bound expires.
    /// </summary>
    public async Task<DeviceDescriptor?> WaitForAsync(bool present, TimeSpan bound, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var found = await FindAgainAsync(cancellationToken).ConfigureAwait(false);
            if ((found is not null) == present)
            {
                return found;
            }

            if (clock.Elapsed > bound)
            {
                throw new DeviceTimeoutException(Device.Address, present ? "the board to re-enumerate" : "the board to leave the bus", bound);
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => Backend.DisposeAsync();

    private static IDeviceBackend CreateBackend(DeviceRequest request, out BoardProfile profile)
    {
        profile = BoardCatalog.Load(request.BoardOrDefault);
        _ = profile.CsrMap; // a csr.json without a required register is a usage error now, before any backend or device is touched
        switch (request.Backend)
        {
            case DeviceOptions.Linux:
                if (LinuxBackend.Unavailable() is { } linux)
                {
                    throw new DeviceCapabilityException("-", "--backend linux", $"{linux} (the simulator is never used in its place)");
                }

                return new LinuxBackend(profile);
            case DeviceOptions.MacOS:
                if (MacOSBackend.Unavailable() is { } mac)
                {
                    throw new DeviceCapabilityException("-", "--backend macos", $"{mac} (the simulator is never used in its place)");
                }

                return new MacOSBackend([profile]);
            default:
                return new SilBackend(new SilBackendOptions
                {
                    Boards = [request.BoardOrDefault], Faults = request.Faults, Paced = request.Paced,
                    Engine = request.Engine == DeviceOptions.Rtl ? Simulation.Gateware.SimEngine.Rtl : Simulation.Gateware.SimEngine.Model,
                    HostFlowControl = request.Engine != DeviceOptions.Rtl,
                });
        }
    }

    /// <summary>On Linux a channel node (<c>/dev/litepcie0</c>) names the board it belongs to.</summary>
    private static string? NodeToAddress(IDeviceBackend backend, string? device) =>
        backend is LinuxBackend linux && device is not null && device.StartsWith("/dev/", StringComparison.Ordinal)
            ? linux.AddressOfNode(device) ?? device
            : device;

    private static DeviceDescriptor? Select(DeviceRequest request, IReadOnlyList<DeviceDescriptor> found, bool requireDevice)
    {
        if (request.Device is null)
        {
            if (found.Count == 0 && requireDevice)
            {
                throw new DeviceException(DeviceErrorCode.DeviceGone, request.Backend, "no LitePCIe board found on this backend");
            }

            return found.Count > 0 ? found[0] : null;
        }

        // The full address, or its unambiguous tail (01:00.0 for 0000:01:00.0).
        var match = found.Where(d => d.Address == request.Device).ToList();
        if (match.Count == 0)
        {
            match = [.. found.Where(d => d.Address.EndsWith(request.Device, StringComparison.OrdinalIgnoreCase))];
        }

        return match.Count == 1
            ? match[0]
            : throw new CliUsageException($"--device '{request.Device}' {(match.Count == 0 ? "matches no board" : "is ambiguous")} on --backend {request.Backend}; " +
                $"found: {(found.Count == 0 ? "none" : string.Join(", ", found.Select(d => d.Address)))}");
    }
}
