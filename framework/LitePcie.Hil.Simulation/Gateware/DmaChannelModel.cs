using System.Buffers;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Faults;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>The descriptor an engine's splitter is executing and how far it got.</summary>
internal sealed class DescriptorInFlight(Descriptor descriptor, int bytes)
{
    public Descriptor Descriptor { get; } = descriptor;

    /// <summary>Bytes the engine moves for it (a reader descriptor of length 0 reads 4 KiB, as its 0-DW request says).</summary>
    public int Bytes { get; } = bytes;

    /// <summary>Bytes requested (reader) or written (writer) so far.</summary>
    public int Done { get; set; }

    public int Remaining => Bytes - Done;

    /// <summary>A buffer fault decided when the reader starts it: 1 = dropped from the loopback path, 2 = sent twice.</summary>
    public int Fault { get; set; } = -1;

    /// <summary>dma-lost-write, decided at the writer descriptor's first chunk: its data never reaches memory, yet it completes.</summary>
    public bool? WriteLost { get; set; }
}

/// <summary>One DMA engine (writer or reader) with its descriptor table and the descriptor its splitter executes.</summary>
internal sealed class DmaEngineModel(DmaDirection direction, int tableDepth)
{
    public DmaDirection Direction { get; } = direction;

    public DescriptorTable Table { get; } = new(tableDepth);

    public bool Enabled { get; set; }

    /// <summary>Descriptors completed since the last table reset.</summary>
    public long Completed { get; set; }

    /// <summary>
    /// The descriptor in flight: latched from the table head as soon as the engine is enabled and the table has one,
    /// executed chunk by chunk, and popped from the table only when it completes (so a table reset does not stop it,
    /// and disabling the engine drops its progress: the same head restarts from its start).
    /// </summary>
    public DescriptorInFlight? Flight { get; set; }

    /// <summary>A writer descriptor of length 0: the engine sends one endless TLP and never completes (declared difference).</summary>
    public bool Hogging { get; set; }

    /// <summary>Last value written to <c>table_we</c> / <c>table_reset</c> (CSRStorage read-back).</summary>
    public uint LastWe { get; set; }

    public uint LastTableReset { get; set; }

    /// <summary>A request waits for the request stream another engine's endless TLP holds (its FSM is not in IDLE).</summary>
    public bool RequestHeld { get; set; }

    /// <summary>The FSM is in IDLE (enable bit 1): always between steps, except while a degenerate write holds the link.</summary>
    public bool Idle => !Hogging && !RequestHeld;

    public void PowerOnReset()
    {
        Table.PowerOnReset();
        Enabled = false;
        Completed = 0;
        Flight = null;
        Hogging = false;
        RequestHeld = false;
        LastWe = 0;
        LastTableReset = 0;
    }
}

/// <summary>
/// A <c>pcie_dmaN</c> block: writer and reader engines, loopback, synchronizer, buffering and monitor plugins, as the
/// LitePCIe RTL behaves (checked by the conformance tier, docs/rtl.md): descriptors split from their start into
/// max-read-request reads and max-payload writes, the reader's stream carries no end-of-packet, data held in the
/// reader's and writer's data FIFOs, irq and table pop when a descriptor's last request is issued. Methods are called
/// with the board lock held.
/// </summary>
internal sealed class DmaChannelModel
{
    /// <summary>Largest read request and payload the core's FIFOs are sized for (LitePCIe's max_request_size / max_payload_size).</summary>
    private const int CoreMaxRequest = 512;

    private readonly IGatewareHost _host;
    private readonly MsiController _msi;
    private readonly GatewareCounters _counters;
    private readonly FaultPlan _faults;
    private readonly Random _bitflipRandom;
    private readonly Random _dropRandom;
    private readonly Random _duplicateRandom;
    private readonly Random _lostWriteRandom;
    private readonly Random _berRandom;
    private long _berNextBit = -1; // bits the writer stores before the next flipped one (dma-ber)
    private readonly int _dataWidthBytes;
    private readonly int _dmaAddressWidth;
    private readonly int _bufferingDepth;
    private readonly int _readerFifoBytes;
    private readonly int _writerFifoBytes;
    private readonly StreamFifo _readerFifo;   // read data not yet passed on (the reader's data FIFO)
    private readonly StreamFifo _writerFifo;   // stream data waiting for the writer (its data FIFO)
    private readonly string _writerName;
    private readonly string _readerName;
    private readonly SequencePattern? _userPattern;
    private readonly bool _userReaderSink;
    private readonly byte[]? _userBuffer;
    private long _userBufferSequence = -1;
    private long _userSequence;
    private int _userOffset;
    private bool _synced;
    private uint _readerFifoControl;
    private uint _writerFifoControl;
    private uint _writerLevelMax;
    private uint _writerOverflowsLive;
    private uint _readerUnderflowsLive;
    private bool _zeroLengthReported;

