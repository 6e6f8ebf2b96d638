using System.Globalization;
using System.Runtime.InteropServices;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Linux;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Driver;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Tests.Linux;

/// <summary>One ioctl the transport issued, as the fake kernel received it.</summary>
internal sealed record IoctlCall(string Node, string Name, byte[] Argument);

/// <summary>
/// A fake Linux for the litepcie transport: a sysfs tree and /dev nodes in a temporary directory, and the system
/// calls answered the way litepcie.ko answers them (spec/litepcie.md §6) on top of the kernel-driver model and a
/// simulated board — including its hazards: REG checks nothing, the loopback ioctl writes +0x40 blindly, DMA
/// ioctls ignore locks, and after a removal every call fails with ENODEV.
/// </summary>
internal sealed unsafe class FakeLitePcieKernel : ILinuxSyscalls, IDisposable
{
    private readonly string _root;
    private readonly Dictionary<int, (string Path, int Channel, int Bar)> _fds = [];
    private readonly Dictionary<(int Channel, int Direction), int> _lockOwner = [];
    private readonly List<nint> _barBuffers = [];
    private readonly Lock _gate = new();
    private int _nextFd = 100;

    public FakeLitePcieKernel(string board = BoardCatalog.DefaultBoard, string address = "0000:02:00.0")
    {
        Address = address;
        Profile = BoardCatalog.Load(board);
        Board = new SimulatedBoard(Profile);
        Driver = new KernelDriverModel(Board, lossless: true);
        _root = Directory.CreateTempSubdirectory("fake-linux-").FullName;
        Paths = new LinuxPaths(Path.Combine(_root, "sys"), Path.Combine(_root, "dev"), Path.Combine(_root, "proc"));
        BuildTree();
    }

    public string Address { get; }

    public BoardProfile Profile { get; }

    public SimulatedBoard Board { get; }

    public KernelDriverModel Driver { get; }

    public LinuxPaths Paths { get; }

    public CsrMap Map => Profile.CsrMap;

    /// <summary>Every ioctl, in order.</summary>
    public List<IoctlCall> Ioctls { get; } = [];

    /// <summary>REG accesses that reached the "kernel" outside BAR0 (the driver would touch arbitrary memory).</summary>
    public List<uint> OutOfBoundsRegs { get; } = [];

    public bool Removed { get; private set; }

    public string NodePath(int channel) => Path.Combine(Paths.Dev, $"litepcie{channel}");

    /// <summary>Another process takes a direction's lock (what a second dma_test would do).</summary>
    public void LockFromAnotherProcess(int channel, DmaDirection direction) => _lockOwner[(channel, (int)direction)] = -1;

    /// <summary>Surprise removal: the board leaves the bus, its sysfs directory goes, every call on the old files fails.</summary>
    public void Remove()
    {
        Removed = true;
        Board.SurpriseRemove();
        Directory.Delete(Path.Combine(Paths.PciDevices, Address), recursive: true);
    }

    public int Open(string path, int flags)
    {
        lock (_gate)
        {
            for (int c = 0; c < Map.Layout.DmaChannels.Count; c++)
            {
                if (path == NodePath(c))
                {
                    return Removed ? -ENODEV : Add(path, c, -1);
                }
            }

            string resource = Path.Combine(Paths.PciDevices, Address, "resource");
            if (path.StartsWith(resource, StringComparison.Ordinal) && int.TryParse(path[resource.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int bar))
            {
                return Removed ? -ENOENT : Add(path, -1, bar);
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
                return -EINVAL;
            }

            // The lock owner's close stops that DMA and clears its lock (§6.7).
            foreach (var key in _lockOwner.Where(kv => kv.Value == fd).Select(kv => kv.Key).ToList())
            {
                _lockOwner.Remove(key);
                if (!Removed && Driver.State(key.Channel, (DmaDirection)key.Direction).Enabled)
                {
                    Driver.Stop(key.Channel, (DmaDirection)key.Direction);
                }
            }

            return 0;
        }
    }

    public int Ioctl(int fd, uint request, void* argument)
    {
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out var f) || f.Channel < 0)
            {
                return -EINVAL;
            }

