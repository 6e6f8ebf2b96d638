using System.Diagnostics;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux;

/// <summary>
/// One <c>/dev/litepcieN</c> channel: LOCK taken for a direction before it is enabled and released after it is
/// stopped (the driver's DMA ioctls ignore the lock, P17); DMA_WRITER/DMA_READER to start, stop and read counts;
/// MMAP_DMA_*_UPDATE for software progress; poll() for waits; the loopback ioctl only when the layout guard says
/// +0x40 is <c>loopback_enable</c> (P14).
/// </summary>
public sealed class LinuxDmaChannel : IDmaChannel
{
    private readonly LinuxSession _session;
    private readonly int _fd;
    private readonly string _node;
    private readonly LitePcieMmapDmaInfo _info;
    private readonly bool[] _enabled = new bool[2];
    private readonly bool[] _locked = new bool[2];
    private readonly LinuxRing?[] _rings = new LinuxRing?[2];
    private readonly Lock _gate = new();

    internal LinuxDmaChannel(LinuxSession session, int index, int fd, string node, DmaChannelLayout layout, DmaRingGeometry geometry, LitePcieMmapDmaInfo info)
    {
        _session = session;
        Index = index;
        _fd = fd;
        _node = node;
        Layout = layout;
        Geometry = geometry;
        _info = info;
    }

    public int Index { get; }

    public DmaChannelLayout Layout { get; }

    public DmaRingGeometry Geometry { get; }

    /// <summary>litepcie.ko has no per-source interrupt counts.</summary>
    public bool CountsInterruptsPerSource => false;

    /// <summary>litepcie.ko programs an interrupt every DMA_BUFFER_PER_IRQ (32) buffers and always enables the source.</summary>
    public string? Unsupported(DmaStartOptions options) =>
        options.IrqEvery != 32 ? $"litepcie.ko interrupts every 32 buffers (DMA_BUFFER_PER_IRQ, compile-time); irqEvery {options.IrqEvery} needs a rebuilt driver"
        : options.InterruptsMasked ? "litepcie.ko enables a direction's MSI bit whenever it starts it; running with the interrupt masked needs the dext"
        : null;

    public unsafe void Start(DmaDirection direction, DmaStartOptions options)
    {
        if (Unsupported(options) is { } why)
        {
            throw new DeviceCapabilityException(_session.Address, $"pcie_dma{Index} start with irqEvery {options.IrqEvery}{(options.InterruptsMasked ? ", masked" : "")}", why);
        }

        if (!Layout.Guard.KernelDmaIoctlsSafe)
        {
            throw new DeviceCapabilityException(_session.Address, $"pcie_dma{Index} {direction.Describe()} start",
                "the layout guard found the writer/reader registers away from the offsets litepcie.ko hard-codes; its DMA ioctls would program the wrong registers");
        }

        lock (_gate)
        {
            int d = (int)direction;
            if (!_locked[d])
            {
                var l = new LitePcieLock();
                if (direction == DmaDirection.Writer)
                {
                    l.WriterRequest = 1;
                }
                else
                {
                    l.ReaderRequest = 1;
                }

                _session.Ioctl(_fd, LitePcieIoctl.Lock, &l, $"LITEPCIE_IOCTL_LOCK request {direction.Describe()} on {_node}");
                byte status = direction == DmaDirection.Writer ? l.WriterStatus : l.ReaderStatus;
                if (status == 0)
                {
                    throw new DeviceBusyException(_session.Address, $"pcie_dma{Index} {direction.Describe()} is locked by another open file of {_node} (LITEPCIE_IOCTL_LOCK)");
                }

                _locked[d] = true;
            }

            Control(direction, enable: true);
            _enabled[d] = true;
            _session.BumpGeneration();
        }
    }

    public void Stop(DmaDirection direction)
    {
        lock (_gate)
        {
            int d = (int)direction;
            Control(direction, enable: false);
            _enabled[d] = false;
            Release(direction);
        }
    }

