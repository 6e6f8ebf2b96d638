using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Linux;

/// <summary>
/// Boards bound to the upstream <c>litepcie</c> driver: enumerated through sysfs (a LitePCIe vendor/device ID with
/// <c>/dev/litepcieN</c> channel nodes), opened as <see cref="LinuxSession"/>s. All boards are taken to run the
/// design of the given profile (one csr.json per run).
/// </summary>
public sealed class LinuxBackend : IDeviceBackend
{
    /// <summary>Backend name in options and reports.</summary>
    public const string BackendName = "linux";

    private readonly BoardProfile _profile;
    private readonly LinuxPaths _paths;
    private readonly ILinuxSyscalls _sys;
    private readonly SysfsPci _sysfs;

    public LinuxBackend(BoardProfile profile, LinuxPaths? paths = null, ILinuxSyscalls? syscalls = null)
    {
        _profile = profile;
        _paths = paths ?? LinuxPaths.System;
        _sys = syscalls ?? new LibcSyscalls();
        _sysfs = new SysfsPci(_paths);
    }

    public string Name => BackendName;

    /// <summary>Where it looks.</summary>
    public LinuxPaths Paths => _paths;

    /// <summary>
    /// Null when a board bound to litepcie.ko is reachable; otherwise why not, in the words a lab engineer acts on
    /// (not Linux, no sysfs, no LitePCIe function, function not bound to litepcie, no device node).
    /// </summary>
    public static string? Unavailable(LinuxPaths? paths = null)
    {
        paths ??= LinuxPaths.System;
        if (!OperatingSystem.IsLinux() && paths == LinuxPaths.System)
        {
            return "not Linux: the linux backend needs sysfs and /dev/litepcieN";
        }

        if (!Directory.Exists(paths.PciDevices))
        {
            return $"{paths.PciDevices} does not exist (no sysfs)";
        }

        var functions = new SysfsPci(paths).Enumerate();
        var litepcie = functions.Where(f => LitePcieDeviceIds.IsSupported(f.VendorId, f.DeviceId)).ToList();
        var nodes = LitePcieNodes.Find(paths);
        if (nodes.Count > 0)
        {
            return null;
        }

        if (litepcie.Count == 0)
        {
            return $"no /dev/litepcie* nodes and no LitePCIe board on the PCI bus ({functions.Count} functions, none with a LitePCIe vendor:device ID)";
        }

        return $"LitePCIe board(s) {string.Join(", ", litepcie.Select(f => $"{f.Address} [{f.VendorId:x4}:{f.DeviceId:x4}] driver {f.Driver ?? "none"}"))} " +
               "but no /dev/litepcie* nodes: load litepcie.ko (insmod litepcie.ko) and check dmesg for its probe";
    }

    /// <summary>Boards with a LitePCIe ID and channel nodes.</summary>
    public ValueTask<IReadOnlyList<DeviceDescriptor>> EnumerateAsync(CancellationToken cancellationToken = default)
    {
        var nodes = LitePcieNodes.Find(_paths);
        var found = new List<DeviceDescriptor>();
        foreach (var address in nodes.Select(n => n.PciAddress).Distinct())
        {
            if (!Directory.Exists(_sysfs.DirectoryOf(address)))
            {
                continue; // removed while its nodes linger
            }

            var f = _sysfs.Read(address);
            if (f.VendorId == 0xFFFF)
            {
                continue;
            }

            found.Add(new DeviceDescriptor(Name, address, f.VendorId, f.DeviceId, _profile.Name,
                f.CurrentLink?.Speed ?? PciLinkSpeed.Unknown, f.CurrentLink?.Width ?? 0));
        }

        return ValueTask.FromResult<IReadOnlyList<DeviceDescriptor>>(found);
    }

    public ValueTask<IDeviceSession> OpenAsync(DeviceDescriptor device, CancellationToken cancellationToken = default)
    {
        var nodes = LitePcieNodes.Of(LitePcieNodes.Find(_paths), device.Address);
        return ValueTask.FromResult<IDeviceSession>(LinuxSession.Open(_sys, _paths, device, _profile.CsrMap, nodes));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