    public DmaChannelModel(DmaChannelLayout layout, IGatewareHost host, MsiController msi, GatewareCounters counters,
        FaultPlan faults, int dataWidthBits, int tableDepth, int dmaAddressWidth, int bufferingDepth, SequencePattern? userWriterPattern = null,
        int maxPendingRequests = 4, bool userReaderSink = true)
    {
        _userReaderSink = userReaderSink;
        _userPattern = userWriterPattern;
        _userBuffer = userWriterPattern is null ? null : new byte[userWriterPattern.BufferSize];
        Layout = layout;
        _host = host;
        _msi = msi;
        _counters = counters;
        _faults = faults;
        _bitflipRandom = faults.CreateRandom(FaultKind.DmaBitflip, layout.Index);
        _dropRandom = faults.CreateRandom(FaultKind.DmaDropBuffer, layout.Index);
        _duplicateRandom = faults.CreateRandom(FaultKind.DmaDuplicateBuffer, layout.Index);
        _lostWriteRandom = faults.CreateRandom(FaultKind.DmaLostWrite, layout.Index);
        _berRandom = faults.CreateRandom(FaultKind.DmaBitErrorRate, layout.Index);
        _dataWidthBytes = dataWidthBits / 8;
        _dmaAddressWidth = dmaAddressWidth;
        _bufferingDepth = bufferingDepth;
        _readerFifoBytes = 4 * maxPendingRequests * CoreMaxRequest;
        _writerFifoBytes = 4 * CoreMaxRequest;
        _readerFifo = new StreamFifo();
        _writerFifo = new StreamFifo();
        Writer = new DmaEngineModel(DmaDirection.Writer, tableDepth);
        Reader = new DmaEngineModel(DmaDirection.Reader, tableDepth);
        _writerName = $"{layout.BlockName} writer";
        _readerName = $"{layout.BlockName} reader";
        PowerOnReset();
    }

    public DmaChannelLayout Layout { get; }

    public DmaEngineModel Writer { get; }

    public DmaEngineModel Reader { get; }

    public bool LoopbackEnabled { get; private set; }

    public uint SynchronizerBypass { get; private set; }

    public uint SynchronizerMode { get; private set; }

    public uint WriterOverflows { get; private set; }

    public uint ReaderUnderflows { get; private set; }

    public uint[] StatusRegisters { get; } = new uint[3];

    /// <summary>Bytes the loopback path currently holds (both data FIFOs).</summary>
    public long LoopbackFifoBytes => _readerFifo.Bytes + _writerFifo.Bytes;

    /// <summary>
    /// Whether the synchronizer holds the user-side streams. It releases on PPS (never: a standalone core's PPS input
    /// is unconnected) or on bypass, and holds again only in mode 0 without bypass.
    /// </summary>
    public bool UserStreamsBlocked => Layout.Synchronizer is not null && !_synced;

    public DmaEngineModel Engine(DmaDirection d) => d == DmaDirection.Writer ? Writer : Reader;

    public void PowerOnReset()
    {
        Writer.PowerOnReset();
        Reader.PowerOnReset();
        LoopbackEnabled = false;
        SynchronizerBypass = 0;
        SynchronizerMode = 0;
        _synced = false;
        _readerFifoControl = (uint)_bufferingDepth & 0xFF_FFFF;
        _writerFifoControl = (uint)_bufferingDepth & 0xFF_FFFF;
        _writerLevelMax = 0;
        _writerOverflowsLive = 0;
        _readerUnderflowsLive = 0;
        WriterOverflows = 0;
        ReaderUnderflows = 0;
        Array.Clear(StatusRegisters);
        _readerFifo.Clear();
        _writerFifo.Clear();
        _zeroLengthReported = false;
        _userSequence = 0;
        _userOffset = 0;
    }