    public unsafe void SetLoopback(bool enabled)
    {
        if (Layout.LoopbackEnable is not { } reg)
        {
            throw new DeviceCapabilityException(_session.Address, $"pcie_dma{Index} loopback",
                $"the design has no loopback_enable; LITEPCIE_IOCTL_DMA would write +0x40 = {Layout.Guard.RegisterAtLoopbackOffset ?? "another register"} (P14), so it is never sent");
        }

        if (Layout.Guard.KernelLoopbackIoctlSafe)
        {
            var dma = new LitePcieDma { LoopbackEnable = enabled ? (byte)1 : (byte)0 };
            _session.Ioctl(_fd, LitePcieIoctl.Dma, &dma, $"LITEPCIE_IOCTL_DMA on {_node}");
        }
        else
        {
            _session.Write(reg, enabled ? 1u : 0u); // loopback exists but not at +0x40: write the register itself
        }
    }

    public DmaCounters GetCounters(DmaDirection direction)
    {
        lock (_gate)
        {
            var c = Control(direction, _enabled[(int)direction]);
            return new DmaCounters(c.HwCount, c.SwCount, 0, _enabled[(int)direction], 0, 0);
        }
    }

    public unsafe long UpdateSwCount(DmaDirection direction, long swCount)
    {
        var u = new LitePcieMmapDmaUpdate { SwCount = swCount };
        _session.Ioctl(_fd, direction == DmaDirection.Writer ? LitePcieIoctl.MmapDmaWriterUpdate : LitePcieIoctl.MmapDmaReaderUpdate, &u,
            $"LITEPCIE_IOCTL_MMAP_DMA_{(direction == DmaDirection.Writer ? "WRITER" : "READER")}_UPDATE on {_node}");
        return 0; // the driver keeps no lost count in zero-copy mode
    }

    /// <summary>poll() until the hardware count reaches the target (the driver wakes POLLIN at hw − sw &gt; 2, POLLOUT at sw − hw &lt; 128).</summary>
    public async ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        short events = direction == DmaDirection.Writer ? PollIn : PollOut;
        while (true)
        {
            var c = GetCounters(direction);
            if (c.HwCount >= targetHwCount)
            {
                return c;
            }

            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                throw new DeviceTimeoutException(_session.Address, $"pcie_dma{Index} {direction.Describe()} hw count {targetHwCount} (at {c.HwCount})", timeout);
            }

            cancellationToken.ThrowIfCancellationRequested();
            int ms = (int)Math.Clamp(left.TotalMilliseconds, 1, 100);
            int r = await Task.Run(() => _session.Sys.Poll(_fd, events, ms, out _), cancellationToken).ConfigureAwait(false);
            if (r < 0 && -r != EINTR)
            {
                throw _session.Fail($"poll {_node}", -r);
            }

