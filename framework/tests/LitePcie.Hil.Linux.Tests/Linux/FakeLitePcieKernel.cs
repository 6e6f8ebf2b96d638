using System.Globalization;
using System.Runtime.InteropServices;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Driver;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>One ioctl the transport issued, as the fake kernel received it.</summary>
internal sealed record IoctlCall(string Node, string Name, byte[] Argument);

/// <summary>
/// A fake Linux running litepcie.ko, answering the system calls the way upstream <c>main.c</c> (a71443e) does, on top
/// of the kernel-driver model and simulated boards. Every semantic is the driver's, hazards included (the twin tests
/// run the same assertions against the real driver; docs/linux-backend.md names the code path of each):
/// <list type="bullet">
/// <item>sysfs as the driver leaves it: the function bound under <c>drivers/litepcie/&lt;bdf&gt;</c>, nodes with no
/// parent under <c>devices/virtual/litepcie</c>, minors from a counter that only grows (a re-probe gets new ones), no
/// <c>version</c>/<c>srcversion</c> in <c>/sys/module/litepcie</c>;</item>
/// <item>per-file lock ownership as in <c>litepcie_ioctl(LITEPCIE_IOCTL_LOCK)</c>: a second request answers 0 even to
/// the holder, any file releases, the releasing file forgets only its own ownership, and a file that still believes it
/// owns a direction stops it on close (<c>litepcie_release</c>) whoever runs it now;</item>
/// <item>DMA_WRITER/READER start or stop whenever <c>enable</c> differs from the driver's state, so a counter read with
/// the wrong flag switches an engine;</item>
/// <item>read/write: O_NONBLOCK read answers EAGAIN at hw == sw, write answers EAGAIN at hw == sw (the empty ring)
/// and 0 when full; reads drop buffers more than 128 behind, writes skip slots the hardware passed, both counted as
/// consumed; a blocking read or write waits — the fake throws after <see cref="BlockingGuard"/> so a test that would
/// hang on the real driver fails instead;</item>
/// <item>the hardware is lossy: the engines loop their tables whatever software has consumed (unless built with
/// <c>hostFlowControl</c>, a declared difference for the streaming tests that verify data);</item>
/// <item>removal never answers ENODEV or EIO: the driver's state is freed while files stay open, so every call on a
/// file of a removed board is recorded in <see cref="UseAfterFree"/> (the real kernel would read freed memory).</item>
/// </list>
/// </summary>
internal sealed unsafe class FakeLitePcieKernel : ILinuxSyscalls, IDisposable
{
    /// <summary>How long a blocking read/write/poll may wait before the fake declares it unbounded.</summary>
    public static readonly TimeSpan BlockingGuard = TimeSpan.FromSeconds(10);

    private readonly string _root;
    private readonly Dictionary<int, OpenFile> _fds = [];
    private readonly List<Probe> _probes = [];
    private readonly List<nint> _barBuffers = [];
    private readonly List<KernelDriverModel> _retired = [];
    private readonly Lock _gate = new();
    private readonly bool _hostFlowControl;
    private int _nextFd = 100;
    private int _minorIndex;

    /// <param name="board">Board profile of every board.</param>
    /// <param name="boards">Boards on the bus (addresses 0000:02:00.0, 0000:03:00.0, …), probed in address order.</param>
    /// <param name="hostFlowControl">Declared difference: the engines wait for software (lossless) instead of looping freely.</param>
    /// <param name="paced">Pace the simulated engines to the link's payload rate.</param>
    public FakeLitePcieKernel(string board = BoardCatalog.DefaultBoard, int boards = 1, bool hostFlowControl = false, bool paced = false)
    {
        Profile = BoardCatalog.Load(board);
        if (Map.Registers.Any(r => r.Name.StartsWith("flash_", StringComparison.Ordinal) || r.Name.StartsWith("icap_", StringComparison.Ordinal)))
        {
            throw new NotSupportedException($"{board}: LITEPCIE_IOCTL_FLASH/ICAP are not modelled");
        }

        _hostFlowControl = hostFlowControl;
        _root = Directory.CreateTempSubdirectory("fake-linux-").FullName;
        Paths = new LinuxPaths(Path.Combine(_root, "sys"), Path.Combine(_root, "dev"), Path.Combine(_root, "proc"), Path.Combine(_root, "lib"));
        Directory.CreateDirectory(Path.Combine(Paths.Sys, "bus", "pci", "devices"));
        for (int k = 0; k < boards; k++)
        {
            string address = new PciAddress(0, k + 2, 0, 0).ToString();
            var simulated = new SimulatedBoard(Profile, new SimulationOptions { Paced = paced });
            SimulatedSysfs.AddFunction(simulated, Paths.Sys, Paths.Proc, address);
            ProbeBoard(simulated, address);
        }
    }

