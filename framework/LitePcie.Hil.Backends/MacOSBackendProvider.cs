using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.MacOS.Platform;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Backends;

/// <summary>
/// macOS: our DriverKit extension through its IOKit user client. Platform controls: IOKit match notifications (bounded by
/// <see cref="BackendRequest.ReenumerationTimeout"/>), pmset and ioclasscount; the lab's commands take precedence.
/// </summary>
public sealed class MacOSBackendProvider : IBackendProvider
{
    /// <summary>Backend name.</summary>
    public const string Name = "macos";

    /// <inheritdoc />
    public string BackendName => Name;

    /// <inheritdoc />
    public string? Unavailable(BackendRequest request) => MacOSBackend.Unavailable();

    /// <summary>The backend, matching its services against every board profile.</summary>
    public IDeviceBackend Create(BackendRequest request) =>
        Unavailable(request) is { } why
            ? throw new DeviceCapabilityException("-", request.Asked, $"{why}{request.NeverReplaced}")
            : new MacOSBackend(request.Boards.Select(BoardCatalog.Load));

    /// <summary>Every dext service whose address is <see cref="BackendRequest.Device"/> (checked without opening a user client).</summary>
    public BackendDiscovery Discover(BackendRequest request)
    {
        if (MacOSBackend.Unavailable(tryOpen: false) is { } why)
        {
            return BackendDiscovery.None($"Backend=macos: {why}");
        }

        var backend = new MacOSBackend(request.Boards.Select(BoardCatalog.Load));
        var boards = backend.EnumerateAsync().AsTask().GetAwaiter().GetResult()
            .Where(d => request.Device.Length == 0 || d.Address == request.Device)
            .Select(d => new DiscoveredBoard(d.Address, d.Board ?? request.Boards[0]))
            .ToList();
        return boards.Count > 0 ? new BackendDiscovery(boards, null) : BackendDiscovery.None($"Backend=macos: no LitePCIe dext service matches Device={request.Device}");
    }

    /// <inheritdoc />
    public BoardProfile ProfileFor(BackendRequest request, string address, string board) => BackendProviders.ProfileByName(request, board);

    /// <inheritdoc />
    public PlatformControls? Platform(BackendRequest request, IDeviceBackend backend)
    {
        if (backend is not MacOSBackend)
        {
            return null;
        }

        var (attach, power) = BackendProviders.LabControls(request);
        var mac = MacOSPlatform.For(attach, request.ReenumerationTimeout);
        return power is null ? mac : mac with { Power = power };
    }
}