    /// <summary>Registers this block's handlers with the register file.</summary>
    public void Bind(RegisterFile file)
    {
        BindEngine(file, Layout.Writer, Writer);
        BindEngine(file, Layout.Reader, Reader);
        if (Layout.LoopbackEnable is { } lb)
        {
            file.Bind(lb, _ => LoopbackEnabled ? 1u : 0u, (_, v) => LoopbackEnabled = (v & 1) != 0);
        }

        if (Layout.Synchronizer is { } s)
        {
            file.Bind(s.Bypass, _ => SynchronizerBypass, (_, v) =>
            {
                SynchronizerBypass = v & 1;
                UpdateSynced();
            });
            file.Bind(s.Enable, _ => SynchronizerMode, (_, v) =>
            {
                SynchronizerMode = v & 3;
                UpdateSynced();
            });
        }

        if (Layout.Buffering is { } b)
        {
            file.Bind(b.ReaderFifoControl, _ => _readerFifoControl, (_, v) => _readerFifoControl = v);
            file.Bind(b.WriterFifoControl, _ => _writerFifoControl, (_, v) =>
            {
                _writerFifoControl = v;
                _writerLevelMax = 0;
            });
            // Levels in bytes: the reader's FIFO drains at once into the user sink (its minimum is 0 as soon as it is
            // tracked); the writer's fills to its depth whenever the user source flows and the writer is not consuming.
            file.Bind(b.ReaderFifoStatus, _ => 0, (_, _) => { });
            file.Bind(b.WriterFifoStatus, _ => (_writerFifoControl >> 31) != 0 ? Math.Max(_writerLevelMax, WriterFifoLevel()) : WriterFifoLevel(),
                (_, _) => _writerLevelMax = 0);
        }

        if (Layout.Monitor is { } m)
        {
            file.Bind(m.WriterReset, _ => 0, (_, _) => _writerOverflowsLive = 0);
            file.Bind(m.WriterLatch, _ => 0, (_, _) => WriterOverflows = _writerOverflowsLive);
            file.Bind(m.WriterOverflows, _ => WriterOverflows, null);
            file.Bind(m.ReaderReset, _ => 0, (_, _) => _readerUnderflowsLive = 0);
            file.Bind(m.ReaderLatch, _ => 0, (_, _) => ReaderUnderflows = _readerUnderflowsLive);
            file.Bind(m.ReaderUnderflows, _ => ReaderUnderflows, null);
        }

        if (Layout.Status is { } st)
        {
            file.Bind(st.Control, _ => StatusRegisters[0], (_, v) => StatusRegisters[0] = v);
            file.Bind(st.AddressLsb, _ => StatusRegisters[1], (_, v) => StatusRegisters[1] = v);
            file.Bind(st.AddressMsb, _ => StatusRegisters[2], (_, v) => StatusRegisters[2] = v);
        }
    }

    private void UpdateSynced()
    {
        if (SynchronizerBypass != 0)
        {
            _synced = true;
        }
        else if (SynchronizerMode == 0)
        {
            _synced = false;
        }

        // Modes 1 and 2 release only on PPS & ready: the PPS input of a standalone core is unconnected, so the state holds.
    }

    /// <summary>The writer FIFO of the buffering plugin in bytes (what <c>writer_fifo_status</c> reports).</summary>
    private uint WriterFifoLevel()
    {
        bool flowing = Writer.Enabled && !LoopbackEnabled && _userPattern is not null && !UserStreamsBlocked;
        if (!flowing)
        {
            return 0;
        }

        uint depth = Math.Min(_writerFifoControl & 0xFF_FFFF, (uint)_bufferingDepth);
        uint level = depth / (uint)_dataWidthBytes * (uint)_dataWidthBytes;
        _writerLevelMax = Math.Max(_writerLevelMax, level);
        return level;
    }

