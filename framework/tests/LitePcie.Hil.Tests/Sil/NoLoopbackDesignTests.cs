using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Sil;

/// <summary>
/// Designs without DMA loopback (<c>sim-kcu105-noloop</c>): writer-only and reader-only streams are the only DMA
/// there is, and +0x40 of each DMA block is another register (P14, docs/checklist.md#p14) that no stream may write.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class NoLoopbackDesignTests
{
    private const string Board = "sim-kcu105-noloop";

    [TestCase(StreamMode.WriterOnly)]
    [TestCase(StreamMode.ReaderOnly)]
    public async Task Single_direction_streams_run_without_writing_the_loopback_offset(StreamMode mode)
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = [Board] });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        var ch = session.Channels[0];
        uint at0x40 = session.Map.ToBarOffset(ch.Layout.BaseAddress + 0x40);
        session.WriteCsr(at0x40, 0x1234);

        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize), new StreamOptions { Mode = mode, Bytes = 4L << 20 });

        report.Clean.Should().BeTrue($"a {mode} stream on a design without loopback: {string.Join("; ", report.ErrorDetails)} {report.Stall}");
        session.ReadCsr(at0x40).Should().Be(0x1234u, "+0x40 is pcie_dma0_buffering_reader_fifo_control on this design: a stream must not write it (P14)");
    }

    [Test]
    public async Task A_loopback_stream_is_refused_by_name_on_a_design_without_loopback()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = [Board] });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        var ch = session.Channels[0];
        await FluentActions.Awaiting(() => DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize), new StreamOptions { Mode = StreamMode.Loopback, Bytes = 1L << 20 }))
            .Should().ThrowAsync<DeviceCapabilityException>();
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse("nothing was started");
    }

    /// <summary>
    /// The engines run ahead of the host after every register write (a host thread preempted right after it):
    /// the writer, fed by the board's own generator, completes a whole ring the moment it is enabled. Its
    /// interrupts must not be lost to a start sequence that enables the engine before its MSI source (the
    /// RTL drops a source's events while its enable bit is clear), or the driver's count never moves.
    /// </summary>
    [Test]
    public async Task Writer_only_start_loses_no_interrupt_when_the_hardware_runs_ahead()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = [Board], HardwareRunsAhead = true });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        await StreamCleanly(session, "after attach");
    }

    [Test]
    public async Task Writer_only_stream_after_wake_loses_no_interrupt_when_the_hardware_runs_ahead()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = [Board], HardwareRunsAhead = true });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        await StreamCleanly(session, "before sleep");
        await backend.SleepAsync(TimeSpan.FromMilliseconds(1));
        await StreamCleanly(session, "after wake");
    }

    private static async Task StreamCleanly(IDeviceSession session, string when)
    {
        var ch = session.Channels[0];
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
            new StreamOptions { Mode = StreamMode.WriterOnly, Bytes = 2L * ch.Geometry.BufferCount * ch.Geometry.BufferSize, StallTimeout = TimeSpan.FromSeconds(2) });
        var w = ch.GetCounters(DmaDirection.Writer);
        report.Clean.Should().BeTrue($"writer-only {when}: {report.Stall ?? string.Join("; ", report.ErrorDetails)} (driver count {w.HwCount}, {w.Interrupts} interrupts)");
    }
}
