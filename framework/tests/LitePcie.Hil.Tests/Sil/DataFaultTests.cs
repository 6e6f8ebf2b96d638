using FluentAssertions;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Sil;

/// <summary>The data faults at realistic rates, end to end through the dext core: what they do and how the streamer names it.</summary>
[TestFixture]
[NonParallelizable]
public sealed class DataFaultTests
{
    [Test]
    public async Task A_bit_error_rate_flips_bits_at_that_rate_and_each_hit_buffer_is_named_corrupted()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = ["sim-kcu105-noloop"], Faults = "dma-ber=1e-5;seed=3" });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        var ch = session.Channels[0];
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
            new StreamOptions { Mode = StreamMode.WriterOnly, Bytes = 512L * ch.Geometry.BufferSize, MaxErrorDetails = 1000 });
        var stats = backend.Slots[0].Board.GetStatistics();
        long bits = stats.WriterBytes * 8; // the writer runs up to a ring ahead of what was verified
        long flipped = stats.BitsFlipped;
        double expected = bits * 1e-5, sigma = Math.Sqrt(expected);
        flipped.Should().BeInRange((long)(expected - 5 * sigma), (long)(expected + 5 * sigma), $"{bits} bits stored at a bit error rate of 1e-5");
        report.Errors.Should().BeGreaterThan(0).And.BeLessThanOrEqualTo(flipped);
        report.ErrorDetails.Should().OnlyContain(e => e.Kind == StreamErrorKind.Corrupted);
    }

    [TestCase("sim-kcu105-noloop", StreamMode.WriterOnly)]
    [TestCase("sim-ac701-2ch", StreamMode.Loopback)]
    public async Task A_write_that_never_reaches_memory_reads_as_the_poisoned_all_ones_not_as_old_data(string board, StreamMode mode)
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = [board], Faults = "dma-lost-write=0.05;seed=5" });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        var ch = session.Channels[0];
        var pattern = new SequencePattern(ch.Geometry.BufferSize);
        var options = new StreamOptions { Mode = mode, Bytes = 600L * ch.Geometry.BufferSize, MaxErrorDetails = 1000 };
        await DmaStreamer.RunAsync(ch, pattern, options); // leaves two laps of data in the ring
        var report = await DmaStreamer.RunAsync(ch, pattern, options);
        report.Errors.Should().BeGreaterThan(0, "5% of 600 writes were lost");
        int ring = ch.Geometry.BufferCount;
        // A slot never written since the start: the all-ones the dext filled the writer ring with. A slot written on an earlier
        // lap: this stream's own buffer one or more rings back (out of order). Never an earlier stream's buffer.
        report.ErrorDetails.Should().OnlyContain(e =>
                (e.Kind == StreamErrorKind.Corrupted && e.Check.ActualWord == ulong.MaxValue && e.Check.FirstBadWord == 0) ||
                (e.Kind == StreamErrorKind.Reordered && (e.Check.Expected - e.Check.Found) % ring == 0 && e.RxIndex >= ring),
            "a lost write shows as poison or as this stream's older lap, never as an earlier stream's data");
        report.ErrorDetails.Should().Contain(e => e.Kind == StreamErrorKind.Corrupted, "some writes of the first lap were lost");
    }
}