    public BoardProfile Profile { get; }

    public LinuxPaths Paths { get; }

    public CsrMap Map => Profile.CsrMap;

    /// <summary>The first board's address.</summary>
    public string Address => _probes[0].Address;

    /// <summary>The first board.</summary>
    public SimulatedBoard Board => Current(Address).Board;

    /// <summary>The driver state of the first board's current probe.</summary>
    public KernelDriverModel Driver => Current(Address).Driver;

    /// <summary>Every ioctl, in order.</summary>
    public List<IoctlCall> Ioctls { get; } = [];

    /// <summary>REG accesses that reached the "kernel" outside BAR0 (the driver would touch arbitrary memory).</summary>
    public List<uint> OutOfBoundsRegs { get; } = [];

    /// <summary>Calls made on a file of a removed board: each would reach the driver's freed memory.</summary>
    public List<string> UseAfterFree { get; } = [];

    /// <summary>Nodes as the driver creates them (crw-------): opening as a non-root user is EACCES.</summary>
    public bool NodesRootOnly { get; set; }

    /// <summary>The current /dev path of a channel of a board (minors move on every re-probe).</summary>
    public string NodePath(int channel, string? address = null) => Path.Combine(Paths.Dev, Current(address ?? Address).NodeNames[channel]);

    /// <summary>The node names of a board's current probe.</summary>
    public IReadOnlyList<string> NodeNames(string? address = null) => Current(address ?? Address).NodeNames;

    /// <summary>Channel state of the current probe of a board (enable flags and locks as the driver keeps them).</summary>
    public (byte WriterEnable, byte ReaderEnable, bool WriterLock, bool ReaderLock) Channel(int channel, string? address = null)
    {
        lock (_gate)
        {
            var c = Current(address ?? Address).Channels[channel];
            return (c.Enable[0], c.Enable[1], c.Lock[0], c.Lock[1]);
        }
    }

    /// <summary>
    /// The board leaves: litepcie_pci_remove (engines' enable registers cleared, MSI enable cleared, IRQs freed, nodes
    /// destroyed) and the PCI core's removal of the function. Open files keep pointing at the freed state. With
    /// <paramref name="surprise"/> the board is physically gone first (its reads return all-ones).
    /// </summary>
    public void Remove(string? address = null, bool surprise = false)
    {
        lock (_gate)
        {
            var probe = Current(address ?? Address);
            if (surprise)
            {
                probe.Board.SurpriseRemove();
            }
            else
            {
                var bus = probe.Board.CsrBus;
                foreach (var ch in Map.Layout.DmaChannels)
                {
                    bus.Write(ch.Writer.Enable, 0);
                    bus.Write(ch.Reader.Enable, 0);
                }

                bus.Write(Map.Layout.Msi.Enable, 0);
            }

            probe.Board.InterruptSink = null;
            probe.Board.FlowControl = null;
            probe.Removed = true;
            SimulatedSysfs.Remove(Paths.Sys, Paths.Dev, probe.Address, probe.NodeNames);
        }
    }

    /// <summary>echo 1 &gt; /sys/bus/pci/rescan: removed boards return and are probed again, with new minors.</summary>
    public void Rescan()
    {
        lock (_gate)
        {
            foreach (var probe in _probes.Where(p => p.Removed && !_probes.Any(q => q.Address == p.Address && !q.Removed)).ToList())
            {
                if (!probe.Board.IsPresent)
                {
                    probe.Board.Reattach();
                }

                SimulatedSysfs.AddFunction(probe.Board, Paths.Sys, Paths.Proc, probe.Address);
                ProbeBoard(probe.Board, probe.Address);
            }
        }
    }