            int size = (int)((request >> 16) & 0x3FFF);
            Ioctls.Add(new IoctlCall(f.Path, LitePcieIoctl.Name(request), new ReadOnlySpan<byte>(argument, size).ToArray()));
            if (Removed)
            {
                return -ENODEV;
            }

            int c = f.Channel;
            var ch = Map.Layout.DmaChannels[c];
            if (request == LitePcieIoctl.Reg)
            {
                var reg = (LitePcieReg*)argument;
                uint offset = reg->Address - Map.CsrBase;
                if (offset + 4 > Board.BarSize(0))
                {
                    OutOfBoundsRegs.Add(reg->Address);
                    reg->Value = 0xBAADF00D; // what a read beyond the mapping returns: someone else's memory
                    return 0;
                }

                if (reg->IsWrite != 0)
                {
                    Board.CsrBus.WriteCsr(offset, reg->Value);
                }
                else
                {
                    reg->Value = Board.CsrBus.ReadCsr(offset);
                }

                return 0;
            }

            if (request == LitePcieIoctl.Dma)
            {
                // Written blindly at DMA base + 0x40, loopback or not (P14).
                Board.CsrBus.WriteCsr(Map.ToBarOffset(ch.BaseAddress) + 0x40, ((LitePcieDma*)argument)->LoopbackEnable);
                return 0;
            }

            if (request == LitePcieIoctl.DmaWriter || request == LitePcieIoctl.DmaReader)
            {
                var d = request == LitePcieIoctl.DmaWriter ? DmaDirection.Writer : DmaDirection.Reader;
                var ctl = (LitePcieDmaControl*)argument;
                var s = Driver.State(c, d);
                bool enable = ctl->Enable != 0;
                if (enable && !s.Enabled)
                {
                    Driver.Start(c, d);
                }
                else if (!enable && s.Enabled)
                {
                    Driver.Stop(c, d);
                }

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
                l->ReaderStatus = Request(l->ReaderRequest, (c, 1), fd);
                l->WriterStatus = Request(l->WriterRequest, (c, 0), fd);
                if (l->ReaderRelease != 0)
                {
                    _lockOwner.Remove((c, 1)); // any fd can release (P17)
                }

                if (l->WriterRelease != 0)
                {
                    _lockOwner.Remove((c, 0));
                }

                return 0;
            }

            if (request == LitePcieIoctl.MmapDmaWriterUpdate || request == LitePcieIoctl.MmapDmaReaderUpdate)
            {
                Driver.UpdateSwCount(c, request == LitePcieIoctl.MmapDmaWriterUpdate ? DmaDirection.Writer : DmaDirection.Reader, ((LitePcieMmapDmaUpdate*)argument)->SwCount);
                return 0;
            }

