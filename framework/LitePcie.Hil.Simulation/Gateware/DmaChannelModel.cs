using System.Buffers;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Faults;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>One DMA engine (writer or reader) with its descriptor table.</summary>
internal sealed class DmaEngineModel(DmaDirection direction, int tableDepth)
{
    public DmaDirection Direction { get; } = direction;

    public DescriptorTable Table { get; } = new(tableDepth);

    public bool Enabled { get; set; }

    /// <summary>Descriptors completed since the last table reset.</summary>
    public long Completed { get; set; }

    /// <summary>Set when the last step could not start a descriptor for lack of data, credit or pacing.</summary>
    public bool WaitingForInput { get; set; }

    /// <summary>Last value written to <c>table_we</c> / <c>table_reset</c> (CSRStorage read-back).</summary>
    public uint LastWe { get; set; }

    public uint LastTableReset { get; set; }

    /// <summary>FSM idle (enable bit 1): disabled, nothing to do, or waiting for input.</summary>
    public bool Idle => !Enabled || Table.IsEmpty || WaitingForInput;

    public void PowerOnReset()
    {
        Table.PowerOnReset();
        Enabled = false;
        Completed = 0;
        WaitingForInput = false;
        LastWe = 0;
        LastTableReset = 0;
    }
}

/// <summary>
/// A <c>pcie_dmaN</c> block: writer and reader engines, loopback, synchronizer, buffering and monitor
/// plugins (spec/litepcie.md §3.5, §4). Methods are called with the board lock held.
/// </summary>
internal sealed class DmaChannelModel
{
    private const int ReaderDataFifoBytes = 4 * 8 * 512; // 4 × max_pending_requests × 512 B

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
    private readonly StreamFifo _loopbackFifo;
    private readonly string _writerName;
    private readonly string _readerName;
    private uint _readerFifoControl;
    private uint _writerFifoControl;
    private uint _writerOverflowsLive;
    private uint _readerUnderflowsLive;
    private bool _zeroLengthReported;
    private readonly SequencePattern? _userPattern;
    private long _userSequence;

