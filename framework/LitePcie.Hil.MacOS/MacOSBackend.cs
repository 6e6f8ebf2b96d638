using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS.IOKit;

namespace LitePcie.Hil.MacOS;

/// <summary>
/// Boards behind the LitePCIe DriverKit extension on macOS: the dext's services are found in the IORegistry, a
/// session is the dext's user client (<c>IOServiceOpen</c> type 0) speaking the same method table as the SIL.
/// </summary>
/// <remarks>
/// <para>Matching: the dext's service is a kernel <c>IOUserService</c> whose personality names the DriverKit class in
/// <c>IOUserClass</c> (Info.plist). <c>IOServiceMatching("LitePCIeDriver")</c> would match nothing, because
/// <c>LitePCIeDriver</c> is not a kernel class, and the dext never calls SetName, so name matching has nothing to
/// match either. The backend therefore matches <c>IOServiceMatching("IOUserService")</c> plus
/// <c>IOPropertyMatch = { IOUserClass = "LitePCIeDriver" }</c>: only this dext's services, whatever their name.</para>
/// <para>Addresses: the PCI location of the provider (<c>pcidebug</c>) as <c>0000:bb:dd.f</c>, because it survives
/// detach/attach and sleep, which the suites re-enumerate by address; a registry entry ID is new on every attach.</para>
/// <para>Boards: the profile is the one whose PCI IDs match the provider (the dext's published <c>Identifier</c> breaks
/// ties); a device no profile describes is listed without a board and refused at open, never given a guessed map.</para>
/// </remarks>
public sealed class MacOSBackend : IDeviceBackend
{
    /// <summary>Backend name in options and reports.</summary>
    public const string BackendName = "macos";

    /// <summary>The DriverKit class of the dext's driver (Info.plist <c>IOUserClass</c>).</summary>
    public const string DriverClass = "LitePCIeDriver";

    /// <summary>The DriverKit class of the dext's user client.</summary>
    public const string UserClientClass = "LitePCIeUserClient";

    /// <summary>The kernel class hosting every DriverKit service.</summary>
    public const string KernelServiceClass = "IOUserService";

    /// <summary>The driver name sessions report.</summary>
    public const string DriverName = "LitePCIe dext";

    private const string EntitlementAdvice =
        "the client lacks the com.apple.developer.driverkit.userclient-access entitlement for this dext " +
        "(development: SIP off and the dext signed with LitePCIeDriver.Dev.entitlements, which allows any client; " +
        "distribution: a signed app bundle carrying the entitlement, docs/dext-design.md#bundle-matching-and-client-access)";

    private readonly IIOKit? _io;
    private readonly string? _unavailable;
    private readonly IReadOnlyList<BoardProfile> _boards;

    /// <summary>The backend on this machine's IOKit. On a system other than macOS nothing native is loaded; every call reports why.</summary>
    /// <param name="boards">The board profiles that may be attached (their CSR maps drive the sessions).</param>
    public MacOSBackend(IEnumerable<BoardProfile> boards)
        : this(boards, IOKitRuntime.Current)
    {
    }

    /// <summary>The backend on a given IOKit (a fake in tests). <paramref name="io"/> null means "not macOS".</summary>
    internal MacOSBackend(IEnumerable<BoardProfile> boards, IIOKit? io)
    {
        _boards = [.. boards];
        _io = io;
        _unavailable = io is null ? IOKitRuntime.NotMacOSReason ?? "no IOKit implementation was given" : null;
    }

    /// <inheritdoc />
    public string Name => BackendName;

    /// <summary>The board profiles this backend knows.</summary>
    public IReadOnlyList<BoardProfile> Boards => _boards;

    /// <summary>
    /// Why the macOS backend cannot reach a board on this machine, or null when it can: not macOS; no LitePCIeDriver
    /// service (dext not installed, not approved, or no board attached); a dext of another ABI; or (when
    /// <paramref name="tryOpen"/>) <c>IOServiceOpen</c> refused, e.g. for a missing entitlement. The open probe closes
    /// its connection at once; do not run it while a session of this process holds the board.
    /// </summary>
    public static string? Unavailable(bool tryOpen = true) => Unavailable(IOKitRuntime.Current, tryOpen);

