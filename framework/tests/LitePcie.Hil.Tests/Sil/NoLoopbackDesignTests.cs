using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Sil;

/// <summary>
/// Designs without DMA loopback (<c>sim-kcu105-noloop</c>): writer-only and reader-only streams are the only DMA
/// there is, and +0x40 of each DMA block is another register (P14) that no stream may write.
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
}
