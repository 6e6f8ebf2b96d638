using System.Globalization;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Pci;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux;

/// <summary>
/// A session on a board bound to the upstream <c>litepcie</c> driver: one non-blocking descriptor per channel node,
/// register access through <c>LITEPCIE_IOCTL_REG</c> with every address checked against the CSR map and BAR0
/// before the call (the driver checks nothing, P16, docs/checklist.md#p16), zero-copy rings through the documented mmap protocol,
/// other BARs through sysfs <c>resourceN</c>.
/// <para>
/// Removal: litepcie.ko never answers ENODEV or EIO. Its remove frees the per-board state (device-managed memory)
/// while open files still point at it, so any call on a descriptor after the board left reaches freed memory
/// (upstream issue #95, P2, docs/checklist.md#p2). The session therefore checks, before every call into the driver, that the board is
/// still bound and its node still exists in sysfs, and from the first sign that it is not it never calls the driver
/// again — not even <c>close</c>: the descriptors of a gone board are parked until the process exits (see
/// <see cref="ParkedDescriptors"/>). A register read of all-ones is checked against the function's config space in
/// sysfs, because the driver's interrupt handler and REG path have no all-ones check of their own.
/// </para>
/// </summary>
public sealed unsafe class LinuxSession : DeviceSessionBase
{
    private readonly ILinuxSyscalls _sys;
    private readonly SysfsPci _sysfs;
    private readonly LinuxPaths _paths;
    private readonly LinuxDmaChannel[] _channels;
    private readonly int[] _fds;
    private readonly IReadOnlyList<LitePcieNode> _nodes;
    private readonly string _binding;
    private readonly Dictionary<int, (nint Address, nint Length, int Fd)> _barMaps = [];
    private readonly Lock _gate = new();
    private readonly ulong _bar0Size;
    private long _generation;

    private static readonly List<int> Parked = [];

    private LinuxSession(ILinuxSyscalls sys, SysfsPci sysfs, LinuxPaths paths, DeviceDescriptor device, CsrMap map, IReadOnlyList<LitePcieNode> nodes, int[] fds)
    {
        _sys = sys;
        _sysfs = sysfs;
        _paths = paths;
        _fds = fds;
        _nodes = nodes;
        Map = map;
        Address = device.Address;
        _binding = LitePcieNodes.BindingOf(paths, device.Address);
        var function = sysfs.Read(device.Address);
        _bar0Size = function.Bars.Count > 0 ? function.Bars[0].Size : 0;
        var info = MmapInfo(fds[0], nodes[0].Path);
        var geometry = new DmaRingGeometry((int)info.TxBufferCount, (int)info.TxBufferSize);
        _channels = [.. nodes.Select((n, i) => new LinuxDmaChannel(this, i, fds[i], n.Path, map.Layout.DmaChannels[i], geometry, info))];
        string version = LitePcieModule.Describe(paths);
        Info = new DeviceInfo(
            device with { LinkSpeed = function.CurrentLink?.Speed ?? device.LinkSpeed, LinkWidth = function.CurrentLink?.Width ?? device.LinkWidth },
            this.ReadIdentifier(), function.Revision, function.ClassCode, function.SubsystemVendorId, function.SubsystemId,
            [.. function.ImplementedBars.Select(b => new BarInfo(b.Index, b.Kind, b.Prefetchable, b.Size))],
            nodes.Count, geometry, "litepcie.ko", version);
    }

    /// <summary>PCI address of the board.</summary>
    public string Address { get; }

    /// <inheritdoc />
    public override CsrMap Map { get; }

    /// <inheritdoc />
    public override DeviceInfo Info { get; }

    /// <summary>
    /// Descriptors of removed boards this process keeps open on purpose: closing them would run litepcie.ko's release
    /// on the freed channel (a lock holder's release even writes the board's registers through a stale mapping). The
    /// kernel closes them at process exit.
    /// </summary>
    public static int ParkedDescriptors
    {
        get
        {
            lock (Parked)
            {
                return Parked.Count;
            }
        }
    }

    /// <summary>The channel nodes of this session, channel order.</summary>
    public IReadOnlyList<LitePcieNode> Nodes => _nodes;

    /// <inheritdoc />
    public override IReadOnlyList<IDmaChannel> Channels => _channels;

