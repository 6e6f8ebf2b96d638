using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Pci;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux;

/// <summary>
/// Boards bound to the upstream <c>litepcie</c> driver, found from the PCI side (<c>/sys/bus/pci/drivers/litepcie</c>,
/// then node blocks in minor order, see <see cref="LitePcieNodes"/>) and confirmed by reading the identifier ROM
/// through the node (LITEPCIE_IOCTL_REG); opened as <see cref="LinuxSession"/>s. All boards are taken to run the
/// design of the given profile (one csr.json per run, as the driver is built for one csr.h).
/// </summary>
public sealed class LinuxBackend : IDeviceBackend
{
    /// <summary>Backend name in options and reports.</summary>
    public const string BackendName = "linux";

    private readonly BoardProfile _profile;
    private readonly LinuxPaths _paths;
    private readonly ILinuxSyscalls _sys;
    private readonly SysfsPci _sysfs;

    /// <summary>
    /// The backend for boards of <paramref name="profile"/> bound to litepcie.ko, through this machine's system calls;
    /// <paramref name="paths"/> defaults to this machine's sysfs and /dev (a guest's or a test tree's root otherwise).
    /// </summary>
    public LinuxBackend(BoardProfile profile, LinuxPaths? paths = null)
        : this(profile, paths, syscalls: null)
    {
    }

    /// <summary>The same, with the system calls behind the seam a test's fake kernel answers (libc when null).</summary>
    internal LinuxBackend(BoardProfile profile, LinuxPaths? paths, ILinuxSyscalls? syscalls)
    {
        _profile = profile;
        _paths = paths ?? LinuxPaths.System;
        _sys = syscalls ?? new LibcSyscalls();
        _sysfs = new SysfsPci(_paths);
    }

    /// <inheritdoc />
    public string Name => BackendName;

    /// <summary>Where it looks.</summary>
    public LinuxPaths Paths => _paths;

    /// <summary>Channel nodes the driver creates per board: the design's DMA channel count (the driver's DMA_CHANNELS).</summary>
    public int ChannelsPerBoard => _profile.CsrMap.Layout.DmaChannels.Count;

    /// <summary>Why the last enumeration left a bound function out (pairing, identity), or null.</summary>
    public string? LastProblem { get; private set; }

    /// <summary>
    /// Null when a function bound to litepcie.ko and its nodes are present; otherwise why not, in the words a lab
    /// engineer acts on (not Linux, no sysfs, no LitePCIe function, function not bound, no nodes).
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

        var bound = LitePcieNodes.BoundFunctions(paths);
        var nodes = LitePcieNodes.Find(paths);
        if (bound.Count > 0 && nodes.Count > 0)
        {
            return null;
        }

        var functions = new SysfsPci(paths).Enumerate();
        var litepcie = functions.Where(f => LitePcieDeviceIds.IsSupported(f.VendorId, f.DeviceId)).ToList();
        string boards = string.Join(", ", litepcie.Select(f => $"{f.Address} [{f.VendorId:x4}:{f.DeviceId:x4}] driver {f.Driver ?? "none"}"));
        if (bound.Count == 0)
        {
            return litepcie.Count == 0
                ? $"no function bound to litepcie.ko ({LitePcieNodes.DriverDirectory(paths)} {(Directory.Exists(LitePcieNodes.DriverDirectory(paths)) ? "lists none" : "does not exist: the module is not loaded")}) " +
                  $"and no LitePCIe vendor:device ID among {functions.Count} PCI functions"
                : $"LitePCIe board(s) {boards} but none bound to litepcie.ko: load it (insmod litepcie.ko) and check dmesg for its probe " +
                  "(it needs revision 0, a memory BAR0 and MSI)";
        }

