using System.Diagnostics;
using FluentAssertions;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Reporting;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>
/// What the streamer counts and how it names a wrong buffer at the edges of its sequence window: a duplicate of the
/// stream's very first buffer, a buffer of the next stream's window, a byte count against a short duration, the
/// throughput samples a live table shows, and the CPU figure that goes beside every rate.
/// </summary>
[TestFixture]
public sealed class DmaStreamerAccountingTests
{
    private const int Size = 64;

    [Test]
    public async Task A_duplicate_of_the_streams_first_buffer_is_a_duplicate_not_another_streams_data()
    {
        // The writer completes RX slot 1 with a copy of buffer 0: sequence 0 of this stream is this stream's number.
        var ch = new ScriptedDmaChannel(buffers: 16) { DuplicateAt = 0 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Bytes = 8 * Size });

        report.ErrorDetails.Should().NotBeEmpty();
        report.ErrorDetails[0].Kind.Should().Be(StreamErrorKind.Duplicated, report.ErrorDetails[0].ToString());
        report.ErrorDetails[0].ToString().Should().Be("RX buffer 1: duplicate of sequence 0 (expected 1)");
    }

    [Test]
    public async Task A_buffer_numbered_at_the_start_of_the_next_window_is_stale_not_four_billion_lost()
    {
        var ch = new ScriptedDmaChannel(buffers: 16);
        var pattern = new SequencePattern(Size);
        const long Base = 7 * DmaStreamer.SequenceWindow;

        // The previous stream verified buffers 0..15; handing those slots back let the TX buffers 16..31 it had queued
        // land in the ring before the stop, so RX slot 0 holds its buffer 16. Its base is chosen so that this buffer
        // carries the first number of the window after this stream's.
        var previous = await DmaStreamer.RunAsync(ch, pattern, new StreamOptions { Bytes = 16 * Size, SequenceBase = Base + DmaStreamer.SequenceWindow - 16 });
        previous.Clean.Should().BeTrue(string.Join("; ", previous.ErrorDetails));
        previous.RxBuffers.Should().Be(16);

        ch.SkipWrites = true;   // now the writer completes descriptors without writing
        var report = await DmaStreamer.RunAsync(ch, pattern, new StreamOptions { Bytes = 16 * Size, SequenceBase = Base });
        var first = report.ErrorDetails[0];
        first.Kind.Should().Be(StreamErrorKind.Stale, first.ToString());
        first.ToString().Should().Be(
            $"RX buffer 0 (sequence 0): stale, an intact buffer of another stream (absolute sequence {Base + DmaStreamer.SequenceWindow}, " +
            $"this stream's start at {Base}): the hardware completed it without writing it");
    }

    [Test]
    public async Task A_byte_count_is_streamed_in_full_however_short_the_duration()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { ReaderFetchLimit = 1 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size),
            new StreamOptions { Bytes = 24 * Size, Duration = TimeSpan.Zero });
        report.RxBuffers.Should().BeGreaterThanOrEqualTo(24, "Bytes set: the duration does not apply");
        report.Clean.Should().BeTrue(string.Join("; ", report.ErrorDetails));
    }

    [Test]
    public async Task Every_live_sample_counts_whole_buffers_received_and_sent()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { ReaderFetchLimit = 2 };
        var live = new List<ThroughputSample>();
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions
        {
            Bytes = 32 * Size,
            SampleInterval = TimeSpan.Zero,
            Progress = (s, _) => live.Add(s),
        });

        live.Should().NotBeEmpty();
        live.Should().OnlyContain(s => s.RxBytes % Size == 0 && s.TxBytes % Size == 0, "samples are whole 64-byte buffers");
        live.Select(s => s.RxBytes).Should().BeInAscendingOrder();
        live.Max(s => s.RxBytes).Should().BeGreaterThan(0);
        live.Should().OnlyContain(s => s.TxBytes >= s.RxBytes, "a loopback buffer is sent before it is received");
        live[^1].RxBytes.Should().BeLessThanOrEqualTo(report.RxBytes);
    }

    [Test]
    public async Task The_cpu_time_is_what_the_stream_cost_not_the_process_lifetime()
    {
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        var report = await DmaStreamer.RunAsync(new ScriptedDmaChannel(buffers: 8), new SequencePattern(Size),
            new StreamOptions { Bytes = 64 * Size });
        var spent = Process.GetCurrentProcess().TotalProcessorTime - before;

        report.CpuTime.Should().BeGreaterThanOrEqualTo(TimeSpan.Zero);
        report.CpuTime.Should().BeLessThanOrEqualTo(spent, $"the process spent {spent.TotalMilliseconds} ms of CPU around the stream");
    }

    [Test]
    public async Task A_timed_stream_names_its_duration_in_milliseconds_precision()
    {
        var steps = new StepLog();
        await DmaStreamer.RunAsync(new ScriptedDmaChannel(buffers: 8), new SequencePattern(Size),
            new StreamOptions { Duration = TimeSpan.FromMilliseconds(12.3456), Steps = steps });
        steps.Log.Should().Contain("stream and verify for 0.012 s: ok");
    }

    private sealed class StepLog : IStepReporter
    {
        private readonly Stack<string> _open = new();

        public List<string> Log { get; } = [];

        public void StepStarted(string name) => _open.Push(name);

        public void StepFinished(Exception? error) => Log.Add($"{_open.Pop()}: {(error is null ? "ok" : "failed")}");
    }
}