    private void BindEngine(RegisterFile file, DmaEngineLayout regs, DmaEngineModel e)
    {
        file.Bind(regs.Enable, _ => (e.Enabled ? 1u : 0u) | (e.Idle ? 2u : 0u), (_, v) => SetEnable(e, (v & 1) != 0));
        file.Bind(regs.TableValue,
            w => (uint)(e.Table.Staged >> (w == 0 ? 32 : 0)),
            (w, v) => e.Table.Staged = w == 0
                ? (e.Table.Staged & 0xFFFF_FFFFUL) | ((ulong)v << 32)
                : (e.Table.Staged & 0xFFFF_FFFF_0000_0000UL) | v);
        file.Bind(regs.TableWe, _ => e.LastWe, (_, v) =>
        {
            e.LastWe = v;
            e.Table.Push(v, _dmaAddressWidth);
            Latch(e);
        });
        file.Bind(regs.LoopProgN, _ => e.Table.LoopMode ? 1u : 0u, (_, v) => e.Table.LoopMode = (v & 1) != 0);
        file.Bind(regs.LoopStatus, _ => e.Table.LoopStatus, null);
        file.Bind(regs.Level, _ => (uint)e.Table.Level, null);
        file.Bind(regs.TableReset, _ => e.LastTableReset, (_, v) =>
        {
            e.LastTableReset = v;
            if ((v & 1) != 0)
            {
                // Empties the table and clears loop_status; the descriptor in flight is not the table's: it goes on.
                e.Table.Reset();
                e.Completed = 0;
            }
        });
    }

    private void SetEnable(DmaEngineModel e, bool enable)
    {
        if (!e.Enabled && enable && e.Direction == DmaDirection.Writer)
        {
            _userSequence = 0; // the user-side generator restarts its stream with the writer
            _userOffset = 0;
        }

        if (e.Enabled && !enable)
        {
            // Disabling holds the splitter and the data FIFO in reset: the descriptor's progress is lost (it restarts
            // from its start address when re-enabled) and the data held is dropped.
            e.Flight = null;
            e.Hogging = false;
            (e.Direction == DmaDirection.Reader ? _readerFifo : _writerFifo).Clear();
        }

        e.Enabled = enable;
        Latch(e);
    }

    /// <summary>The splitter takes the table's head as soon as the engine is enabled (it pops it only at completion).</summary>
    private static void Latch(DmaEngineModel e)
    {
        if (!e.Enabled || e.Flight is not null || e.Table.IsEmpty)
        {
            return;
        }

        var d = e.Table.Peek();
        int words = d.Length >> 2;
        int bytes = e.Direction == DmaDirection.Reader
            ? (words == 0 ? 4096 : words * 4)     // a 0-DW request field means 1,024 DWs
            : words * 4;
        e.Flight = new DescriptorInFlight(d, bytes);
        e.Hogging = e.Direction == DmaDirection.Writer && d.Length == 0;
    }

    /// <summary>Moves the engines on. Returns whether anything happened.</summary>
    public bool Step()
    {
        Latch(Reader);
        Latch(Writer);
        if (_counters.RequestStreamHeld)
        {
            // Another engine's endless TLP holds the request stream: no engine with work can issue a request.
            foreach (var e in new[] { Reader, Writer })
            {
                e.RequestHeld = e.Enabled && e.Flight is not null && !e.Hogging;
            }

            StepWriter(); // the hogging writer itself (records it once)
            return false;
        }

        Reader.RequestHeld = false;
        Writer.RequestHeld = false;
        if (TryStepLoopbackDirect(out bool waitingForCredit))
        {
            return true;
        }

        if (waitingForCredit)
        {
            return false; // both engines are ready and wait for link credit: moving one alone would split the buffer's path
        }

        bool progress = StepReader();
        progress |= PassOn();
        progress |= StepWriter();
        return progress;
    }