        return $"{string.Join(", ", bound)} bound to litepcie.ko but no litepcie nodes in {Path.Combine(paths.Sys, "class", "litepcie")}: check dmesg for 'Creating /dev/litepcie' and udev";
    }

    /// <summary>The pairing of bound functions and nodes (no device is opened).</summary>
    public LitePcieDiscovery Discover() => LitePcieNodes.Discover(_paths, ChannelsPerBoard);

    /// <summary>The PCI address a channel node (<c>/dev/litepcie1</c>) belongs to, or null.</summary>
    public string? AddressOfNode(string node) =>
        Discover().Bindings.FirstOrDefault(b => b.Nodes.Any(n => n.Path == node || n.Name == Path.GetFileName(node)))?.PciAddress;

    /// <summary>
    /// Bound boards whose node block answers with an identifier: each pairing is confirmed by reading the identifier
    /// ROM through the board's first node. A board whose node cannot be opened for lack of permission is still listed
    /// (opening it reports what to do); one that answers all-ones or nothing is left out, the reason in <see cref="LastProblem"/>.
    /// </summary>
    public ValueTask<IReadOnlyList<DeviceDescriptor>> EnumerateAsync(CancellationToken cancellationToken = default)
    {
        var discovery = Discover();
        var problems = new List<string>();
        if (discovery.Problem is { } p)
        {
            problems.Add(p);
        }

        var found = new List<DeviceDescriptor>();
        foreach (var binding in discovery.Bindings)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!Directory.Exists(_sysfs.DirectoryOf(binding.PciAddress)))
            {
                continue; // removed between the two listings
            }

            var f = _sysfs.Read(binding.PciAddress);
            if (f.VendorId == 0xFFFF)
            {
                continue;
            }

            if (ConfirmIdentity(binding) is { } why)
            {
                problems.Add(why);
                continue;
            }

            found.Add(new DeviceDescriptor(Name, binding.PciAddress, f.VendorId, f.DeviceId, _profile.Name,
                f.CurrentLink?.Speed ?? PciLinkSpeed.Unknown, f.CurrentLink?.Width ?? 0));
        }

        LastProblem = problems.Count > 0 ? string.Join("; ", problems) : null;
        return ValueTask.FromResult<IReadOnlyList<DeviceDescriptor>>(found);
    }

    /// <inheritdoc />
    public ValueTask<IDeviceSession> OpenAsync(DeviceDescriptor device, CancellationToken cancellationToken = default)
    {
        var discovery = Discover();
        var binding = discovery.Bindings.FirstOrDefault(b => b.PciAddress == device.Address)
            ?? throw new DeviceGoneException(device.Address, discovery.Problem
                ?? $"{device.Address} is not bound to litepcie.ko (no {LitePcieNodes.BindingOf(_paths, device.Address)}) or has no nodes: device gone");
        return ValueTask.FromResult<IDeviceSession>(LinuxSession.Open(_sys, _paths, device, _profile.CsrMap, binding));
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Null when the block's first node answers with an identifier (or cannot be opened for lack of permission).</summary>
    private string? ConfirmIdentity(LitePcieBinding binding)
    {
        var node = binding.Nodes[0];
        int fd = _sys.Open(node.Path, ReadWrite | CloseOnExec | NonBlocking);
        if (fd < 0)
        {
            return -fd is EACCES or EPERM ? null : $"{node.Path} ({binding.PciAddress}): open failed with {LinuxErrors.Name(-fd)}";
        }

        try
        {
            string identifier = new RegisterPath(_sys, fd, _profile.CsrMap).ReadIdentifier();
            return identifier.Length == 0 || identifier.Contains("<all-ones>", StringComparison.Ordinal)
                ? $"{node.Path} ({binding.PciAddress}): the identifier ROM read through LITEPCIE_IOCTL_REG is '{identifier}': not a LitePCIe design of this map, or the board is not answering"
                : null;
        }
        catch (DeviceException e)
        {
            return $"{node.Path} ({binding.PciAddress}): {e.Message}";
        }
        finally
        {
            _sys.Close(fd);
        }
    }

    /// <summary>Register reads through one node's LITEPCIE_IOCTL_REG, for the identity check before a session exists.</summary>
    private sealed unsafe class RegisterPath(ILinuxSyscalls sys, int fd, CsrMap map) : ICsrBus
    {
        public CsrMap Map => map;

        public uint ReadCsr(uint barOffset)
        {
            var reg = new LitePcieReg { Address = map.ToAddress(barOffset), IsWrite = 0 };
            int r = sys.Ioctl(fd, LitePcieIoctl.Reg, &reg);
            return r < 0 ? throw LinuxErrors.ToException("-", "LITEPCIE_IOCTL_REG read", -r) : reg.Value;
        }

        public void WriteCsr(uint barOffset, uint value) => throw new NotSupportedException("the identity check only reads");
    }
}