            if (r > 0 && GetCounters(direction).HwCount < targetHwCount)
            {
                // Ready for the driver's reason (buffers to consume), not ours: do not spin on it.
                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public IDmaRing Ring(DmaDirection direction)
    {
        lock (_gate)
        {
            int d = (int)direction;
            if (_rings[d] is { } ring)
            {
                return ring;
            }

            // offset 0 = the reader (TX) buffers, RX offset (2 MiB) = the writer buffers; sizes from MMAP_DMA_INFO.
            ulong offset = direction == DmaDirection.Writer ? _info.RxBufferOffset : _info.TxBufferOffset;
            nint length = (nint)(Geometry.RingBytes);
            int protection = direction == DmaDirection.Writer ? ProtRead : ProtRead | ProtWrite;
            nint p = _session.Sys.Mmap(length, protection, _fd, (long)offset, out int error);
            if (p == 0)
            {
                throw _session.Fail($"mmap {_node} offset 0x{offset:X}", error);
            }

            return _rings[d] = new LinuxRing(p, length, Geometry, direction, _session.Address);
        }
    }

    /// <summary>
    /// Copy-mode receive: <c>read(2)</c> of whole buffers from the writer ring (blocks until at least one is there).
    /// The length must be a multiple of the buffer size: the driver returns 0 for less, which a stream API takes for
    /// end of file (hence never a FileStream). Returns the bytes consumed, dropped buffers included.
    /// </summary>
    public unsafe int ReadCopy(Span<byte> destination)
    {
        CheckCopyLength(destination.Length, "read");
        fixed (byte* p = destination)
        {
            nint r = _session.Sys.Read(_fd, p, destination.Length);
            return r >= 0 ? (int)r : throw _session.Fail($"read {_node}", (int)-r);
        }
    }

    /// <summary>Copy-mode transmit: <c>write(2)</c> of whole buffers into the reader ring; returns the bytes taken.</summary>
    public unsafe int WriteCopy(ReadOnlySpan<byte> source)
    {
        CheckCopyLength(source.Length, "write");
        fixed (byte* p = source)
        {
            nint r = _session.Sys.Write(_fd, p, source.Length);
            return r >= 0 ? (int)r : throw _session.Fail($"write {_node}", (int)-r);
        }
    }

    /// <summary>Stops what this channel started, releases its locks, unmaps its rings (best effort).</summary>
    internal void Close()
    {
        lock (_gate)
        {
            foreach (var direction in DmaDirectionExtensions.All)
            {
                try
                {
                    if (_enabled[(int)direction])
                    {
                        Control(direction, enable: false);
                        _enabled[(int)direction] = false;
                    }

                    Release(direction);
                }
                catch (DeviceException)
                {
                    // The close of the fd stops what the lock owned anyway.
                }

                if (_rings[(int)direction] is { } ring)
                {
                    _session.Sys.Munmap(ring.Address, ring.Length);
                    _rings[(int)direction] = null;
                }
            }
        }
    }

    private void CheckCopyLength(int length, string call)
    {
        if (length <= 0 || length % Geometry.BufferSize != 0)
        {
            throw new ArgumentException(
                $"{call} of {length} bytes on {_node}: accepted a multiple of {Geometry.BufferSize} (the buffer size); a smaller read returns 0, which looks like end of file",
                nameof(length));
        }
    }

    private unsafe LitePcieDmaControl Control(DmaDirection direction, bool enable)
    {
        var c = new LitePcieDmaControl { Enable = enable ? (byte)1 : (byte)0 };
        bool writer = direction == DmaDirection.Writer;
        _session.Ioctl(_fd, writer ? LitePcieIoctl.DmaWriter : LitePcieIoctl.DmaReader, &c,
            $"LITEPCIE_IOCTL_DMA_{(writer ? "WRITER" : "READER")} on {_node}");
        return c;
    }

    private unsafe void Release(DmaDirection direction)
    {
        int d = (int)direction;
        if (!_locked[d])
        {
            return;
        }

        var l = new LitePcieLock();
        if (direction == DmaDirection.Writer)
        {
            l.WriterRelease = 1;
        }
        else
        {
            l.ReaderRelease = 1;
        }

        _locked[d] = false;
        _session.Ioctl(_fd, LitePcieIoctl.Lock, &l, $"LITEPCIE_IOCTL_LOCK release {direction.Describe()} on {_node}");
    }
}

/// <summary>A ring mapped with mmap(2): the writer (RX) ring is mapped read-only and refuses writes.</summary>
public sealed unsafe class LinuxRing(nint address, nint length, DmaRingGeometry geometry, DmaDirection direction, string device) : IDmaRing
{
    public nint Address { get; } = address;

    public nint Length { get; } = length;

    public DmaRingGeometry Geometry { get; } = geometry;

    public DmaDirection Direction { get; } = direction;

    public ReadOnlySpan<byte> Read(long bufferIndex) => Slot(bufferIndex);

    public Span<byte> Write(long bufferIndex) =>
        Direction == DmaDirection.Writer
            ? throw new DeviceException(DeviceErrorCode.NotPermitted, device, "the writer (RX) ring is mapped read-only: the FPGA writes it, the host reads it")
            : Slot(bufferIndex);

    private Span<byte> Slot(long bufferIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bufferIndex);
        long slot = bufferIndex % Geometry.BufferCount;
        return new Span<byte>((byte*)Address + slot * Geometry.BufferSize, Geometry.BufferSize);
    }
}