    /// <summary><see cref="Unavailable(bool)"/> on a given IOKit (null: not macOS).</summary>
    internal static string? Unavailable(IIOKit? io, bool tryOpen = true)
    {
        if (io is null)
        {
            return IOKitRuntime.NotMacOSReason ?? "no IOKit implementation was given";
        }

        var found = Scan(io, keep: null, out _);
        if (found.Count == 0)
        {
            return $"no {DriverClass} service: the dext is not installed/approved or no board is attached " +
                   "(check the dext with `systemextensionsctl list`, the board with `ioreg -r -c IOPCIDevice -l`, the driver with `ioreg -r -c IOUserService -l`)";
        }

        if (found.FirstOrDefault(s => !s.AbiCompatible) is { } mismatched)
        {
            return mismatched.AbiMismatch;
        }

        if (!tryOpen)
        {
            return null;
        }

        Scan(io, s => s.Address == found[0].Address, out uint service);
        if (service == 0)
        {
            return $"the {DriverClass} service at {found[0].Address} left while it was probed";
        }

        try
        {
            int status = io.IOServiceOpen(service, 0, out uint connection);
            if (status == IOReturn.Success)
            {
                io.IOServiceClose(connection);
                return null;
            }

            return OpenRefusalReason(status);
        }
        finally
        {
            io.IOObjectRelease(service);
        }
    }

    /// <summary>Every LitePCIeDriver service with its published and PCI properties (diagnostics, <c>info</c>).</summary>
    public IReadOnlyList<MacOSDextService> Services() => Scan(RequireIOKit(), keep: null, out _);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<DeviceDescriptor>> EnumerateAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var services = Scan(RequireIOKit(), keep: null, out _);
        if (services.FirstOrDefault(s => !s.AbiCompatible) is { } mismatched)
        {
            throw new DeviceCapabilityException(mismatched.Address, $"dext ABI {DextAbi.AbiMajor}.x", mismatched.AbiMismatch!);
        }

