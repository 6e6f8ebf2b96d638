using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Linux;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Backends;

/// <summary>
/// Linux: the upstream <c>litepcie.ko</c> through <c>/dev/litepcieN</c> and sysfs, on the host or inside the QEMU guest
/// whose board is the device server. Platform controls: sysfs remove/rescan, rtcwake and the kernel probe; the lab's
/// commands take precedence.
/// </summary>
public sealed class LinuxBackendProvider : IBackendProvider
{
    /// <summary>Backend name.</summary>
    public const string Name = "linux";

    /// <inheritdoc />
    public string BackendName => Name;

    /// <inheritdoc />
    public string? Unavailable(BackendRequest request) => LinuxBackend.Unavailable();

    /// <summary>The backend, its devices expected to look like the first board profile.</summary>
    public IDeviceBackend Create(BackendRequest request) =>
        Unavailable(request) is { } why
            ? throw new DeviceCapabilityException("-", request.Asked, $"{why}{request.NeverReplaced}")
            : new LinuxBackend(BoardCatalog.Load(request.Boards[0]));

    /// <summary>Every function bound to litepcie.ko (or with a LitePCIe ID) whose address is, or ends, <see cref="BackendRequest.Device"/>.</summary>
    public BackendDiscovery Discover(BackendRequest request)
    {
        if (LinuxBackend.Unavailable() is { } why)
        {
            return BackendDiscovery.None($"Backend=linux: {why}");
        }

        var backend = new LinuxBackend(BoardCatalog.Load(request.Boards[0]));
        var boards = backend.EnumerateAsync().AsTask().GetAwaiter().GetResult()
            .Where(d => request.Device.Length == 0 || d.Address == request.Device || request.Device.EndsWith(d.Address, StringComparison.Ordinal))
            .Select(d => new DiscoveredBoard(d.Address, d.Board ?? request.Boards[0]))
            .ToList();
        return boards.Count > 0 ? new BackendDiscovery(boards, null) : BackendDiscovery.None($"Backend=linux: no LitePCIe board matches Device={request.Device}");
    }

    /// <inheritdoc />
    public BoardProfile ProfileFor(BackendRequest request, string address, string board) => BackendProviders.ProfileByName(request, board);

    /// <inheritdoc />
    public PlatformControls? Platform(BackendRequest request, IDeviceBackend backend)
    {
        if (backend is not LinuxBackend linux)
        {
            return null;
        }

        var (attach, power) = BackendProviders.LabControls(request);
        return LinuxPlatform.For(linux.Paths, attach, power);
    }

    /// <summary>A channel node (<c>/dev/litepcie0</c>) names the board it belongs to.</summary>
    public string ResolveDevice(IDeviceBackend backend, string device) =>
        backend is LinuxBackend linux && device.StartsWith("/dev/", StringComparison.Ordinal) ? linux.AddressOfNode(device) ?? device : device;
}
