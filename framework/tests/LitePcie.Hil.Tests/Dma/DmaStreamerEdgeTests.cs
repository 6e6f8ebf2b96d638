using FluentAssertions;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Reporting;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>
/// The streamer's modes, diagnoses and bookkeeping against a scripted channel, which mutation testing found unguarded
/// (docs/mutation.md): writer-only and reader-only streams, duplicates and corruption as the report words them, the
/// error cap, the stall, the driver's lost counts, the loopback switch, the stop after a failed start.
/// </summary>
[TestFixture]
public sealed class DmaStreamerEdgeTests
{
    private const int Size = 64;

    [Test]
    public async Task A_loopback_stream_switches_loopback_on_fills_the_whole_tx_ring_first_and_verifies_every_rx_buffer()
    {
        var ch = new ScriptedDmaChannel(buffers: 8);
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Bytes = 20 * Size, IrqEvery = 4 });

        ch.Loopback.Should().Equal(true);
        ch.Starts.Should().Equal((DmaDirection.Writer, 4), (DmaDirection.Reader, 4));
        ch.FirstReaderSwCount.Should().Be(8, "the whole TX ring is filled before the reader starts");
        report.Clean.Should().BeTrue(string.Join("; ", report.ErrorDetails));
        report.Mode.Should().Be(StreamMode.Loopback);
        report.RxBuffers.Should().BeGreaterThanOrEqualTo(20);
        report.RxBytes.Should().Be(report.RxBuffers * Size);
        report.TxBuffers.Should().BeGreaterThanOrEqualTo(report.RxBuffers);
        report.TxFetchedBytes.Should().Be(ch.ReaderHw * Size);
        report.SequenceBase.Should().BeGreaterThan(0, "a loopback stream takes a fresh base");
        report.Samples[^1].RxBytes.Should().Be(report.RxBytes);
        report.Samples[^1].TxBytes.Should().Be(report.TxBuffers * Size);
        ch.Stops.Should().BeEquivalentTo([DmaDirection.Reader, DmaDirection.Writer]);
        ch.WriterSw.Should().Be(report.RxBuffers, "every verified RX buffer is handed back to the driver");
    }

    [Test]
    public async Task A_byte_count_that_is_not_a_whole_buffer_is_rounded_up()
    {
        var ch = new ScriptedDmaChannel(buffers: 64) { ReaderFetchLimit = 1 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Bytes = 3 * Size + 1 });
        report.RxBuffers.Should().Be(4, "193 bytes need four 64-byte buffers, and the stream stops there");
    }

    [Test]
    public async Task Keeping_the_loopback_setting_leaves_it_alone()
    {
        var ch = new ScriptedDmaChannel(buffers: 8);
        await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Bytes = 8 * Size, KeepLoopbackSetting = true });
        ch.Loopback.Should().BeEmpty();
    }

    [Test]
    public async Task A_writer_only_stream_starts_at_sequence_0_uses_no_reader_and_reports_the_writer_losses_only()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { Generator = true, WriterLost = 3, ReaderLost = 5 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Mode = StreamMode.WriterOnly, Bytes = 16 * Size });

        ch.Loopback.Should().Equal(false);
        ch.Starts.Select(s => s.Direction).Should().Equal(DmaDirection.Writer);
        report.SequenceBase.Should().Be(0, "the user-logic generator restarts at 0 at every writer enable");
        report.Errors.Should().Be(0);
        report.TxBuffers.Should().Be(0);
        report.RxBuffers.Should().BeGreaterThanOrEqualTo(16);
        report.DriverLostWriter.Should().Be(3);
        report.DriverLostReader.Should().Be(0, "the reader did not run: its count is stale");
        report.Clean.Should().BeFalse("the driver lost writer buffers");
    }

    [Test]
    public async Task A_single_direction_stream_on_a_design_without_loopback_never_touches_0x40()
    {
        var ch = new ScriptedDmaChannel(buffers: 8, loopbackInDesign: false) { Generator = true };
        await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Mode = StreamMode.WriterOnly, Bytes = 8 * Size });
        ch.Loopback.Should().BeEmpty("+0x40 is another register in this design (P14)");
    }

    [Test]
    public async Task A_reader_only_stream_measures_what_the_hardware_fetched_and_reports_the_reader_losses_only()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { LoopbackCopies = false, WriterLost = 3, ReaderLost = 2 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Mode = StreamMode.ReaderOnly, Bytes = 24 * Size });

        ch.Loopback.Should().Equal(false);
        ch.Starts.Select(s => s.Direction).Should().Equal(DmaDirection.Reader);
        report.RxBuffers.Should().Be(0);
        ch.ReaderHw.Should().BeGreaterThanOrEqualTo(24);
        report.TxFetchedBytes.Should().Be(ch.ReaderHw * Size);
        report.SequenceBase.Should().NotBe(0);
        report.DriverLostWriter.Should().Be(0);
        report.DriverLostReader.Should().Be(2);
        report.Gbps.Should().BeApproximately(report.TxFetchedBytes * 8 / report.Elapsed.TotalSeconds / 1e9, 1e-9, "reader-only: the fetched rate");
    }

    [Test]
    public async Task A_duplicated_buffer_is_one_error_and_the_expected_one_is_still_to_come()
    {
        var ch = new ScriptedDmaChannel(buffers: 16) { DuplicateAt = 6 };
        var events = new List<string>();
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Bytes = 12 * Size, Events = events.Add });
        report.ErrorDetails.Select(e => e.ToString()).Should().Equal("RX buffer 7: duplicate of sequence 6 (expected 7)");
        report.ErrorDetails[0].Kind.Should().Be(StreamErrorKind.Duplicated);
        report.Errors.Should().Be(1);
        events.Should().Equal("RX buffer 7: duplicate of sequence 6 (expected 7)");
    }

    [Test]
    public async Task A_corrupted_buffer_is_reported_with_word_offset_values_and_bits()
    {
        var ch = new ScriptedDmaChannel(buffers: 16) { CorruptAt = 3, CorruptByte = 2 * 8 + 1, CorruptMask = 0x81 };
        var pattern = new SequencePattern(Size);
        var report = await DmaStreamer.RunAsync(ch, pattern, new StreamOptions { Bytes = 8 * Size, SequenceBase = 500 });
        var e = report.ErrorDetails.Should().ContainSingle().Subject;
        e.Kind.Should().Be(StreamErrorKind.Corrupted);
        ulong expected = pattern.ExpectedWord(503, 2);
        e.ToString().Should().Be($"RX buffer 3 (sequence 3): corrupted, first bad word 2 (byte offset 16): expected 0x{expected:X16}, " +
                                 $"got 0x{expected ^ 0x8100UL:X16} (bits 8, 15 flipped)");
        report.Errors.Should().Be(1, "the corrupted buffer took buffer 3's place; buffer 4 is next and intact");
    }

    [Test]
    public async Task Every_error_is_counted_and_sent_as_an_event_but_only_the_first_details_are_kept()
    {
        var ch = new ScriptedDmaChannel(buffers: 16) { CorruptEvery = 2 };
        var events = new List<string>();
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size),
            new StreamOptions { Bytes = 20 * Size, MaxErrorDetails = 3, Events = events.Add });
        // The streamer verifies whole batches of completed buffers, so it may check more than the 20 asked for: every
        // second one it checked (RX index 0, 2, 4 …) was corrupted.
        report.RxBuffers.Should().BeGreaterThanOrEqualTo(20);
        report.Errors.Should().Be((report.RxBuffers + 1) / 2, report.Summary());
        report.ErrorDetails.Should().HaveCount(3);
        report.ErrorDetails.Select(d => d.RxIndex).Should().Equal(0, 2, 4);
        events.Should().HaveCount((int)report.Errors);
        report.Summary().Should().Contain($"bad buffers         {report.Errors} (3 corrupted; 3 of {report.Errors} listed)");
    }

    [Test]
    public async Task A_stream_that_makes_no_progress_is_declared_stalled_with_the_counters()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { Frozen = true };
        var events = new List<string>();
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size),
            new StreamOptions { Bytes = 8 * Size, StallTimeout = TimeSpan.FromMilliseconds(30), Events = events.Add });
        report.Stall.Should().Be("no RX progress for 30 ms at RX buffer 0: writer hw 0 (0 irqs, running True), reader hw 0 (0 irqs, running True), TX filled 8");
        events.Should().Equal(report.Stall);
        report.Clean.Should().BeFalse();
        ch.Waits.Should().BeGreaterThan(0, "the streamer waits for the next interrupt instead of spinning");
        ch.Stops.Should().BeEquivalentTo([DmaDirection.Reader, DmaDirection.Writer]);
        report.Summary().Should().Contain("stall               no RX progress");
    }

    [Test]
    public async Task A_reader_only_stall_names_tx()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { Frozen = true };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size),
            new StreamOptions { Mode = StreamMode.ReaderOnly, Bytes = 8 * Size, StallTimeout = TimeSpan.FromMilliseconds(30) });
        report.Stall.Should().StartWith("no TX progress for 30 ms");
    }

    [Test]
    public async Task A_clean_report_summarises_mode_counts_and_rate()
    {
        var ch = new ScriptedDmaChannel(buffers: 8);
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Bytes = 8 * Size });
        var summary = report.Summary();
        summary.Should().StartWith("mode                Loopback" + Environment.NewLine);
        summary.Should().Contain($"RX buffers verified {report.RxBuffers} ({ByteSize.Format(report.RxBytes)})");
        summary.Should().Contain($"TX buffers filled   {report.TxBuffers}");
        summary.Should().Contain("bad buffers         0" + Environment.NewLine);
        summary.Should().Contain("driver lost         writer 0, reader 0");
        summary.Should().Contain("stall               none");
        report.Gbps.Should().BeApproximately(report.RxBytes * 8 / report.Elapsed.TotalSeconds / 1e9, 1e-9);
        report.CpuCores.Should().BeGreaterThanOrEqualTo(0);
    }

    [Test]
    public void An_empty_report_has_no_rate()
    {
        var r = new StreamReport(StreamMode.Loopback, 0, 0, 0, TimeSpan.Zero, TimeSpan.FromSeconds(1), 0, 0, 0, [], [], null);
        r.Gbps.Should().Be(0);
        r.CpuCores.Should().Be(0);
        r.Clean.Should().BeTrue();
        (r with { DriverLostReader = 1 }).Clean.Should().BeFalse();
        (r with { Errors = 1 }).Clean.Should().BeFalse();
        (r with { Stall = "x" }).Clean.Should().BeFalse();
    }

    [Test]
    public async Task Progress_is_reported_with_samples_while_streaming()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { ReaderFetchLimit = 1, WaitDelay = TimeSpan.FromMilliseconds(2) };
        var progress = new List<(ThroughputSample Sample, long Errors)>();
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions
        {
            Duration = TimeSpan.FromMilliseconds(150),
            SampleInterval = TimeSpan.FromMilliseconds(20),
            Progress = (s, e) => progress.Add((s, e)),
        });
        progress.Should().NotBeEmpty();
        report.Samples.Should().HaveCount(progress.Count + 1, "every sample shown plus the final one");
        progress.Select(p => p.Sample.At).Should().BeInAscendingOrder();
        progress.Zip(progress.Skip(1)).Should().OnlyContain(p => p.Second.Sample.At - p.First.Sample.At >= TimeSpan.FromMilliseconds(20));
        report.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150), "a duration-bound stream runs its duration");
    }

    [Test]
    public async Task A_pattern_for_another_buffer_size_is_refused_before_anything_starts()
    {
        var ch = new ScriptedDmaChannel(buffers: 8);
        await FluentActions.Awaiting(() => DmaStreamer.RunAsync(ch, new SequencePattern(128), new StreamOptions { Bytes = Size }))
            .Should().ThrowAsync<ArgumentException>().WithMessage("pattern is for 128-byte buffers, the ring has 64*");
        ch.Starts.Should().BeEmpty();
    }

    [Test]
    public async Task A_failed_start_stops_the_engine_already_running()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { FailReaderStart = true };
        await FluentActions.Awaiting(() => DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Bytes = 8 * Size }))
            .Should().ThrowAsync<InvalidOperationException>();
        ch.Stops.Should().Equal(DmaDirection.Writer);
    }

    [Test]
    public async Task A_cancelled_stream_stops_both_engines_and_reports_the_step_as_failed()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { Frozen = true };
        using var cts = new CancellationTokenSource();
        var steps = new Steps();
        ch.OnWait = cts.Cancel;
        await FluentActions.Awaiting(() => DmaStreamer.RunAsync(ch, new SequencePattern(Size),
                new StreamOptions { Duration = TimeSpan.FromMinutes(1), Steps = steps }, cts.Token))
            .Should().ThrowAsync<OperationCanceledException>();
        ch.Stops.Should().BeEquivalentTo([DmaDirection.Reader, DmaDirection.Writer]);
        steps.Log.Should().HaveCount(3);
        steps.Log[0].Should().StartWith("program descriptors and start pcie_dma0 (writer + reader, internal loopback, 8 × 64 B, irqEvery 32): ok");
        steps.Log[1].Should().Be("stream and verify for 60 s: failed");
        steps.Log[2].Should().Be("stop pcie_dma0: ok");
    }

    [Test]
    public async Task Steps_name_the_engines_and_the_amount()
    {
        var ch = new ScriptedDmaChannel(buffers: 8) { Generator = true };
        var steps = new Steps();
        await DmaStreamer.RunAsync(ch, new SequencePattern(Size), new StreamOptions { Mode = StreamMode.WriterOnly, Bytes = 8 * Size, Steps = steps });
        steps.Log.Should().Equal("program descriptors and start pcie_dma0 (writer only, 8 × 64 B, irqEvery 32): ok", "stream and verify 512 bytes: ok", "stop pcie_dma0: ok");
        var ro = new Steps();
        await DmaStreamer.RunAsync(new ScriptedDmaChannel(buffers: 8), new SequencePattern(Size), new StreamOptions { Mode = StreamMode.ReaderOnly, Bytes = 8 * Size, Steps = ro });
        ro.Log[0].Should().StartWith("program descriptors and start pcie_dma0 (reader only,");
    }

    private sealed class Steps : IStepReporter
    {
        private readonly Stack<string> _open = new();

        public List<string> Log { get; } = [];

        public void StepStarted(string name) => _open.Push(name);

        public void StepFinished(Exception? error) => Log.Add($"{_open.Pop()}: {(error is null ? "ok" : "failed")}");
    }
}