    public int Open(string path, int flags)
    {
        lock (_gate)
        {
            foreach (var probe in _probes.Where(p => !p.Removed))
            {
                for (int c = 0; c < probe.NodeNames.Count; c++)
                {
                    if (path != Path.Combine(Paths.Dev, probe.NodeNames[c]))
                    {
                        continue;
                    }

                    if (NodesRootOnly)
                    {
                        return -EACCES;
                    }

                    // litepcie_open: counters of a disabled direction are cleared.
                    foreach (var d in DmaDirectionExtensions.All)
                    {
                        if (probe.Channels[c].Enable[(int)d] == 0)
                        {
                            probe.Driver.ClearCounters(c, d);
                        }
                    }

                    return Add(new OpenFile(path, probe, c, -1, flags));
                }
            }

            foreach (var probe in _probes.Where(p => !p.Removed))
            {
                string resource = Path.Combine(Paths.PciDevices, probe.Address, "resource");
                if (path.StartsWith(resource, StringComparison.Ordinal) && int.TryParse(path[resource.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int bar))
                {
                    return Add(new OpenFile(path, probe, -1, bar, flags));
                }
            }

            return -ENOENT;
        }
    }

    public int Close(int fd)
    {
        lock (_gate)
        {
            if (!_fds.Remove(fd, out var f))
            {
                return -EBADF;
            }

            if (f.Channel < 0)
            {
                return 0;
            }

            if (f.Probe.Removed)
            {
                UseAfterFree.Add($"close {Path.GetFileName(f.Path)} (litepcie_release on a removed board)");
                return 0;
            }

            // litepcie_release: whatever this file believes it owns is stopped and unlocked, whoever runs it now.
            var ch = f.Probe.Channels[f.Channel];
            foreach (var d in new[] { DmaDirection.Reader, DmaDirection.Writer })
            {
                if (f.Owns[(int)d])
                {
                    f.Probe.Driver.Stop(f.Channel, d);
                    ch.Lock[(int)d] = false;
                    ch.Enable[(int)d] = 0;
                }
            }

            return 0;
        }
    }

    public int Fcntl(int fd, int command, int argument)
    {
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out var f))
            {
                return -EBADF;
            }