    /// <summary>
    /// The common loopback case in one copy: both engines start a fresh descriptor of the same length, the data FIFOs
    /// are empty, no buffer fault: the reader's buffer goes straight to the writer's. What the chunked path would do
    /// (the same requests, the same bytes, the reader's completion before the writer's), done at once.
    /// </summary>
    private unsafe bool TryStepLoopbackDirect(out bool waitingForCredit)
    {
        waitingForCredit = false;
        if (!LoopbackEnabled || _readerFifo.Bytes != 0 || _writerFifo.Bytes != 0 || (_host.ReaderPacer is null) != (_host.WriterPacer is null)
            || _faults.Has(FaultKind.DmaDropBuffer) || _faults.Has(FaultKind.DmaDuplicateBuffer) || _counters.Stalled
            || !Reader.Enabled || !Writer.Enabled || Reader.Flight is not { Done: 0 } r || Writer.Flight is not { Done: 0 } w
            || r.Bytes != w.Bytes || w.Bytes == 0 || r.Bytes % _dataWidthBytes != 0)
        {
            return false;
        }

        if (_host.FlowControl is { } flow
            && (!flow.MayProcess(Layout.Index, DmaDirection.Reader, Reader.Completed) || !flow.MayProcess(Layout.Index, DmaDirection.Writer, Writer.Completed)))
        {
            return false;
        }

        ulong src0 = r.Descriptor.Address, dst0 = w.Descriptor.Address;
        byte* src = _host.Memory.TryTranslate(src0, r.Bytes, out _);
        byte* dst = src is null ? null : _host.Memory.TryTranslate(dst0, w.Bytes, out _);
        if (dst is null)
        {
            return false; // the chunked path records the fault and delivers what the hardware would
        }

        if (_host.ReaderPacer is { } readerPacer && !LinkPacer.TryConsumeBoth(readerPacer, _host.WriterPacer!, r.Bytes))
        {
            waitingForCredit = true;
            return false;
        }

        bool lost = WriteLost(w);
        if (!lost)
        {
            new ReadOnlySpan<byte>(src, r.Bytes).CopyTo(new Span<byte>(dst, w.Bytes));
        }

        CountRequests(DmaDirection.Reader, src0, r.Bytes, _host.MaxReadRequestSize);
        r.Done = r.Bytes;
        Finish(Reader);
        if (!lost)
        {
            FlipBitMaybe(new Span<byte>(dst, w.Bytes));
        }

        CountRequests(DmaDirection.Writer, dst0, w.Bytes, _host.MaxPayloadSize);
        w.Done = w.Bytes;
        Finish(Writer);
        return true;
    }

    private int StreamBytes(int length) => (length + _dataWidthBytes - 1) / _dataWidthBytes * _dataWidthBytes;

    /// <summary>Read or write requests of one chunk train, split from <paramref name="address"/> (the descriptor's position).</summary>
    private void CountRequests(DmaDirection direction, ulong address, int bytes, int maxSize)
    {
        int size = Math.Min(maxSize, CoreMaxRequest);
        long requests = 0, crossing = 0;
        for (int at = 0; at < bytes; at += size)
        {
            int n = Math.Min(size, bytes - at);
            requests++;
            if (((address + (ulong)at) & 0xFFF) + (ulong)n > 0x1000)
            {
                crossing++;
            }
        }

        if (direction == DmaDirection.Reader)
        {
            _counters.ReadRequests += requests;
        }
        else
        {
            _counters.WriteRequests += requests;
        }

        _counters.Requests4KCrossing += crossing;
    }

    /// <summary>May the engine start its descriptor now (host flow control, checked once per descriptor)?</summary>
    private bool MayStart(DmaEngineModel e, DescriptorInFlight f) =>
        f.Done != 0 || _host.FlowControl is not { } flow || flow.MayProcess(Layout.Index, e.Direction, e.Completed);

    private unsafe bool StepReader()
    {
        var e = Reader;
        if (!e.Enabled || _counters.Stalled)
        {
            return false;
        }

        if (e.Flight is not { } f)
        {
            if (!LoopbackEnabled && Layout.Synchronizer is null)
            {
                _readerUnderflowsLive = Math.Min(_readerUnderflowsLive + 1, 0xFFFF); // the user sink waits for data
            }

            return false;
        }

        // Where the data goes: the loopback path (room in the reader's data FIFO), or the user side. A user side that
        // does not take the stream — the synchronizer holding it, a zero-depth reader FIFO, no user logic on the port —
        // leaves the data in the reader's data FIFO: the reader goes on requesting while the FIFO has room (as the RTL).
        bool toUser = !LoopbackEnabled;
        bool held = toUser && (UserStreamsBlocked || !_userReaderSink
            || (Layout.Buffering is not null && (_readerFifoControl & 0xFF_FFFF) < (uint)_dataWidthBytes));
        bool intoFifo = !toUser || held;
        bool progress = false;
        if (toUser && !held && _readerFifo.Bytes > 0)
        {
            _readerFifo.Clear(); // released: the user side takes what the hold kept
            progress = true;
        }

        if (!MayStart(e, f))
        {
            return progress;
        }

        while (f.Remaining > 0)
        {
            if (intoFifo && _readerFifo.Bytes >= _readerFifoBytes - CoreMaxRequest)
            {
                break; // not enough room for another request's data
            }

            int chunk = Math.Min(Math.Min(_host.MaxReadRequestSize, CoreMaxRequest), f.Remaining);
            if (_host.ReaderPacer is { } pacer && !pacer.TryConsume(chunk, out _))
            {
                break;
            }

            ulong address = f.Descriptor.Address + (ulong)f.Done;
            CountRequests(DmaDirection.Reader, address, chunk, chunk);
            if (!toUser && f.Fault < 0)
            {
                f.Fault = DecideBufferFault();
            }

            if (!toUser && f.Fault == 1)
            {
                _host.Memory.Translate(address, chunk, _readerName); // dropped on its way (dma-drop-buffer)
            }
            else if (intoFifo)
            {
                byte* src = _host.Memory.Translate(address, chunk, _readerName);
                if (src is not null)
                {
                    _readerFifo.Push(new ReadOnlySpan<byte>(src, chunk), last: false);
                }
                else
                {
                    byte[] ones = ArrayPool<byte>.Shared.Rent(chunk);
                    ones.AsSpan(0, chunk).Fill(0xFF); // an unsupported request: the model delivers all-ones
                    _readerFifo.Push(ones.AsSpan(0, chunk), last: false);
                    ArrayPool<byte>.Shared.Return(ones);
                }
            }
            else
            {
                _host.Memory.Translate(address, chunk, _readerName); // the user side consumes (and drops) it
            }

            f.Done += chunk;
            progress = true;
        }

        if (f.Remaining == 0)
        {
            // The last request is issued: irq and table pop now, before its data has gone anywhere.
            if (!toUser && f.Fault == 2 && _host.Memory.TryTranslate(f.Descriptor.Address, f.Bytes, out _) is var again && again is not null)
            {
                _readerFifo.Push(new ReadOnlySpan<byte>(again, f.Bytes), last: false); // sent twice (dma-duplicate-buffer)
            }

            Finish(e);
        }

        return progress;
    }

