using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Csr;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>
/// One DMA channel in a few lines of C#, for the streamer's tests, independent of any model of the gateware.
/// Loopback copies each TX buffer the reader fetches into the next RX buffer, and only while software has an RX
/// buffer free (loopback back-pressure, as the simulator's default flow control); a writer-only generator produces
/// sequence 0, 1, 2… on every wait; faults are placed by TX or RX index. Rings persist across streams, as a driver's
/// do: nothing poisons them. Each engine's counts restart at its enable, as LiteX's loop status does.
/// </summary>
internal sealed class ScriptedDmaChannel : IDmaChannel
{
    private readonly byte[][] _tx;
    private readonly byte[][] _rx;
    private readonly long[] _hw = new long[2];
    private readonly long[] _sw = new long[2];
    private readonly bool[] _running = new bool[2];
    private readonly SequencePattern _generator;
    private long _fetched;
    private bool _duplicated;

    public ScriptedDmaChannel(int buffers, int bufferSize = 64, bool loopbackInDesign = true)
    {
        Geometry = new DmaRingGeometry(buffers, bufferSize);
        _tx = [.. Enumerable.Range(0, buffers).Select(_ => new byte[bufferSize])];
        _rx = [.. Enumerable.Range(0, buffers).Select(_ => new byte[bufferSize])];
        _generator = new SequencePattern(bufferSize);
        Layout = LiteXMapGenerator.Generate(new LitePcieDesign { Identifier = "scripted", Loopback = loopbackInDesign }).Layout.DmaChannels[0];
    }

    public DmaCapabilities Capabilities => DmaCapabilities.Full;

    public int Index => 0;

    public DmaChannelLayout Layout { get; }

    public DmaRingGeometry Geometry { get; }

    // What the streamer did to the channel.
    public List<bool> Loopback { get; } = [];

    public List<(DmaDirection Direction, int IrqEvery)> Starts { get; } = [];

    public List<DmaDirection> Stops { get; } = [];

    public long FirstReaderSwCount { get; private set; } = -1;

    public long ReaderHw => _hw[(int)DmaDirection.Reader];

    public long WriterSw => _sw[(int)DmaDirection.Writer];

    public int Waits { get; private set; }

    // How the channel behaves.
    public bool LoopbackCopies { get; init; } = true;

    public bool Generator { get; init; }

    public bool Frozen { get; init; }

    public bool FailReaderStart { get; init; }

    public long ReaderFetchLimit { get; init; } = long.MaxValue;

    public long WriterLost { get; init; }

    public long ReaderLost { get; init; }

    public TimeSpan WaitDelay { get; init; }

    public Action? OnWait { get; set; }

    // Faults.

    /// <summary>The writer completes every descriptor without writing a byte (lost write TLPs); settable mid-test.</summary>
    public bool SkipWrites { get; set; }

    /// <summary>The write of this RX index is lost; the descriptor still completes.</summary>
    public long SkipWriteAt { get; init; } = -1;

    /// <summary>The TX buffer of this index is fetched and never written anywhere.</summary>
    public long DropBufferAt { get; init; } = -1;

    /// <summary>The writer stores RX buffer N again in slot N+1; every later buffer comes one slot late.</summary>
    public long DuplicateAt { get; init; } = -1;

    public long CorruptAt { get; init; } = -1;

    public int CorruptEvery { get; init; }

    public int CorruptByte { get; init; }

    public byte CorruptMask { get; init; } = 1;

    public void Start(DmaDirection direction, DmaStartOptions options)
    {
        if (direction == DmaDirection.Reader && FailReaderStart)
        {
            throw new InvalidOperationException("reader refused to start");
        }

        Starts.Add((direction, options.IrqEvery));
        _running[(int)direction] = true;
        _hw[(int)direction] = 0;
        _sw[(int)direction] = 0;
        if (direction == DmaDirection.Reader)
        {
            _fetched = 0;
        }
    }

    public void Stop(DmaDirection direction)
    {
        Stops.Add(direction);
        _running[(int)direction] = false;
    }

    public void SetLoopback(bool enabled) => Loopback.Add(enabled);

    public DmaCounters GetCounters(DmaDirection direction) =>
        new(_hw[(int)direction], _sw[(int)direction], direction == DmaDirection.Writer ? WriterLost : ReaderLost, _running[(int)direction], 0, 0);

    public long UpdateSwCount(DmaDirection direction, long swCount)
    {
        _sw[(int)direction] = swCount;
        if (direction == DmaDirection.Reader && FirstReaderSwCount < 0)
        {
            FirstReaderSwCount = swCount;
        }

        Fetch();
        return 0;
    }

    public async ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Waits++;
        OnWait?.Invoke();
        if (WaitDelay > TimeSpan.Zero)
        {
            await Task.Delay(WaitDelay, cancellationToken);
        }

        if (Frozen)
        {
            throw new DeviceTimeoutException("scripted", "an interrupt", timeout);
        }

        Fetch();
        if (Generator && _running[(int)DmaDirection.Writer])
        {
            // The user logic produces the next buffers of its own sequence (from 0 at enable) into free RX slots.
            for (long limit = _sw[0] + Geometry.BufferCount; _hw[0] < limit; _hw[0]++)
            {
                _generator.Fill(_rx[_hw[0] % Geometry.BufferCount], _hw[0]);
            }
        }

        return GetCounters(direction);
    }

    public IDmaRing Ring(DmaDirection direction) => new ArrayRing(direction == DmaDirection.Writer ? _rx : _tx, Geometry, direction);

    /// <summary>The reader fetches what software filled (at most <see cref="ReaderFetchLimit"/> per call).</summary>
    private void Fetch()
    {
        if (Frozen || !_running[(int)DmaDirection.Reader])
        {
            return;
        }

        for (long n = 0; _fetched < _sw[1] && n < ReaderFetchLimit; n++)
        {
            bool copies = LoopbackCopies && _running[0];
            if (copies && _hw[0] >= _sw[0] + Geometry.BufferCount)
            {
                break; // the writer has no free RX slot until software releases one
            }

            if (copies && DuplicateAt >= 0 && _hw[0] == DuplicateAt + 1 && !_duplicated)
            {
                _rx[DuplicateAt % Geometry.BufferCount].CopyTo(_rx[_hw[0] % Geometry.BufferCount], 0);
                _hw[0]++;
                _duplicated = true;
                continue;
            }

            _hw[1]++;
            if (copies && _fetched != DropBufferAt)
            {
                long rx = _hw[0];
                if (!SkipWrites && rx != SkipWriteAt)
                {
                    var dst = _rx[rx % Geometry.BufferCount];
                    _tx[_fetched % Geometry.BufferCount].CopyTo(dst, 0);
                    if (rx == CorruptAt || (CorruptEvery > 0 && rx % CorruptEvery == 0))
                    {
                        dst[CorruptByte] ^= CorruptMask;
                    }
                }

                _hw[0]++;
            }

            _fetched++;
        }
    }

    private sealed class ArrayRing(byte[][] slots, DmaRingGeometry geometry, DmaDirection direction) : IDmaRing
    {
        public DmaRingGeometry Geometry => geometry;

        public DmaDirection Direction => direction;

        public ReadOnlySpan<byte> Read(long bufferIndex) => slots[bufferIndex % geometry.BufferCount];

        public Span<byte> Write(long bufferIndex) => slots[bufferIndex % geometry.BufferCount];
    }
}