    internal ILinuxSyscalls Sys => _sys;

    /// <summary>Opens every channel node of a board (O_RDWR | O_CLOEXEC | O_NONBLOCK) and reads the board's identity.</summary>
    internal static LinuxSession Open(ILinuxSyscalls sys, LinuxPaths paths, DeviceDescriptor device, CsrMap map, LitePcieBinding binding)
    {
        var nodes = binding.Nodes;
        if (nodes.Count == 0)
        {
            throw new DeviceGoneException(device.Address, "no /dev/litepcie* node belongs to this board (litepcie.ko did not bind it)");
        }

        if (nodes.Count > map.Layout.DmaChannels.Count)
        {
            throw new DeviceException(DeviceErrorCode.BadArgument, device.Address,
                $"litepcie.ko created {nodes.Count} channel nodes but the CSR map has {map.Layout.DmaChannels.Count} pcie_dma blocks: wrong csr.json for this bitstream?");
        }

        var fds = new int[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            int fd = sys.Open(nodes[i].Path, ReadWrite | CloseOnExec | NonBlocking);
            if (fd < 0)
            {
                for (int j = 0; j < i; j++)
                {
                    sys.Close(fds[j]);
                }

                throw LinuxErrors.ToException(device.Address, $"open {nodes[i].Path}", -fd);
            }

            fds[i] = fd;
        }

        try
        {
            return new LinuxSession(sys, new SysfsPci(paths), paths, device, map, nodes, fds);
        }
        catch
        {
            foreach (int fd in fds)
            {
                sys.Close(fd);
            }

            throw;
        }
    }

    /// <summary>
    /// LITEPCIE_IOCTL_REG read, after the address is checked. All-ones is checked against the function's config space:
    /// when that reads vendor 0xFFFF (or the function left sysfs) the board is gone, otherwise all-ones is the value.
    /// </summary>
    public override uint ReadCsr(uint barOffset)
    {
        var reg = new LitePcieReg { Address = CheckedAddress(barOffset), IsWrite = 0 };
        Ioctl(_fds[0], LitePcieIoctl.Reg, &reg, "LITEPCIE_IOCTL_REG read");
        if (reg.Value == uint.MaxValue && ConfigVendor() is 0xFFFF or null)
        {
            LatchGone();
            throw new DeviceGoneException(Address,
                $"LITEPCIE_IOCTL_REG read of 0x{reg.Address:X} returned 0xFFFFFFFF and the function's config space reads vendor 0xFFFF: the board left the bus (litepcie.ko has no all-ones check) — device gone");
        }

        return reg.Value;
    }

    /// <summary>LITEPCIE_IOCTL_REG write, after the address is checked.</summary>
    public override void WriteCsr(uint barOffset, uint value)
    {
        var reg = new LitePcieReg { Address = CheckedAddress(barOffset), Value = value, IsWrite = 1 };
        Ioctl(_fds[0], LitePcieIoctl.Reg, &reg, "LITEPCIE_IOCTL_REG write");
    }

    /// <summary>Config space from sysfs (4096 bytes as root; the 64-byte header otherwise is an error naming why).</summary>
    public override PciConfigSpace ReadConfigSpace()
    {
        var f = _sysfs.Read(Address);
        return f.Config ?? throw new DeviceException(DeviceErrorCode.NotPermitted, Address, f.ConfigProblem ?? "config space unreadable");
    }

    /// <summary>A 32-bit read of a non-CSR memory BAR through sysfs <c>resourceN</c>.</summary>
    public override uint ReadBar(int bar, ulong offset)
    {
        EnsurePresent($"BAR{bar} read");
        return *(uint*)BarPointer(bar, offset);
    }

    /// <summary>A 32-bit write of a non-CSR memory BAR through sysfs <c>resourceN</c>.</summary>
    public override void WriteBar(int bar, ulong offset, uint value)
    {
        EnsurePresent($"BAR{bar} write");
        *(uint*)BarPointer(bar, offset) = value;
    }