            return -ENOTTY;
        }
    }

    public nint Mmap(nint length, int protection, int fd, long offset, out int error)
    {
        lock (_gate)
        {
            error = 0;
            if (!_fds.TryGetValue(fd, out var f))
            {
                error = EINVAL;
                return 0;
            }

            if (f.Bar >= 0)
            {
                nint buffer = (nint)NativeMemory.AllocZeroed((nuint)length);
                _barBuffers.Add(buffer);
                return buffer;
            }

            var g = Profile.DmaGeometry;
            if (length != g.RingBytes || (offset != 0 && offset != g.RingBytes))
            {
                error = EINVAL; // 2 MiB exactly at 0 (TX) or 2 MiB (RX)
                return 0;
            }

            var d = offset == 0 ? DmaDirection.Reader : DmaDirection.Writer;
            return (nint)Driver.State(f.Channel, d).Ring.Pointer;
        }
    }

    public int Munmap(nint address, nint length) => 0;

    public int Poll(int fd, short events, int timeoutMs, out short returned)
    {
        returned = 0;
        (string Path, int Channel, int Bar) f;
        lock (_gate)
        {
            if (!_fds.TryGetValue(fd, out f))
            {
                return -EINVAL;
            }
        }

        var deadline = Environment.TickCount64 + timeoutMs;
        do
        {
            if (Removed)
            {
                return -ENODEV;
            }

            var w = Driver.State(f.Channel, DmaDirection.Writer);
            var r = Driver.State(f.Channel, DmaDirection.Reader);
            short ready = (short)(((events & PollIn) != 0 && w.HwCount - w.SwCount > 2 ? PollIn : 0) |
                                  ((events & PollOut) != 0 && r.SwCount - r.HwCount < 128 ? PollOut : 0));
            if (ready != 0)
            {
                returned = ready;
                return 1;
            }

            Thread.Sleep(1);
        }
        while (Environment.TickCount64 < deadline);

        return 0;
    }

    /// <summary>read(2) of the writer ring (copy mode, §6.5).</summary>
    public nint Read(int fd, void* buffer, nint count)
    {
        var f = _fds[fd];
        var s = Driver.State(f.Channel, DmaDirection.Writer);
        int size = Profile.DmaGeometry.BufferSize;
        if (Removed)
        {
            return -ENODEV;
        }

        if (!Driver.WaitHwCount(f.Channel, DmaDirection.Writer, s.SwCount + 1, TimeSpan.FromSeconds(5)))
        {
            return -EAGAIN;
        }

        nint done = 0;
        while (count - done >= size && s.HwCount - s.SwCount > 0)
        {
            if (s.HwCount - s.SwCount <= 128)
            {
                Driver.Buffer(f.Channel, DmaDirection.Writer, s.SwCount).CopyTo(new Span<byte>((byte*)buffer + done, size));
            }

            Driver.UpdateSwCount(f.Channel, DmaDirection.Writer, s.SwCount + 1);
            done += size;
        }

        return done; // a request smaller than one buffer returns 0 — what FileStream mistakes for EOF
    }

    /// <summary>write(2) into the reader ring (copy mode).</summary>
    public nint Write(int fd, void* buffer, nint count)
    {
        var f = _fds[fd];
        var s = Driver.State(f.Channel, DmaDirection.Reader);
        int size = Profile.DmaGeometry.BufferSize;
        if (Removed)
        {
            return -ENODEV;
        }

        nint done = 0;
        while (count - done >= size && s.SwCount - s.HwCount < 128)
        {
            new ReadOnlySpan<byte>((byte*)buffer + done, size).CopyTo(Driver.Buffer(f.Channel, DmaDirection.Reader, s.SwCount));
            Driver.UpdateSwCount(f.Channel, DmaDirection.Reader, s.SwCount + 1);
            done += size;
        }

        return done;
    }

    public void Dispose()
    {
        Driver.Dispose();
        Board.Dispose();
        foreach (var b in _barBuffers)
        {
            NativeMemory.Free((void*)b);
        }

        Directory.Delete(_root, recursive: true);
    }

    private int Add(string path, int channel, int bar)
    {
        int fd = _nextFd++;
        _fds[fd] = (path, channel, bar);
        return fd;
    }

    private byte Request(byte request, (int, int) key, int fd)
    {
        if (request == 0)
        {
            return 1; // "status is 1 when nothing was requested"
        }

        if (_lockOwner.TryGetValue(key, out int owner) && owner != fd)
        {
            return 0;
        }

        _lockOwner[key] = fd;
        return 1;
    }

    /// <summary>A sysfs tree and /dev nodes as litepcie.ko leaves them after probing the board.</summary>
    private void BuildTree() => SimulatedSysfs.Populate(Board, Paths.Sys, Paths.Dev, Paths.Proc, Address);
}
