using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>
/// The streamer against a channel whose engine is a few lines of C#: what it accepts and what it must refuse,
/// independently of any model of the gateware.
/// </summary>
[TestFixture]
public sealed class DmaStreamerTests
{
    [Test]
    public async Task A_buffer_the_hardware_completes_without_writing_is_never_an_earlier_streams_data()
    {
        var ch = new LoopbackChannel(buffers: 16, bufferSize: 64);
        var pattern = new SequencePattern(64);
        var first = await DmaStreamer.RunAsync(ch, pattern, new StreamOptions { Bytes = 8 * 64 });
        first.Clean.Should().BeTrue(string.Join("; ", first.ErrorDetails));

        ch.SkipWrites = true; // the writer now completes descriptors without writing a byte (a lost write TLP)
        var second = await DmaStreamer.RunAsync(ch, pattern, new StreamOptions { Bytes = 8 * 64 });

        second.RxBuffers.Should().BeGreaterThanOrEqualTo(8);
        second.Errors.Should().Be(second.RxBuffers, "none of the second stream's buffers was written; the ring still holds the first stream's");
        second.ErrorDetails.Should().OnlyContain(e => e.Kind == StreamErrorKind.Stale);
        second.ErrorDetails[0].ToString().Should().Contain("RX buffer 0 (sequence 0): stale");
        second.SequenceBase.Should().NotBe(first.SequenceBase, "every stream starts at its own sequence base");
    }

    [Test]
    public async Task Errors_name_buffers_by_their_place_in_the_stream_whatever_the_base()
    {
        var ch = new LoopbackChannel(buffers: 16, bufferSize: 64) { DropBufferAt = 5 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(64), new StreamOptions { Bytes = 12 * 64, SequenceBase = 1_000_000_000_000 });
        report.ErrorDetails.Should().ContainSingle().Which.ToString().Should().Be("RX buffer 5: 1 buffer(s) lost (expected sequence 5, found 6)");
    }

    [Test]
    public async Task An_older_buffer_out_of_order_is_one_error_and_the_stream_goes_on_in_step()
    {
        // Ring of 16: buffer 20's write is lost, so slot 4 still holds buffer 4 of this stream.
        var ch = new LoopbackChannel(buffers: 16, bufferSize: 64) { SkipWriteAt = 20 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(64), new StreamOptions { Bytes = 40 * 64 });
        report.ErrorDetails.Select(e => e.ToString()).Should().Equal("RX buffer 20: sequence 4 out of order (expected 20)");
    }

    [Test]
    public void Stream_bases_never_repeat_and_leave_a_window_to_each_stream()
    {
        var bases = Enumerable.Range(0, 1000).Select(_ => DmaStreamer.NextSequenceBase()).ToList();
        bases.Should().OnlyHaveUniqueItems();
        bases.Zip(bases.Skip(1)).Should().OnlyContain(p => p.Second - p.First >= DmaStreamer.SequenceWindow);
    }

    /// <summary>
    /// Loopback as the hardware does it, synchronously: a TX buffer the client releases is fetched and written to
    /// the same RX slot at once. Rings persist across streams, as a driver's do; nothing poisons them.
    /// </summary>
    private sealed class LoopbackChannel : IDmaChannel
    {
        private readonly byte[][] _tx;
        private readonly byte[][] _rx;
        private readonly long[] _hw = new long[2];
        private readonly long[] _sw = new long[2];
        private readonly bool[] _running = new bool[2];
        private long _fetched;

        public LoopbackChannel(int buffers, int bufferSize)
        {
            Geometry = new DmaRingGeometry(buffers, bufferSize);
            _tx = [.. Enumerable.Range(0, buffers).Select(_ => new byte[bufferSize])];
            _rx = [.. Enumerable.Range(0, buffers).Select(_ => new byte[bufferSize])];
            Layout = LiteXMapGenerator.Generate(new LitePcieDesign { Identifier = "streamer test" }).Layout.DmaChannels[0];
        }

        public DmaCapabilities Capabilities => DmaCapabilities.Full;

        public bool SkipWrites { get; set; }

        public long DropBufferAt { get; init; } = -1;

        public long SkipWriteAt { get; init; } = -1;

        public int Index => 0;

        public DmaChannelLayout Layout { get; }

        public DmaRingGeometry Geometry { get; }

        public void Start(DmaDirection direction, DmaStartOptions options)
        {
            _running[(int)direction] = true;
            _hw[(int)direction] = 0;
            _sw[(int)direction] = 0;
            if (direction == DmaDirection.Reader)
            {
                _fetched = 0;
            }
        }

        public void Stop(DmaDirection direction) => _running[(int)direction] = false;

        public void SetLoopback(bool enabled)
        {
        }

        public DmaCounters GetCounters(DmaDirection direction) =>
            new(_hw[(int)direction], _sw[(int)direction], 0, _running[(int)direction], 0, 0);

        public long UpdateSwCount(DmaDirection direction, long swCount)
        {
            _sw[(int)direction] = swCount;
            Pump();
            return 0;
        }

        /// <summary>
        /// Loopback with flow control, as the simulator's default (SimFlowControl): the reader fetches what software
        /// filled, and each fetched buffer lands in the next RX buffer only while software has freed one (the writer
        /// never overwrites a buffer the client has not consumed).
        /// </summary>
        private void Pump()
        {
            for (; _fetched < _sw[(int)DmaDirection.Reader] && _hw[(int)DmaDirection.Writer] - _sw[(int)DmaDirection.Writer] < Geometry.BufferCount; _fetched++)
            {
                if (_fetched != DropBufferAt)
                {
                    long rx = _hw[(int)DmaDirection.Writer];
                    if (!SkipWrites && rx != SkipWriteAt)
                    {
                        _tx[_fetched % Geometry.BufferCount].CopyTo(_rx[rx % Geometry.BufferCount], 0);
                    }

                    _hw[(int)DmaDirection.Writer]++;
                }

                _hw[(int)DmaDirection.Reader]++;
            }
        }

        public ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(GetCounters(direction));

        public IDmaRing Ring(DmaDirection direction) => new ArrayRing(direction == DmaDirection.Writer ? _rx : _tx, Geometry, direction);

        private sealed class ArrayRing(byte[][] slots, DmaRingGeometry geometry, DmaDirection direction) : IDmaRing
        {
            public DmaRingGeometry Geometry => geometry;

            public DmaDirection Direction => direction;

            public ReadOnlySpan<byte> Read(long bufferIndex) => slots[bufferIndex % geometry.BufferCount];

            public Span<byte> Write(long bufferIndex) => slots[bufferIndex % geometry.BufferCount];
        }
    }
}