            switch (command)
            {
                case GetStatusFlags:
                    return f.Flags;
                case SetStatusFlags:
                    f.Flags = (f.Flags & ~NonBlocking) | (argument & NonBlocking);
                    return 0;
                default:
                    return -EINVAL;
            }
        }
    }

    public int Ioctl(int fd, uint request, void* argument)
    {
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out var f) || f.Channel < 0)
            {
                return -EBADF;
            }

            int size = (int)((request >> 16) & 0x3FFF);
            Ioctls.Add(new IoctlCall(f.Path, LitePcieIoctl.Name(request), new ReadOnlySpan<byte>(argument, size).ToArray()));
            if (f.Probe.Removed)
            {
                UseAfterFree.Add($"ioctl {LitePcieIoctl.Name(request)} on {Path.GetFileName(f.Path)} after the board was removed");
                return 0;
            }

            var probe = f.Probe;
            var driver = probe.Driver;
            var bus = probe.Board.CsrBus;
            int c = f.Channel;
            var chan = probe.Channels[c];
            var layout = Map.Layout.DmaChannels[c];
            if (request == LitePcieIoctl.Reg)
            {
                // No bounds or alignment check: addr − CSR_BASE is added to the BAR0 mapping as it is.
                var reg = (LitePcieReg*)argument;
                uint offset = reg->Address - Map.CsrBase;
                if ((ulong)offset + 4 > probe.Board.BarSize(0))
                {
                    OutOfBoundsRegs.Add(reg->Address);
                    reg->Value = 0xBAADF00D; // what a read beyond the mapping returns: someone else's memory
                    return 0;
                }

                if (reg->IsWrite != 0)
                {
                    bus.WriteCsr(offset, reg->Value);
                }
                else
                {
                    reg->Value = bus.ReadCsr(offset);
                }

                return 0;
            }

            if (request == LitePcieIoctl.Dma)
            {
                // Written at DMA base + 0x40 (PCIE_DMA_LOOPBACK_ENABLE_OFFSET), loopback block or not (P14, docs/checklist.md#p14).
                bus.WriteCsr(Map.ToBarOffset(layout.BaseAddress) + 0x40, ((LitePcieDma*)argument)->LoopbackEnable);
                return 0;
            }

            if (request == LitePcieIoctl.DmaWriter || request == LitePcieIoctl.DmaReader)
            {
                var d = request == LitePcieIoctl.DmaWriter ? DmaDirection.Writer : DmaDirection.Reader;
                var ctl = (LitePcieDmaControl*)argument;
                if (ctl->Enable != chan.Enable[(int)d])
                {
                    if (ctl->Enable != 0)
                    {
                        driver.Start(c, d);
                    }
                    else
                    {
                        driver.Stop(c, d);
                    }
                }

                chan.Enable[(int)d] = ctl->Enable;
                var s = driver.State(c, d);
                ctl->HwCount = s.HwCount;
                ctl->SwCount = s.SwCount;
                return 0;
            }

            if (request == LitePcieIoctl.MmapDmaInfo)
            {
                var g = Profile.DmaGeometry;
                *(LitePcieMmapDmaInfo*)argument = new LitePcieMmapDmaInfo
                {
                    TxBufferOffset = 0,
                    TxBufferSize = (ulong)g.BufferSize,
                    TxBufferCount = (ulong)g.BufferCount,
                    RxBufferOffset = (ulong)g.RingBytes,
                    RxBufferSize = (ulong)g.BufferSize,
                    RxBufferCount = (ulong)g.BufferCount,
                };
                return 0;
            }

            if (request == LitePcieIoctl.Lock)
            {
                var l = (LitePcieLock*)argument;
                l->ReaderStatus = 1;
                if (l->ReaderRequest != 0)
                {
                    if (chan.Lock[1])
                    {
                        l->ReaderStatus = 0; // even when this file is the holder
                    }
                    else
                    {
                        chan.Lock[1] = true;
                        f.Owns[1] = true;
                    }
                }

                if (l->ReaderRelease != 0)
                {
                    chan.Lock[1] = false; // any file can release
                    f.Owns[1] = false;
                }

                l->WriterStatus = 1;
                if (l->WriterRequest != 0)
                {
                    if (chan.Lock[0])
                    {
                        l->WriterStatus = 0;
                    }
                    else
                    {
                        chan.Lock[0] = true;
                        f.Owns[0] = true;
                    }
                }

                if (l->WriterRelease != 0)
                {
                    chan.Lock[0] = false;
                    f.Owns[0] = false;
                }

                return 0;
            }

            if (request == LitePcieIoctl.MmapDmaWriterUpdate || request == LitePcieIoctl.MmapDmaReaderUpdate)
            {
                driver.UpdateSwCount(c, request == LitePcieIoctl.MmapDmaWriterUpdate ? DmaDirection.Writer : DmaDirection.Reader, ((LitePcieMmapDmaUpdate*)argument)->SwCount);
                return 0;
            }

            return -ENOTTY; // -ENOIOCTLCMD; FLASH and ICAP are compiled out for designs without those blocks
        }
    }

    public nint Mmap(nint length, int protection, int fd, long offset, out int error)
    {
        lock (_gate)
        {
            error = 0;
            if (!_fds.TryGetValue(fd, out var f))
            {
                error = EBADF;
                return 0;
            }

            if (f.Bar >= 0)
            {
                nint buffer = (nint)NativeMemory.AllocZeroed((nuint)length);
                _barBuffers.Add(buffer);
                return buffer;
            }

            if (f.Probe.Removed)
            {
                UseAfterFree.Add($"mmap {Path.GetFileName(f.Path)} after the board was removed");
            }

            var g = Profile.DmaGeometry;
            if (length != g.RingBytes || (offset != 0 && offset != g.RingBytes))
            {
                error = EINVAL; // DMA_BUFFER_TOTAL_SIZE exactly, at page offset 0 (TX) or DMA_BUFFER_TOTAL_SIZE (RX)
                return 0;
            }

            var d = offset == 0 ? DmaDirection.Reader : DmaDirection.Writer;
            return (nint)f.Probe.Driver.State(f.Channel, d).Ring.Pointer;
        }
    }

    public int Munmap(nint address, nint length) => 0;

    public int Poll(int fd, short events, int timeoutMs, out short returned)
    {
        returned = 0;
        OpenFile f;
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out f!))
            {
                return -EBADF;
            }

            if (f.Probe.Removed)
            {
                UseAfterFree.Add($"poll {Path.GetFileName(f.Path)} after the board was removed");
                return 0;
            }
        }

        Guard(timeoutMs < 0, "poll with an infinite timeout");
        long deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            // litepcie_poll: POLLIN when writer hw − sw > 2, POLLOUT when reader sw − hw < 128; never POLLERR/POLLHUP.
            var w = f.Probe.Driver.State(f.Channel, DmaDirection.Writer);
            var r = f.Probe.Driver.State(f.Channel, DmaDirection.Reader);
            short ready = (short)(((events & PollIn) != 0 && w.HwCount - w.SwCount > 2 ? PollIn : 0) |
                                  ((events & PollOut) != 0 && r.SwCount - r.HwCount < Profile.DmaGeometry.BufferCount / 2 ? PollOut : 0));
            if (ready != 0)
            {
                returned = ready;
                return 1;
            }

            if (Environment.TickCount64 >= deadline)
            {
                return 0;
            }

            Thread.Sleep(1); // the fake kernel's wait queue: woken by the next check, bounded by the caller's timeout
        }
    }

    /// <summary>read(2) of the writer ring (copy mode): litepcie_read.</summary>
    public nint Read(int fd, void* buffer, nint count)
    {
        OpenFile f;
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out f!))
            {
                return -EBADF;
            }

            if (f.Probe.Removed)
            {
                UseAfterFree.Add($"read {Path.GetFileName(f.Path)} after the board was removed");
                return -EFAULT;
            }
        }

        var s = f.Probe.Driver.State(f.Channel, DmaDirection.Writer);
        if ((f.Flags & NonBlocking) != 0)
        {
            if (s.HwCount == s.SwCount)
            {
                return -EAGAIN;
            }
        }
        else
        {
            WaitFor(() => s.HwCount - s.SwCount > 0, "a blocking read with no writer buffer complete");
        }

        int size = Profile.DmaGeometry.BufferSize;
        int half = Profile.DmaGeometry.BufferCount / 2;
        nint len = count;
        int i = 0;
        while (len >= size)
        {
            long hw = s.HwCount, sw = s.SwCount;
            if (hw - sw <= 0)
            {
                break;
            }

            if (hw - sw <= half)
            {
                f.Probe.Driver.Buffer(f.Channel, DmaDirection.Writer, sw).CopyTo(new Span<byte>((byte*)buffer + (long)size * i, size));
            }
            else
            {
                Interlocked.Increment(ref _readOverflows); // "Reading too late, N buffers lost"; the user's 8 KiB is left as it was
            }

            len -= size;
            f.Probe.Driver.UpdateSwCount(f.Channel, DmaDirection.Writer, sw + 1);
            i++;
        }

        return count - len; // below one buffer: 0, which a stream API takes for end of file
    }

    /// <summary>write(2) into the reader ring (copy mode): litepcie_write.</summary>
    public nint Write(int fd, void* buffer, nint count)
    {
        OpenFile f;
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out f!))
            {
                return -EBADF;
            }

            if (f.Probe.Removed)
            {
                UseAfterFree.Add($"write {Path.GetFileName(f.Path)} after the board was removed");
                return -EFAULT;
            }
        }

        var s = f.Probe.Driver.State(f.Channel, DmaDirection.Reader);
        int half = Profile.DmaGeometry.BufferCount / 2;
        if ((f.Flags & NonBlocking) != 0)
        {
            if (s.HwCount == s.SwCount)
            {
                return -EAGAIN; // the same test as read's: an empty ring, not a full one (P18)
            }
        }
        else
        {
            WaitFor(() => s.SwCount - s.HwCount < half, "a blocking write with the reader ring full");
        }

        int size = Profile.DmaGeometry.BufferSize;
        nint len = count;
        int i = 0;
        while (len >= size)
        {
            long hw = s.HwCount, sw = s.SwCount;
            if (sw - hw >= half)
            {
                break;
            }

            if (sw - hw < 0)
            {
                Interlocked.Increment(ref _writeUnderflows); // "Writing too late, N buffers lost": counted, not copied
            }
            else
            {
                new ReadOnlySpan<byte>((byte*)buffer + (long)size * i, size).CopyTo(f.Probe.Driver.Buffer(f.Channel, DmaDirection.Reader, sw));
            }

            len -= size;
            f.Probe.Driver.UpdateSwCount(f.Channel, DmaDirection.Reader, sw + 1);
            i++;
        }

        return count - len;
    }

    /// <summary>Buffers read(2) counted but did not copy ("Reading too late").</summary>
    public long ReadOverflows => Interlocked.Read(ref _readOverflows);

    /// <summary>Buffers write(2) counted but did not copy ("Writing too late").</summary>
    public long WriteUnderflows => Interlocked.Read(ref _writeUnderflows);

    public void Dispose()
    {
        foreach (var probe in _probes)
        {
            probe.Driver.Dispose();
        }

        foreach (var board in _probes.Select(p => p.Board).Distinct())
        {
            board.Dispose();
        }

        foreach (var b in _barBuffers)
        {
            NativeMemory.Free((void*)b);
        }

        Directory.Delete(_root, recursive: true);
    }

    private long _readOverflows;
    private long _writeUnderflows;

    private static void Guard(bool unbounded, string what)
    {
        if (unbounded)
        {
            throw new InvalidOperationException($"{what}: on the real driver this waits without bound");
        }
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        long deadline = Environment.TickCount64 + (long)BlockingGuard.TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new InvalidOperationException($"{what}: blocked for {BlockingGuard.TotalSeconds:0} s; on the real driver this waits without bound");
            }

            Thread.Sleep(1);
        }
    }

    private Probe Current(string address) =>
        _probes.LastOrDefault(p => p.Address == address && !p.Removed) ?? _probes.Last(p => p.Address == address);

    /// <summary>litepcie_pci_probe: reset, identifier, bus mastering, MSI, nodes with the next minors.</summary>
    private void ProbeBoard(SimulatedBoard board, string address)
    {
        var driver = new KernelDriverModel(board, lossless: _hostFlowControl);
        var nodes = SimulatedSysfs.Bind(board, Paths.Sys, Paths.Dev, address, _minorIndex);
        _minorIndex += nodes.Count;
        _probes.Add(new Probe(address, board, driver, [.. nodes.Select(Path.GetFileName).OfType<string>()], Map.Layout.DmaChannels.Count));
    }

    private int Add(OpenFile file)
    {
        int fd = _nextFd++;
        _fds[fd] = file;
        return fd;
    }

    /// <summary>One probe of a board (litepcie_device): a re-probe after rescan is a new one.</summary>
    private sealed class Probe(string address, SimulatedBoard board, KernelDriverModel driver, IReadOnlyList<string> nodeNames, int channels)
    {
        public string Address { get; } = address;

        public SimulatedBoard Board { get; } = board;

        public KernelDriverModel Driver { get; } = driver;

        public IReadOnlyList<string> NodeNames { get; } = nodeNames;

        public ChannelState[] Channels { get; } = [.. Enumerable.Range(0, channels).Select(_ => new ChannelState())];

        public bool Removed { get; set; }
    }

    /// <summary>struct litepcie_dma_chan's writer/reader enable bytes and locks (index 0 writer, 1 reader).</summary>
    private sealed class ChannelState
    {
        public byte[] Enable { get; } = new byte[2];

        public bool[] Lock { get; } = new bool[2];
    }

    /// <summary>struct litepcie_chan_priv and the file's flags.</summary>
    private sealed class OpenFile(string path, Probe probe, int channel, int bar, int flags)
    {
        public string Path { get; } = path;

        public Probe Probe { get; } = probe;

        public int Channel { get; } = channel;

        public int Bar { get; } = bar;

        public int Flags { get; set; } = flags;

        /// <summary>chan_priv->writer, chan_priv->reader.</summary>
        public bool[] Owns { get; } = new bool[2];
    }
}