    /// <summary>The dma-drop-buffer / dma-duplicate-buffer faults, decided once per reader buffer of the loopback path.</summary>
    private int DecideBufferFault()
    {
        if (_faults.Has(FaultKind.DmaDropBuffer) && _dropRandom.NextDouble() < _faults.Value(FaultKind.DmaDropBuffer))
        {
            _counters.DroppedBuffers++;
            return 1;
        }

        return _faults.Has(FaultKind.DmaDuplicateBuffer) && _duplicateRandom.NextDouble() < _faults.Value(FaultKind.DmaDuplicateBuffer) ? 2 : 0;
    }

    /// <summary>Read data moves from the reader's data FIFO to the writer's; a disabled writer accepts and drops it.</summary>
    private bool PassOn()
    {
        if (!LoopbackEnabled || _readerFifo.Bytes == 0)
        {
            return false;
        }

        if (!Writer.Enabled)
        {
            _readerFifo.Clear();
            return true;
        }

        int room = _writerFifoBytes - (int)_writerFifo.Bytes;
        int n = (int)Math.Min(room, _readerFifo.Bytes);
        if (n <= 0)
        {
            return false;
        }

        byte[] chunk = ArrayPool<byte>.Shared.Rent(n);
        int got = _readerFifo.Pop(chunk.AsSpan(0, n), stopAtLast: false, out _);
        _writerFifo.Push(chunk.AsSpan(0, got), last: false);
        ArrayPool<byte>.Shared.Return(chunk);
        return got > 0;
    }

    private unsafe bool StepWriter()
    {
        var e = Writer;
        if (!e.Enabled)
        {
            return false;
        }

        if (!LoopbackEnabled && UserStreamsBlocked && _userPattern is not null)
        {
            // The synchronizer acknowledges and drops what the user side sends while it holds the stream.
            _userSequence++;
            _userOffset = 0;
        }

        if (_counters.Stalled || e.Flight is not { } f || !MayStart(e, f))
        {
            return false;
        }

        if (e.Hogging)
        {
            RecordZeroLength(f);
            return false; // one endless TLP (declared difference: the RTL sends ~16 M beats and then completes)
        }

        if (f.Bytes == 0)
        {
            // Length 1..3: a 1-beat TLP whose Length field says 1,024 DWs; the root port drops it as malformed.
            Finish(e);
            return true;
        }

        return LoopbackEnabled ? StepWriterFromLoopback(e, f) : StepWriterFromUserLogic(e, f);
    }

    private void RecordZeroLength(DescriptorInFlight f)
    {
        if (!_zeroLengthReported)
        {
            _zeroLengthReported = true;
            _host.Memory.RecordFault(new DmaAccessFault(_writerName, f.Descriptor.Address, 0,
                "writer descriptor of length 0: the engine sends a ~16 M-beat TLP that holds the link"));
        }
    }