    /// <summary>
    /// Messages from <c>/proc/interrupts</c> for the board's MSI vectors; litepcie.ko keeps no per-source or
    /// spurious counts, so those are empty.
    /// </summary>
    public override InterruptStatistics GetInterruptStatistics()
    {
        var irqs = _sysfs.Read(Address).MsiIrqs.ToHashSet();
        long total = 0;
        string proc = Path.Combine(_paths.Proc, "interrupts");
        if (File.Exists(proc))
        {
            foreach (var line in File.ReadLines(proc))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 1 && f[0].EndsWith(':') && int.TryParse(f[0][..^1], NumberStyles.None, CultureInfo.InvariantCulture, out int irq) && irqs.Contains(irq))
                {
                    total += f.Skip(1).TakeWhile(x => x.All(char.IsAsciiDigit)).Sum(x => long.Parse(x, CultureInfo.InvariantCulture));
                }
            }
        }

        return new InterruptStatistics(total, 0, new Dictionary<int, long>());
    }

    /// <summary>
    /// Counted by this session (DMA starts); litepcie.ko has no power callbacks and no generation of its own, so a
    /// sleep/wake does not move it — the SleepWake suite reports exactly that (P19, docs/checklist.md#p19).
    /// </summary>
    protected override long ReadGeneration() => Interlocked.Read(ref _generation);

    /// <summary>The board left: its binding or its first node is gone from sysfs.</summary>
    protected override bool ReadDeviceGone() => Departed() is not null;

    /// <summary>sysfs still tells after close.</summary>
    protected override bool GoneAfterClose() => Departed() is not null;

    /// <summary>Stops what this session started and releases its locks (only while the board is present).</summary>
    protected override void StopEngines()
    {
        foreach (var ch in _channels)
        {
            ch.StopOwned();
        }
    }

    /// <summary>
    /// Unmaps and closes. When the board is gone nothing reaches the driver: the rings are unmapped (a memory-map
    /// operation the driver takes no part in) and the descriptors are parked (see <see cref="ParkedDescriptors"/>).
    /// </summary>
    protected override ValueTask ReleaseAsync(bool gone)
    {
        foreach (var ch in _channels)
        {
            ch.UnmapRings();
        }

        lock (_gate)
        {
            foreach (var (_, (address, length, fd)) in _barMaps)
            {
                _sys.Munmap(address, length);
                _sys.Close(fd);
            }

            _barMaps.Clear();
        }

        if (gone)
        {
            lock (Parked)
            {
                Parked.AddRange(_fds);
            }

            return ValueTask.CompletedTask;
        }

        foreach (int fd in _fds)
        {
            _sys.Close(fd);
        }

        return ValueTask.CompletedTask;
    }

    internal void BumpGeneration() => Interlocked.Increment(ref _generation);

    /// <summary>An ioctl, made only while the board is present; a failure becomes the device exception.</summary>
    internal void Ioctl(int fd, uint request, void* argument, string what)
    {
        EnsurePresent(what);
        int r = _sys.Ioctl(fd, request, argument);
        if (r < 0)
        {
            throw Fail(what, -r);
        }
    }

    /// <summary>
    /// Throws <see cref="DeviceGoneException"/> (and latches it) unless the board is still bound to litepcie.ko and its
    /// first node still exists: the check every call into the driver is preceded by.
    /// </summary>
    internal void EnsurePresent(string what)
    {
        ThrowIfClosed();
        if (GoneLatched)
        {
            throw new DeviceGoneException(Address, $"{what}: the device is gone (not called: litepcie.ko would reach freed memory)");
        }

        if (Departed() is { } why)
        {
            LatchGone();
            throw new DeviceGoneException(Address, $"{what}: {why} — the device is gone (not called: litepcie.ko would reach freed memory)");
        }
    }

    internal DeviceException Fail(string what, int errno)
    {
        if (LinuxErrors.MeansGone(errno))
        {
            LatchGone();
        }

        return LinuxErrors.ToException(Address, what, errno);
    }

    /// <summary>
    /// The absolute CSR address for a BAR0 offset, refused unless it is 32-bit aligned and inside BAR0: litepcie.ko maps
    /// the whole BAR0 (<c>pcim_iomap</c>) and adds the address to that mapping unchecked, so beyond it the driver would
    /// access kernel memory (P16, docs/checklist.md#p16). Inside it, the regions past the CSRs (the design's memories)
    /// are the driver's to reach, as the real driver in the guest shows. With BAR0's size unknown, the CSR region bounds it.
    /// </summary>
    internal uint CheckedAddress(uint barOffset)
    {
        ulong limit = _bar0Size > 0 ? _bar0Size : Map.CsrRegionSize ?? 1UL << 20;
        if (barOffset % 4 != 0 || barOffset + 4UL > limit)
        {
            string name = Map.RegisterAt(Map.ToAddress(barOffset))?.Name ?? "no register";
            throw new DeviceArgumentException(Address, "BAR0 offset", $"0x{barOffset:X} ({name})",
                $"a multiple of 4 below 0x{limit:X} ({(_bar0Size > 0 ? "BAR0 size, the driver's mapping" : "the CSR region: BAR0's size is unknown")}); refused before LITEPCIE_IOCTL_REG, which checks nothing (P16)");
        }

        return Map.ToAddress(barOffset);
    }

    /// <summary>Why the board is known to have left (binding or node gone from sysfs), or null.</summary>
    private string? Departed() =>
        !Directory.Exists(_binding) ? $"{_binding} is gone (litepcie.ko let go of the function)"
        : !Directory.Exists(_nodes[0].SysfsDirectory(_paths)) ? $"{_nodes[0].SysfsDirectory(_paths)} is gone (the driver removed its nodes)"
        : null;

    /// <summary>The vendor ID in the function's config space as sysfs reads it now, or null when the function left sysfs.</summary>
    private ushort? ConfigVendor()
    {
        try
        {
            using var config = File.OpenRead(Path.Combine(_sysfs.DirectoryOf(Address), "config"));
            Span<byte> id = stackalloc byte[2];
            return config.Read(id) == 2 ? BitConverter.ToUInt16(id) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private LitePcieMmapDmaInfo MmapInfo(int fd, string node)
    {
        var info = new LitePcieMmapDmaInfo();
        Ioctl(fd, LitePcieIoctl.MmapDmaInfo, &info, $"LITEPCIE_IOCTL_MMAP_DMA_INFO on {node}");
        if (info.TxBufferCount == 0 || info.TxBufferSize == 0 || info.TxBufferCount != info.RxBufferCount || info.TxBufferSize != info.RxBufferSize)
        {
            throw new DeviceException(DeviceErrorCode.IoError, Address,
                $"LITEPCIE_IOCTL_MMAP_DMA_INFO on {node}: TX {info.TxBufferCount}×{info.TxBufferSize}, RX {info.RxBufferCount}×{info.RxBufferSize} (expected equal, non-zero)");
        }

        return info;
    }

    private byte* BarPointer(int bar, ulong offset)
    {
        var b = Info.Bars.FirstOrDefault(x => x.Index == bar)
            ?? throw new DeviceArgumentException(Address, "bar", bar.ToString(CultureInfo.InvariantCulture), $"an implemented BAR ({string.Join(", ", Info.Bars.Select(x => x.Index))})");
        if (bar == 0)
        {
            throw new DeviceArgumentException(Address, "bar", bar.ToString(CultureInfo.InvariantCulture),
                "a BAR other than the CSR BAR: BAR0 belongs to litepcie.ko while it streams (use the CSR registers)");
        }

        if (b.Kind == PciBarKind.Io || offset % 4 != 0 || offset + 4 > b.Size)
        {
            throw new DeviceArgumentException(Address, "offset", $"0x{offset:X}", $"a multiple of 4 below 0x{b.Size:X} in memory BAR{bar}");
        }

        lock (_gate)
        {
            if (!_barMaps.TryGetValue(bar, out var m))
            {
                string path = Path.Combine(_sysfs.DirectoryOf(Address), $"resource{bar}");
                int fd = _sys.Open(path, ReadWrite | CloseOnExec);
                if (fd < 0)
                {
                    throw Fail($"open {path}", -fd);
                }

                nint p = _sys.Mmap((nint)b.Size, ProtRead | ProtWrite, fd, 0, out int error);
                if (p == 0)
                {
                    _sys.Close(fd);
                    throw Fail($"mmap {path}", error);
                }

                m = (p, (nint)b.Size, fd);
                _barMaps[bar] = m;
            }

            return (byte*)m.Address + offset;
        }
    }
}
