using LitePcie.Hil.Backends;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Cli;

/// <summary>An argument that turned out unusable once the device was known (e.g. <c>--channel 5</c> on a 2-channel design): exit 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>
/// The backend a command runs on, the board it picked and its profile. Built from a <see cref="DeviceRequest"/>:
/// the backend asked for or a device error with the reason it cannot run here — never another backend in its place.
/// </summary>
internal sealed class Bench : IAsyncDisposable
{
    private readonly BackendRequest _request;

    private Bench(BackendRequest request, IDeviceBackend backend, BoardProfile profile, DeviceDescriptor device, IReadOnlyList<DeviceDescriptor> all)
    {
        _request = request;
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
        var profile = BoardCatalog.Load(request.BoardOrDefault);
        _ = profile.CsrMap; // a csr.json without a required register is a usage error now, before any backend or device is touched
        var asked = Request(request);
        var provider = BackendRegistry.For(asked);
        var backend = provider.Create(asked);
        try
        {
            var found = await backend.EnumerateAsync(cancellationToken).ConfigureAwait(false);
            var device = Select(request with { Device = request.Device is null ? null : provider.ResolveDevice(backend, request.Device) }, found, requireDevice);
            return new Bench(asked, backend, profile, device ?? new DeviceDescriptor(backend.Name, "-", 0, 0, null, default, 0), found);
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
    /// The platform's power, attach and resource-probe controls (the provider's): the SIL's own; on Linux sysfs/rtcwake where
    /// this host allows them; on macOS pmset and IOKit notifications. The lab's commands (<paramref name="lab"/>: a switch or
    /// relay for attach/detach, a sleep script) take precedence on real platforms, as the suites' runsettings do.
    /// </summary>
    public PlatformControls Platform(LabCommands? lab = null) => BackendRegistry.Platform(_request with { Lab = lab ?? LabCommands.None }, Backend);

    public ValueTask DisposeAsync() => Backend.DisposeAsync();

    /// <summary>What the command line asks of the backend registry (the CLI has no flow-control switch: the simulator's default).</summary>
    private static BackendRequest Request(DeviceRequest request) => new()
    {
        Backend = request.Backend,
        Boards = [request.BoardOrDefault],
        AskedAs = $"--backend {request.Backend}",
        NeverReplaced = " (the simulator is never used in its place)",
        Faults = request.Faults,
        Paced = request.Paced,
        Engine = request.Engine == DeviceOptions.Rtl ? Simulation.Gateware.SimEngine.Rtl : Simulation.Gateware.SimEngine.Model,
    };

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