    private unsafe bool StepWriterFromLoopback(DmaEngineModel e, DescriptorInFlight f)
    {
        bool progress = false;
        while (f.Remaining > 0)
        {
            int chunk = Math.Min(Math.Min(_host.MaxPayloadSize, CoreMaxRequest), f.Remaining);
            int need = StreamBytes(chunk);
            if (_writerFifo.Bytes < need)
            {
                PassOn();
                if (_writerFifo.Bytes < need)
                {
                    break; // the reader's stream never ends a descriptor early: wait for a whole chunk
                }
            }

            if (_host.WriterPacer is { } pacer && !pacer.TryConsume(chunk, out _))
            {
                break;
            }

            ulong address = f.Descriptor.Address + (ulong)f.Done;
            CountRequests(DmaDirection.Writer, address, chunk, chunk);
            byte* dst = _host.Memory.Translate(address, chunk, _writerName);
            if (dst is null || WriteLost(f))
            {
                _writerFifo.Discard(need);
            }
            else
            {
                var target = new Span<byte>(dst, chunk);
                _writerFifo.Pop(target, stopAtLast: false, out _);
                if (need > chunk)
                {
                    _writerFifo.Discard(need - chunk); // padding of the last stream word
                }
            }

            f.Done += chunk;
            progress = true;
        }

        if (f.Remaining == 0)
        {
            if (f.WriteLost != true && _host.Memory.TryTranslate(f.Descriptor.Address, f.Bytes, out _) is var whole && whole is not null)
            {
                FlipBitMaybe(new Span<byte>(whole, f.Bytes));
            }

            Finish(e);
        }

        return progress;
    }

    /// <summary>
    /// The user side feeds the writer: the board's pattern generator, buffer after buffer, each ending with an
    /// end-of-packet that ends the writer's descriptor there (unless last_disable): the last word then repeats to the end
    /// of that TLP and the rest of the descriptor's buffer is untouched.
    /// </summary>
    private unsafe bool StepWriterFromUserLogic(DmaEngineModel e, DescriptorInFlight f)
    {
        if (_userPattern is null || UserStreamsBlocked)
        {
            return false;
        }

        bool progress = false;
        bool terminated = false;
        while (f.Remaining > 0 && !terminated)
        {
            int chunk = Math.Min(Math.Min(_host.MaxPayloadSize, CoreMaxRequest), f.Remaining);
            if (_host.WriterPacer is { } pacer && !pacer.TryConsume(chunk, out _))
            {
                break;
            }

            ulong address = f.Descriptor.Address + (ulong)f.Done;
            CountRequests(DmaDirection.Writer, address, chunk, chunk);
            byte* dst = _host.Memory.Translate(address, chunk, _writerName);
            if (WriteLost(f))
            {
                dst = null; // the generator's data goes nowhere; the descriptor still completes
            }

            var target = dst is null ? Span<byte>.Empty : new Span<byte>(dst, chunk);
            if (f.Descriptor.LastDisabled)
            {
                // The end-of-packet is ignored: the stream runs on into the next user buffer.
                for (int copied = 0; copied < chunk;)
                {
                    int m = Math.Min(chunk - copied, _userPattern.BufferSize - _userOffset);
                    if (dst is not null)
                    {
                        UserBuffer().AsSpan(_userOffset, m).CopyTo(target[copied..]);
                    }

                    AdvanceUser(m);
                    copied += m;
                }
            }
            else
            {
                int m = Math.Min(chunk, _userPattern.BufferSize - _userOffset);
                bool endOfBuffer = _userOffset + m == _userPattern.BufferSize;
                if (dst is not null)
                {
                    UserBuffer().AsSpan(_userOffset, m).CopyTo(target);
                    int w = Math.Min(_dataWidthBytes, m);
                    for (int p = m; p < chunk && w > 0; p += w)
                    {
                        target.Slice(m - w, Math.Min(w, chunk - p)).CopyTo(target[p..]); // the last word repeats to the TLP's end
                    }
                }

                AdvanceUser(m);
                terminated = endOfBuffer;
            }

            f.Done += chunk;
            progress = true;
        }

        if (f.Remaining == 0 || terminated)
        {
            if (f.WriteLost != true && _host.Memory.TryTranslate(f.Descriptor.Address, f.Done, out _) is var whole && whole is not null)
            {
                FlipBitMaybe(new Span<byte>(whole, f.Done));
            }

            Finish(e);
        }

        return progress;
    }

