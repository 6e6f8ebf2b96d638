using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux;

/// <summary>What a copy-mode read or write moved.</summary>
/// <param name="Bytes">Bytes the driver consumed (whole buffers; what read(2)/write(2) returned).</param>
/// <param name="Buffers">Buffers consumed.</param>
/// <param name="NotCopied">
/// Buffers counted but not copied, at least: a read more than 128 buffers behind the hardware drops the oldest (the
/// user buffer's 8 KiB is left untouched); a write after the hardware already passed the slot skips it. From the
/// counters just before the call, so the ISR moving during the call can only make the true number larger.
/// </param>
public readonly record struct CopyResult(int Bytes, int Buffers, int NotCopied);

/// <summary>
/// One <c>/dev/litepcieN</c> channel: LOCK taken for a direction before it is enabled and released after it is
/// stopped (the driver's DMA ioctls ignore the lock, P17, docs/checklist.md#p17); DMA_WRITER/DMA_READER to start and stop, and — with the
/// engine's current state read from its <c>enable</c> register first — to read counts without starting or stopping
/// anything; MMAP_DMA_*_UPDATE for software progress; poll() in bounded slices for waits; the loopback ioctl only
/// when the layout guard says +0x40 is <c>loopback_enable</c> (P14, docs/checklist.md#p14). The descriptor is non-blocking: no call here
/// can wait without bound.
/// </summary>
public sealed class LinuxDmaChannel : IDmaChannel
{
    /// <summary>Longest single poll(2) wait; cancellation and deadlines are checked between slices.</summary>
    public static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);

    private readonly LinuxSession _session;
    private readonly int _fd;
    private readonly string _node;
    private readonly LitePcieMmapDmaInfo _info;
    private readonly bool[] _enabled = new bool[2];
    private readonly bool[] _locked = new bool[2];
    private readonly long[] _notCopied = new long[2];
    private readonly long[] _ringLost = new long[2];
    private readonly long[] _lostUpTo = new long[2];
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

    /// <inheritdoc />
    public int Index { get; }

    /// <inheritdoc />
    public DmaChannelLayout Layout { get; }

    /// <inheritdoc />
    public DmaRingGeometry Geometry { get; }

    /// <summary>The channel node.</summary>
    public string Node => _node;

    /// <summary>
    /// litepcie.ko programs an interrupt every DMA_BUFFER_PER_IRQ (32) buffers, always enables the source, and keeps no
    /// per-source interrupt counts.
    /// </summary>
    public static DmaCapabilities DriverCapabilities { get; } = new()
    {
        FixedIrqEvery = 32,
        FixedIrqEveryReason = "litepcie.ko interrupts every 32 buffers (DMA_BUFFER_PER_IRQ, compile-time)",
        MaskedInterruptsUnsupported = "litepcie.ko enables a direction's MSI bit whenever it starts it; running with the interrupt masked needs the dext",
        CountsInterruptsPerSource = false,
    };

    /// <inheritdoc />
    public DmaCapabilities Capabilities => DriverCapabilities;

    /// <summary>Whether this session holds the driver's lock of a direction (LITEPCIE_IOCTL_LOCK).</summary>
    public bool HoldsLock(DmaDirection direction)
    {
        lock (_gate)
        {
            return _locked[(int)direction];
        }
    }

    /// <inheritdoc />
    public unsafe void Start(DmaDirection direction, DmaStartOptions options)
    {
        if (Capabilities.Unsupported(options) is { } why)
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
                // The driver answers 0 to a second request even from the holder itself, so a held lock is never asked for again.
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
                    throw new DeviceBusyException(_session.Address,
                        $"pcie_dma{Index} {direction.Describe()} is held by another open file of {_node}: another process holds the DMA " +
                        "(litepcie_util dma_test, another test run, or another session of this process); LITEPCIE_IOCTL_LOCK answered status 0");
                }

                _locked[d] = true;
            }

            // LITEPCIE_IOCTL_DMA_* starts an engine only when the enable sent differs from the driver's flag, and a file that
            // enabled an engine without the lock leaves that flag (and the engine) on at its close. A start on such an engine
            // would program nothing and keep its stale counts (seen in the guest: a loopback stream read 256 never-written
            // RX buffers of zeros). This file holds the lock now: an engine found running (its enable bit, through REG) is
            // stopped first, then started.
            if (HardwareEnabled(direction))
            {
                Control(direction, enable: false);
            }

            Control(direction, enable: true);
            _enabled[d] = true;
            _notCopied[d] = 0;
            _ringLost[d] = 0;
            _lostUpTo[d] = 0;
            _session.BumpGeneration();
        }
    }

    /// <summary>
    /// Stops a direction this session holds, then releases its lock. An engine this session does not hold is left
    /// alone: stopping it would stop another process's DMA (the driver does not check), so that is refused.
    /// </summary>
    public void Stop(DmaDirection direction)
    {
        lock (_gate)
        {
            int d = (int)direction;
            if (!_locked[d])
            {
                if (HardwareEnabled(direction))
                {
                    throw new DeviceBusyException(_session.Address,
                        $"pcie_dma{Index} {direction.Describe()} runs for another open file of {_node} (this session holds no LITEPCIE_IOCTL_LOCK for it): not stopped from here");
                }

                _enabled[d] = false;
                return;
            }

            Control(direction, enable: false);
            _enabled[d] = false;
            Release(direction);
        }
    }

    /// <inheritdoc />
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

    /// <summary>
    /// The driver's counts without side effects. LITEPCIE_IOCTL_DMA_WRITER/READER also starts or stops the engine when
    /// its <c>enable</c> differs from the driver's state, so the engine's state is read from its <c>enable</c> register
    /// (bit 0, what the driver's start/stop last wrote) and sent back unchanged. <see cref="DmaCounters.Lost"/> is the
    /// copy-mode buffers this session saw counted but not copied.
    /// </summary>
    public DmaCounters GetCounters(DmaDirection direction)
    {
        lock (_gate)
        {
            bool running = HardwareEnabled(direction);
            var c = Control(direction, running);
            int d = (int)direction;
            if (!running)
            {
                _enabled[d] = false; // stopped by someone else (another file's close, a reset)
            }

            return new DmaCounters(c.HwCount, c.SwCount, _notCopied[d] + RingOverruns(direction, c.HwCount, c.SwCount), running, 0, 0);
        }
    }

    /// <summary>
    /// Zero-copy losses from the ring counters, since this direction's start (the driver counts none in zero-copy mode, and
    /// the hardware never waits): writer buffers [sw, hw − ring) were overwritten before software consumed them, reader
    /// buffers [sw, hw) were fetched before software filled them. Accumulated over the calls (each index once), so a client
    /// that skips ahead does not make a loss disappear; found at the reads, so a loss between two reads that software
    /// then skipped over is counted only as far as a read saw it.
    /// </summary>
    private long RingOverruns(DmaDirection direction, long hw, long sw)
    {
        int d = (int)direction;
        long hi = direction == DmaDirection.Writer ? hw - Geometry.BufferCount : hw;
        long lo = Math.Max(sw, _lostUpTo[d]);
        if (hi > lo)
        {
            _ringLost[d] += hi - lo;
            _lostUpTo[d] = hi;
        }

        return _ringLost[d];
    }

    /// <inheritdoc />
    public unsafe long UpdateSwCount(DmaDirection direction, long swCount)
    {
        var u = new LitePcieMmapDmaUpdate { SwCount = swCount };
        _session.Ioctl(_fd, direction == DmaDirection.Writer ? LitePcieIoctl.MmapDmaWriterUpdate : LitePcieIoctl.MmapDmaReaderUpdate, &u,
            $"LITEPCIE_IOCTL_MMAP_DMA_{(direction == DmaDirection.Writer ? "WRITER" : "READER")}_UPDATE on {_node}");
        return 0; // the driver keeps no lost count in zero-copy mode
    }

    /// <summary>
    /// Polls the counters until the hardware count reaches the target, sleeping in poll(2) slices of at most
    /// <see cref="PollSlice"/> (the driver wakes POLLIN at hw − sw &gt; 2 and POLLOUT at sw − hw &lt; 128, which need not
    /// be the condition waited for, so the counters decide, not the poll result).
    /// </summary>
    public async ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        short events = direction == DmaDirection.Writer ? PollIn : PollOut;
        return await HardwareCountWait.UntilAsync(_session.Time, () => GetCounters(direction), targetHwCount, timeout,
            async (left, ct) =>
            {
                int ms = (int)Math.Clamp(Math.Min(left.TotalMilliseconds, PollSlice.TotalMilliseconds), 1, PollSlice.TotalMilliseconds);
                int r = await Task.Run(() => PollOnce(events, ms), ct).ConfigureAwait(false);
                if (r > 0 && GetCounters(direction).HwCount < targetHwCount)
                {
                    // Ready for the driver's reason (buffers to consume, room to fill), not ours: do not spin on it.
                    await Task.Delay(TimeSpan.FromMilliseconds(1), _session.Time, ct).ConfigureAwait(false);
                }

                return null; // the counters decide, not the poll result
            },
            c => new DeviceTimeoutException(_session.Address, $"pcie_dma{Index} {direction.Describe()} hw count {targetHwCount} (at {c.HwCount})", timeout),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
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
            _session.EnsurePresent($"mmap {_node}");
            nint p = _session.Sys.Mmap(length, protection, _fd, (long)offset, out int error);
            if (p == 0)
            {
                throw _session.Fail($"mmap {_node} offset 0x{offset:X}", error);
            }

            return _rings[d] = new LinuxRing(p, length, Geometry, direction, _session.Address);
        }
    }

    /// <summary>
    /// Copy-mode receive: non-blocking <c>read(2)</c> of whole buffers from the writer ring, waiting in bounded poll
    /// slices while none is ready (EAGAIN), until <paramref name="timeout"/> or cancellation. The length must be a
    /// multiple of the buffer size: the driver returns 0 for less, which a stream API takes for end of file (hence
    /// never a FileStream).
    /// </summary>
    public unsafe CopyResult ReadCopy(Span<byte> destination, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        CheckCopyLength(destination.Length, "read");
        long clock = _session.Time.GetTimestamp();
        fixed (byte* p = destination)
        {
            while (true)
            {
                var before = GetCounters(DmaDirection.Writer);
                _session.EnsurePresent($"read {_node}");
                nint r = _session.Sys.Read(_fd, p, destination.Length);
                if (r > 0)
                {
                    int buffers = (int)(r / Geometry.BufferSize);
                    int dropped = (int)Math.Clamp(before.HwCount - before.SwCount - Geometry.BufferCount / 2, 0, buffers);
                    Account(DmaDirection.Writer, dropped);
                    return new CopyResult((int)r, buffers, dropped);
                }

                if (r < 0 && -r != EAGAIN && -r != EINTR)
                {
                    throw _session.Fail($"read {_node}", (int)-r);
                }

                // EAGAIN: hw == sw (nothing complete). 0: software ahead of the hardware count (sw > hw).
                WaitSlice(PollIn, clock, timeout, $"read on {_node}: no complete writer buffer", before, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Copy-mode transmit: <c>write(2)</c> of whole buffers into the reader ring, waiting in bounded poll slices while
    /// the ring is full (the driver returns 0 when software is 128 buffers ahead). The driver's non-blocking write
    /// answers EAGAIN when hw == sw — when the ring is empty, not full (P18, docs/checklist.md#p18) — so on that answer the write is repeated
    /// with O_NONBLOCK cleared for that one call: its wait condition (sw − hw &lt; 128) holds at that moment, so it
    /// returns at once; only another open file filling 128 buffers of this channel in between could make it wait.
    /// </summary>
    public unsafe CopyResult WriteCopy(ReadOnlySpan<byte> source, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        CheckCopyLength(source.Length, "write");
        long clock = _session.Time.GetTimestamp();
        fixed (byte* p = source)
        {
            while (true)
            {
                var before = GetCounters(DmaDirection.Reader);
                _session.EnsurePresent($"write {_node}");
                nint r = _session.Sys.Write(_fd, p, source.Length);
                if (r < 0 && -r == EAGAIN)
                {
                    r = BlockingWriteOnEmptyRing(p, source.Length);
                }

                if (r > 0)
                {
                    int buffers = (int)(r / Geometry.BufferSize);
                    int skipped = (int)Math.Clamp(before.HwCount - before.SwCount, 0, buffers);
                    Account(DmaDirection.Reader, skipped);
                    return new CopyResult((int)r, buffers, skipped);
                }

                if (r < 0 && -r != EINTR)
                {
                    throw _session.Fail($"write {_node}", (int)-r);
                }

                // 0: the ring is full (software 128 buffers ahead of the hardware).
                WaitSlice(PollOut, clock, timeout, $"write on {_node}: the reader ring stays full (128 buffers ahead)", before, cancellationToken);
            }
        }
    }

    /// <summary>Stops what this channel started and releases its locks (best effort, each direction on its own).</summary>
    internal void StopOwned()
    {
        lock (_gate)
        {
            foreach (var direction in DmaDirectionExtensions.All)
            {
                try
                {
                    if (_locked[(int)direction])
                    {
                        Control(direction, enable: false);
                        _enabled[(int)direction] = false;
                        Release(direction);
                    }
                }
                catch (DeviceException)
                {
                    // The close of the fd stops what the lock owned anyway.
                }
            }
        }
    }

    /// <summary>Unmaps the channel's rings (a memory-map operation the driver takes no part in, so also when the board is gone).</summary>
    internal void UnmapRings()
    {
        lock (_gate)
        {
            foreach (var direction in DmaDirectionExtensions.All)
            {
                if (_rings[(int)direction] is { } ring)
                {
                    _session.Sys.Munmap(ring.Address, ring.Length);
                    _rings[(int)direction] = null;
                }
            }
        }
    }

    private unsafe nint BlockingWriteOnEmptyRing(byte* source, int length)
    {
        int flags = _session.Sys.Fcntl(_fd, GetStatusFlags, 0);
        if (flags < 0)
        {
            throw _session.Fail($"fcntl F_GETFL {_node}", -flags);
        }

        _session.EnsurePresent($"write {_node}");
        _session.Sys.Fcntl(_fd, SetStatusFlags, flags & ~NonBlocking);
        try
        {
            return _session.Sys.Write(_fd, source, length);
        }
        finally
        {
            _session.Sys.Fcntl(_fd, SetStatusFlags, flags);
        }
    }

    private void WaitSlice(short events, long clock, TimeSpan timeout, string what, DmaCounters before, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var left = timeout - _session.Time.GetElapsedTime(clock);
        if (left <= TimeSpan.Zero)
        {
            throw new DeviceTimeoutException(_session.Address, $"{what} (hw {before.HwCount}, sw {before.SwCount}, running {before.Running})", timeout);
        }

        PollOnce(events, (int)Math.Clamp(Math.Min(left.TotalMilliseconds, PollSlice.TotalMilliseconds), 1, PollSlice.TotalMilliseconds));
    }

    private int PollOnce(short events, int milliseconds)
    {
        _session.EnsurePresent($"poll {_node}");
        int r = _session.Sys.Poll(_fd, events, milliseconds, out _);
        return r < 0 && -r != EINTR ? throw _session.Fail($"poll {_node}", -r) : r;
    }

    private void Account(DmaDirection direction, int notCopied)
    {
        lock (_gate)
        {
            _notCopied[(int)direction] += notCopied;
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

    /// <summary>The engine's <c>enable</c> bit 0 as the driver's start/stop last wrote it (read through LITEPCIE_IOCTL_REG).</summary>
    private bool HardwareEnabled(DmaDirection direction) => (_session.Read32(Layout.Engine(direction).Enable) & 1) != 0;

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
    /// <inheritdoc />
    public nint Address { get; } = address;

    /// <inheritdoc />
    public nint Length { get; } = length;

    /// <inheritdoc />
    public DmaRingGeometry Geometry { get; } = geometry;

    /// <inheritdoc />
    public DmaDirection Direction { get; } = direction;

    /// <inheritdoc />
    public ReadOnlySpan<byte> Read(long bufferIndex) => Slot(bufferIndex);

    /// <inheritdoc />
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
