using FluentAssertions;
using LitePcie.Hil.Dma;
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
        var ch = new ScriptedDmaChannel(buffers: 16, bufferSize: 64);
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
        var ch = new ScriptedDmaChannel(buffers: 16, bufferSize: 64) { DropBufferAt = 5 };
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(64), new StreamOptions { Bytes = 12 * 64, SequenceBase = 1_000_000_000_000 });
        report.ErrorDetails.Should().ContainSingle().Which.ToString().Should().Be("RX buffer 5: 1 buffer(s) lost (expected sequence 5, found 6)");
    }

    [Test]
    public async Task An_older_buffer_out_of_order_is_one_error_and_the_stream_goes_on_in_step()
    {
        // Ring of 16: buffer 20's write is lost, so slot 4 still holds buffer 4 of this stream.
        var ch = new ScriptedDmaChannel(buffers: 16, bufferSize: 64) { SkipWriteAt = 20 };
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
}