    private byte[] UserBuffer()
    {
        if (_userBufferSequence != _userSequence)
        {
            _userPattern!.Fill(_userBuffer, _userSequence);
            _userBufferSequence = _userSequence;
        }

        return _userBuffer!;
    }

    private void AdvanceUser(int bytes)
    {
        _userOffset += bytes;
        while (_userOffset >= _userPattern!.BufferSize)
        {
            _userOffset -= _userPattern.BufferSize;
            _userSequence++;
        }
    }

    private void FlipBitMaybe(Span<byte> target)
    {
        if (target.Length > 0 && _faults.Has(FaultKind.DmaBitflip) && _bitflipRandom.NextDouble() < _faults.Value(FaultKind.DmaBitflip))
        {
            int bit = _bitflipRandom.Next(target.Length * 8);
            target[bit >> 3] ^= (byte)(1 << (bit & 7));
            _counters.FlippedBits++;
        }

        if (_faults.Has(FaultKind.DmaBitErrorRate))
        {
            // Every stored bit flips with probability p: the gaps between flipped bits are geometric, drawn once per flip.
            long bits = target.Length * 8L;
            long at = _berNextBit < 0 ? BitErrorGap() : _berNextBit;
            for (; at < bits; at += 1 + BitErrorGap())
            {
                target[(int)(at >> 3)] ^= (byte)(1 << (int)(at & 7));
                _counters.FlippedBits++;
            }

            _berNextBit = at - bits;
        }
    }

    /// <summary>Bits stored without error before the next flipped one, for a bit error rate p (geometric).</summary>
    private long BitErrorGap()
    {
        double p = _faults.Value(FaultKind.DmaBitErrorRate);
        if (p >= 1)
        {
            return 0;
        }

        double gap = Math.Floor(Math.Log(1 - _berRandom.NextDouble()) / Math.Log(1 - p));
        return gap >= long.MaxValue / 2 ? long.MaxValue / 2 : (long)gap;
    }

    /// <summary>dma-lost-write: whether this writer descriptor's data is lost (drawn once per descriptor, at its first chunk).</summary>
    private bool WriteLost(DescriptorInFlight f)
    {
        if (f.WriteLost is { } decided)
        {
            return decided;
        }

        bool lost = _faults.Has(FaultKind.DmaLostWrite) && _lostWriteRandom.NextDouble() < _faults.Value(FaultKind.DmaLostWrite);
        if (lost)
        {
            _counters.LostWrites++;
        }

        f.WriteLost = lost;
        return lost;
    }

    /// <summary>
    /// The descriptor in flight completes: irq unless irq_disable, and the splitter accepts the table's head, which pops
    /// whatever is there now (after a table reset and a reprogram, the new head: it is never executed).
    /// </summary>
    private void Finish(DmaEngineModel e)
    {
        var f = e.Flight!;
        e.Flight = null;
        e.Hogging = false;
        if (!e.Table.IsEmpty)
        {
            e.Table.Pop();
        }

        e.Completed++;
        _counters.BuffersMoved++;
        _counters.BytesMoved[(int)e.Direction] += f.Done;
        if (!f.Descriptor.IrqDisabled)
        {
            _msi.Raise(e.Direction == DmaDirection.Writer ? Layout.WriterInterrupt : Layout.ReaderInterrupt);
        }

        _host.OnBufferMoved(_counters.BuffersMoved);
        Latch(e);
    }
}

/// <summary>Counters shared by the gateware blocks (for faults and diagnostics).</summary>
internal sealed class GatewareCounters
{
    public long BuffersMoved { get; set; }

    public long[] BytesMoved { get; } = new long[2];

    public long DroppedBuffers { get; set; }

    public long FlippedBits { get; set; }

    /// <summary>Writes the dma-lost-write fault dropped.</summary>
    public long LostWrites { get; set; }

    public long ReadRequests { get; set; }

    public long WriteRequests { get; set; }

    public long Requests4KCrossing { get; set; }

    /// <summary>A writer's endless TLP (descriptor of length 0) holds the request stream every engine shares.</summary>
    public bool RequestStreamHeld { get; set; }

    /// <summary>Set by the dma-stall fault: every engine stops.</summary>
    public bool Stalled { get; set; }
}