    public DmaChannelModel(DmaChannelLayout layout, IGatewareHost host, MsiController msi, GatewareCounters counters,
        FaultPlan faults, int dataWidthBits, int tableDepth, int dmaAddressWidth, int bufferingDepth, SequencePattern? userWriterPattern = null)
    {
        _userPattern = userWriterPattern;
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
        _loopbackFifo = new StreamFifo(ReaderDataFifoBytes);
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

    /// <summary>Bytes the loopback path currently holds.</summary>
    public long LoopbackFifoBytes => _loopbackFifo.Bytes;

    /// <summary>Whether user-side streams are blocked by the synchronizer (bypass 0, mode 0).</summary>
    public bool UserStreamsBlocked => Layout.Synchronizer is not null && (SynchronizerBypass & 1) == 0 && (SynchronizerMode & 3) == 0;

    public DmaEngineModel Engine(DmaDirection d) => d == DmaDirection.Writer ? Writer : Reader;

    public void PowerOnReset()
    {
        Writer.PowerOnReset();
        Reader.PowerOnReset();
        LoopbackEnabled = false;
        SynchronizerBypass = 0;
        SynchronizerMode = 0;
        _readerFifoControl = (uint)_bufferingDepth & 0xFF_FFFF;
        _writerFifoControl = (uint)_bufferingDepth & 0xFF_FFFF;
        _writerOverflowsLive = 0;
        _readerUnderflowsLive = 0;
        WriterOverflows = 0;
        ReaderUnderflows = 0;
        Array.Clear(StatusRegisters);
        _loopbackFifo.Clear();
        _zeroLengthReported = false;
        _userSequence = 0;
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
            file.Bind(s.Bypass, _ => SynchronizerBypass, (_, v) => SynchronizerBypass = v & 1);
            file.Bind(s.Enable, _ => SynchronizerMode, (_, v) => SynchronizerMode = v & 3);
        }

        if (Layout.Buffering is { } b)
        {
            file.Bind(b.ReaderFifoControl, _ => _readerFifoControl, (_, v) => _readerFifoControl = v);
            file.Bind(b.WriterFifoControl, _ => _writerFifoControl, (_, v) => _writerFifoControl = v);
            // The user-side FIFOs drain immediately in the model: the level (instantaneous or tracked) is 0.
            file.Bind(b.ReaderFifoStatus, _ => 0, (_, _) => { });
            file.Bind(b.WriterFifoStatus, _ => 0, (_, _) => { });
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
        });
        file.Bind(regs.LoopProgN, _ => e.Table.LoopMode ? 1u : 0u, (_, v) => e.Table.LoopMode = (v & 1) != 0);
        file.Bind(regs.LoopStatus, _ => e.Table.LoopStatus, null);
        file.Bind(regs.Level, _ => (uint)e.Table.Level, null);
        file.Bind(regs.TableReset, _ => e.LastTableReset, (_, v) =>
        {
            e.LastTableReset = v;
            if ((v & 1) != 0)
            {
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
        }

        if (e.Enabled && !enable)
        {
            // Disabling holds the splitter, data FIFO and width converter in reset: partial progress is dropped.
            _loopbackFifo.Clear();
            e.WaitingForInput = false;
        }

        e.Enabled = enable;
    }

    /// <summary>Moves at most one descriptor per engine. Returns whether anything happened.</summary>
    public bool Step()
    {
        if (TryStepLoopbackDirect(out bool waitingForCredit))
        {
            return true;
        }

        if (waitingForCredit)
        {
            return false; // both engines are ready and wait for link credit: moving one alone would split the buffer's path
        }

        bool progress = StepReader();
        progress |= StepWriter();
        return progress;
    }

    /// <summary>
    /// The common loopback case in one copy: the data FIFO is empty, both engines can start a descriptor of the
    /// same whole-word length now (with link credit in both directions when paced), no buffer drop/duplicate fault. The reader's buffer goes straight
    /// to the writer's (what passes through the FIFO in that case is exactly that buffer, so the result, the
    /// completions and their order are those of <see cref="StepReader"/> then <see cref="StepWriter"/>).
    /// </summary>
    private unsafe bool TryStepLoopbackDirect(out bool waitingForCredit)
    {
        waitingForCredit = false;
        if (!LoopbackEnabled || _loopbackFifo.Bytes != 0 || (_host.ReaderPacer is null) != (_host.WriterPacer is null)
            || _faults.Has(FaultKind.DmaDropBuffer) || _faults.Has(FaultKind.DmaDuplicateBuffer)
            || !CanStart(Reader, out var r) || !CanStart(Writer, out var w)
            || r.Length != w.Length || StreamBytes(r.Length) != r.Length)
        {
            return false;
        }

        if (_host.FlowControl is { } flow
            && (!flow.MayProcess(Layout.Index, DmaDirection.Reader, Reader.Completed) || !flow.MayProcess(Layout.Index, DmaDirection.Writer, Writer.Completed)))
        {
            return false;
        }

        byte* src = _host.Memory.TryTranslate(r.Address, r.Length, out _);
        byte* dst = src is null ? null : _host.Memory.TryTranslate(w.Address, w.Length, out _);
        if (dst is null)
        {
            return false; // the general path records the fault and delivers what the hardware would
        }

        if (_host.ReaderPacer is { } readerPacer && !LinkPacer.TryConsumeBoth(readerPacer, _host.WriterPacer!, r.Length))
        {
            Reader.WaitingForInput = true; // no link credit yet in one of the directions
            waitingForCredit = true;
            return false;
        }

        Reader.Table.Pop();
        Reader.WaitingForInput = false;
        Writer.Table.Pop();
        Writer.WaitingForInput = false;
        var target = new Span<byte>(dst, w.Length);
        Complete(Reader, r, Layout.ReaderInterrupt);
        if (!LoseWriteMaybe())
        {
            new ReadOnlySpan<byte>(src, r.Length).CopyTo(target);
            FlipBitMaybe(target);
        }

        Complete(Writer, w, Layout.WriterInterrupt);
        return true;
    }

    private int StreamBytes(int length) => (length + _dataWidthBytes - 1) / _dataWidthBytes * _dataWidthBytes;

    private bool CanStart(DmaEngineModel e, out Descriptor d)
    {
        d = default;
        if (!e.Enabled || e.Table.IsEmpty || _counters.Stalled)
        {
            return false;
        }

        if (!_host.BusMasterEnabled)
        {
            e.WaitingForInput = true;
            return false;
        }

        d = e.Table.Peek();
        if (d.Length == 0 || (d.Length & 3) != 0)
        {
            // A zero length never completes in the HDL (the FSM never sees its last word); a length that is
            // not a whole number of dwords cannot be expressed in a TLP. The engine stops here.
            if (!_zeroLengthReported)
            {
                _zeroLengthReported = true;
                _host.Memory.RecordFault(new DmaAccessFault(e.Direction == DmaDirection.Writer ? _writerName : _readerName,
                    d.Address, d.Length, $"descriptor length {d.Length} is not a non-zero multiple of 4: engine hangs"));
            }

            e.WaitingForInput = false;
            return false;
        }

        return true;
    }

    /// <summary>Pops the head descriptor when flow control and link pacing allow it to start now.</summary>
    private bool TryPop(DmaEngineModel e, Descriptor d)
    {
        if (_host.FlowControl is { } flow && !flow.MayProcess(Layout.Index, e.Direction, e.Completed))
        {
            e.WaitingForInput = true;
            return false;
        }

        var pacer = e.Direction == DmaDirection.Writer ? _host.WriterPacer : _host.ReaderPacer;
        if (pacer is not null && !pacer.TryConsume(d.Length, out _))
        {
            e.WaitingForInput = true;
            return false;
        }

        e.Table.Pop();
        e.WaitingForInput = false;
        return true;
    }

    private unsafe bool StepReader()
    {
        var e = Reader;
        if (!CanStart(e, out var d))
        {
            if (e.Enabled && !LoopbackEnabled && Layout.Synchronizer is null)
            {
                _readerUnderflowsLive = Math.Min(_readerUnderflowsLive + 1, 0xFFFF);
            }

            return false;
        }

        int streamBytes = StreamBytes(d.Length);
        if (LoopbackEnabled)
        {
            if (!_loopbackFifo.CanAccept(streamBytes))
            {
                e.WaitingForInput = true;
                return false;
            }
        }
        else if (UserStreamsBlocked || (Layout.Buffering is not null && (_readerFifoControl & 0xFF_FFFF) < (uint)_dataWidthBytes))
        {
            // Synchronizer holds the reader's data (P15), or the reader FIFO depth limit is below one word
            // (what LITEPCIE_IOCTL_DMA does to designs without loopback, P14): the reader stalls.
            e.WaitingForInput = true;
            return false;
        }

        if (!TryPop(e, d))
        {
            return false;
        }

        byte* src = _host.Memory.Translate(d.Address, d.Length, _readerName);
        if (LoopbackEnabled)
        {
            bool drop = _faults.Has(FaultKind.DmaDropBuffer) && _dropRandom.NextDouble() < _faults.Value(FaultKind.DmaDropBuffer);
            int copies = drop ? 0
                : _faults.Has(FaultKind.DmaDuplicateBuffer) && _duplicateRandom.NextDouble() < _faults.Value(FaultKind.DmaDuplicateBuffer) ? 2 : 1;
            if (drop)
            {
                _counters.DroppedBuffers++;
            }

            if (src is not null && streamBytes == d.Length)
            {
                var data = new ReadOnlySpan<byte>(src, d.Length); // the common case: one copy into the stream
                for (int i = 0; i < copies; i++)
                {
                    _loopbackFifo.Push(data, last: true);
                }
            }
            else if (copies > 0)
            {
                byte[] chunk = ArrayPool<byte>.Shared.Rent(streamBytes);
                var data = chunk.AsSpan(0, streamBytes);
                if (src is not null)
                {
                    new ReadOnlySpan<byte>(src, d.Length).CopyTo(data);
                }
                else
                {
                    data[..d.Length].Fill(0xFF); // unsupported request: the model delivers all-ones
                }

                data[d.Length..].Clear(); // padding of the last stream word
                for (int i = 0; i < copies; i++)
                {
                    _loopbackFifo.Push(data, last: true);
                }

                ArrayPool<byte>.Shared.Return(chunk);
            }
        }

        // Without loopback the user side consumes the data (the model's user logic discards it).
        Complete(e, d, Layout.ReaderInterrupt);
        return true;
    }

    private unsafe bool StepWriter()
    {
        var e = Writer;
        if (!e.Enabled)
        {
            // A disabled writer accepts its stream and drops it.
            return _loopbackFifo.Discard(long.MaxValue) > 0;
        }

        if (!CanStart(e, out var d))
        {
            return false;
        }

        if (!LoopbackEnabled)
        {
            return StepWriterFromUserLogic(e, d);
        }

        int streamBytes = StreamBytes(d.Length);
        bool stopAtLast = !d.LastDisabled;
        if (_loopbackFifo.Bytes < streamBytes && !(stopAtLast && _loopbackFifo.HasLastMark))
        {
            e.WaitingForInput = true;
            return false;
        }

        if (!TryPop(e, d))
        {
            return false;
        }

        byte* dst = _host.Memory.Translate(d.Address, d.Length, _writerName);
        if (dst is null || LoseWriteMaybe())
        {
            _loopbackFifo.Discard(streamBytes);
        }
        else
        {
            var target = new Span<byte>(dst, d.Length);
            int n = _loopbackFifo.Pop(target, stopAtLast, out bool hitLast);
            if (n < d.Length && hitLast)
            {
                // Early termination: the last word is repeated until the end of the current TLP, the rest of
                // the buffer is left untouched and the descriptor completes (spec §4.5).
                int tlp = Math.Min(_host.MaxPayloadSize, 512);
                int end = Math.Min(d.Length, (n + tlp - 1) / tlp * tlp);
                int w = Math.Min(_dataWidthBytes, n);
                for (int p = n; p < end && w > 0; p += w)
                {
                    target.Slice(n - w, Math.Min(w, end - p)).CopyTo(target[p..]);
                }
            }
            else if (streamBytes > n)
            {
                _loopbackFifo.Discard(streamBytes - n); // padding of the last stream word
            }

            FlipBitMaybe(target);
        }

        Complete(e, d, Layout.WriterInterrupt);
        return true;
    }

    /// <summary>
    /// The user side feeds the writer: the board's pattern generator (when its profile declares one) produces
    /// one sequence-numbered buffer per descriptor. Blocked by the synchronizer, the writer waits.
    /// </summary>
    private unsafe bool StepWriterFromUserLogic(DmaEngineModel e, Descriptor d)
    {
        if (_userPattern is null || UserStreamsBlocked || d.Length != _userPattern.BufferSize)
        {
            e.WaitingForInput = true;
            return false;
        }

        if (!TryPop(e, d))
        {
            return false;
        }

        byte* dst = _host.Memory.Translate(d.Address, d.Length, _writerName);
        if (dst is not null && !LoseWriteMaybe())
        {
            var target = new Span<byte>(dst, d.Length);
            _userPattern.Fill(target, _userSequence);
            FlipBitMaybe(target);
        }

        _userSequence++;
        Complete(e, d, Layout.WriterInterrupt);
        return true;
    }

    private void FlipBitMaybe(Span<byte> target)
    {
        if (_faults.Has(FaultKind.DmaBitflip) && _bitflipRandom.NextDouble() < _faults.Value(FaultKind.DmaBitflip))
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

    /// <summary>dma-lost-write: the buffer's data never reaches memory although the descriptor completes.</summary>
    private bool LoseWriteMaybe()
    {
        if (_faults.Has(FaultKind.DmaLostWrite) && _lostWriteRandom.NextDouble() < _faults.Value(FaultKind.DmaLostWrite))
        {
            _counters.LostWrites++;
            return true;
        }

        return false;
    }

    private void Complete(DmaEngineModel e, Descriptor d, int irqBit)
    {
        e.Completed++;
        _counters.BuffersMoved++;
        _counters.BytesMoved[(int)e.Direction] += d.Length;
        if (!d.IrqDisabled)
        {
            _msi.Raise(irqBit);
        }

        _host.OnBufferMoved(_counters.BuffersMoved);
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

    /// <summary>Set by the dma-stall fault: every engine stops.</summary>
    public bool Stalled { get; set; }
}