        return ValueTask.FromResult<IReadOnlyList<DeviceDescriptor>>([.. services.Select(Describe)]);
    }

    /// <inheritdoc />
    public ValueTask<IDeviceSession> OpenAsync(DeviceDescriptor device, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var io = RequireIOKit();
        var services = Scan(io, s => s.Address == device.Address, out uint service);
        if (service == 0)
        {
            throw new DeviceGoneException(device.Address,
                $"no {DriverClass} service at {device.Address} (found: {(services.Count == 0 ? "none" : string.Join(", ", services.Select(s => s.Address)))})");
        }

        var entry = services.First(s => s.Address == device.Address);
        var profile = ProfileFor(entry);
        uint connection = 0;
        try
        {
            if (entry.AbiMismatch is { } mismatch)
            {
                throw new DeviceCapabilityException(device.Address, $"dext ABI {DextAbi.AbiMajor}.x", mismatch);
            }

            if (profile is null)
            {
                throw new DeviceCapabilityException(device.Address, "a board profile",
                    $"no board profile describes {entry.VendorId:x4}:{entry.DeviceId:x4}" +
                    $"{(entry.Identifier is null ? "" : $" (dext built for \"{entry.Identifier}\")")}; " +
                    $"given: {(_boards.Count == 0 ? "none" : string.Join(", ", _boards.Select(b => b.ToString())))}");
            }

            int status = io.IOServiceOpen(service, 0, out connection);
            if (status != IOReturn.Success)
            {
                throw OpenRefusal(status, device.Address);
            }
        }
        catch
        {
            io.IOObjectRelease(service);
            throw;
        }

        // The transport owns service and connection from here on, and DextSession.Open closes it when it fails.
        var transport = new IOKitTransport(io, service, connection, device.Address);
        var session = DextSession.Open(transport, Describe(entry), profile.CsrMap, DriverName);
        return ValueTask.FromResult<IDeviceSession>(new MacOSSession(session, transport));
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Why <c>IOServiceOpen</c> refused, in words a lab engineer can act on.</summary>
    internal static string OpenRefusalReason(int status) => status switch
    {
        IOReturn.NotPermitted or IOKitConstants.ReturnNotPrivileged => $"IOServiceOpen refused with {IOKitConstants.Name(status)}: {EntitlementAdvice}",
        IOReturn.ExclusiveAccess => "IOServiceOpen refused with kIOReturnExclusiveAccess: another client holds this device (one client per device)",
        _ when IOKitConstants.MeansGone(status) =>
            $"IOServiceOpen refused with {IOKitConstants.Name(status)}: the {DriverClass} service left (board detached, dext stopped or crashed)",
        _ => $"IOServiceOpen refused with {IOKitConstants.Name(status)}",
    };

    /// <summary>The exception for a refused <c>IOServiceOpen</c>.</summary>
    internal static DeviceException OpenRefusal(int status, string address) => status switch
    {
        IOReturn.NotPermitted or IOKitConstants.ReturnNotPrivileged =>
            new DeviceCapabilityException(address, "IOServiceOpen on the LitePCIe dext", OpenRefusalReason(status)) { NativeCode = status },
        IOReturn.ExclusiveAccess => new DeviceBusyException(address, OpenRefusalReason(status)) { NativeCode = status },
        _ when IOKitConstants.MeansGone(status) => new DeviceGoneException(address, OpenRefusalReason(status)) { NativeCode = status },
        _ => DextClient.ToException(address, DextSelector.GetInfo, status, OpenRefusalReason(status)),
    };

    /// <summary>
    /// Lists the dext's services. When <paramref name="keep"/> selects one, its handle is returned in
    /// <paramref name="kept"/> (+1, the caller releases it); every other object is released here.
    /// </summary>
    internal static List<MacOSDextService> Scan(IIOKit io, Func<MacOSDextService, bool>? keep, out uint kept)
    {
        kept = 0;
        var matching = CoreFoundation.CreateMatching(io, KernelServiceClass, [new("IOUserClass", DriverClass)]);
        int status = io.IOServiceGetMatchingServices(matching.Handle, out uint iterator); // consumes the dictionary
        if (status != IOReturn.Success)
        {
            throw new DeviceException(DeviceErrorCode.IoError, "-",
                $"IOServiceGetMatchingServices({KernelServiceClass} with IOUserClass = {DriverClass}) failed with {IOKitConstants.Name(status)}") { NativeCode = status };
        }

        var found = new List<MacOSDextService>();
        try
        {
            uint service;
            while ((service = io.IOIteratorNext(iterator)) != 0)
            {
                bool keepThis = false;
                try
                {
                    var entry = MacOSDextService.Read(io, service);
                    found.Add(entry);
                    keepThis = kept == 0 && keep is not null && keep(entry);
                }
                finally
                {
                    if (keepThis)
                    {
                        kept = service;
                    }
                    else
                    {
                        io.IOObjectRelease(service);
                    }
                }
            }
        }
        catch
        {
            if (kept != 0)
            {
                io.IOObjectRelease(kept);
                kept = 0;
            }

            throw;
        }
        finally
        {
            io.IOObjectRelease(iterator);
        }

        return found;
    }

    private DeviceDescriptor Describe(MacOSDextService s) =>
        new(Name, s.Address, s.VendorId, s.DeviceId, ProfileFor(s)?.Name, s.LinkSpeed, s.LinkWidth);

    private BoardProfile? ProfileFor(MacOSDextService s)
    {
        var byIds = _boards.Where(b => b.VendorId == s.VendorId && b.DeviceId == s.DeviceId).ToList();
        return byIds.Count <= 1
            ? byIds.FirstOrDefault()
            : byIds.FirstOrDefault(b => s.Identifier is not null && IdentifierOf(b) == s.Identifier) ?? byIds[0];
    }

    private static string? IdentifierOf(BoardProfile profile)
    {
        try
        {
            return profile.CsrMap.Identifier;
        }
        catch (CsrMapException)
        {
            return null;
        }
    }

    private IIOKit RequireIOKit() =>
        _io ?? throw new DeviceCapabilityException("-", $"Backend={BackendName}", _unavailable ?? "IOKit is not available");
}
