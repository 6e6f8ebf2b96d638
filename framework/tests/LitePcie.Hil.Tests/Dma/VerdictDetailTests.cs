using FluentAssertions;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Reporting.Charts;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>The details a failed DMA verdict carries: the flipped bit named, byte counts for people, shown against total, lost interrupts, the threshold line.</summary>
[TestFixture]
public sealed class VerdictDetailTests
{
    [TestCase(0x00000000UL, 0x00000080UL, "bit 7 flipped 0→1")]
    [TestCase(0xE8F3C3AEFA638977UL, 0xE8F3C32EFA638977UL, "bit 39 flipped 1→0")]
    [TestCase(0x0UL, 0x11UL, "bits 0, 4 flipped")]
    [TestCase(0x0UL, 0x1FUL, "5 bits differ")]
    [TestCase(0x5UL, 0x5UL, "no bit differs")]
    public void The_flipped_bit_is_named(ulong expected, ulong actual, string text) =>
        SequencePattern.DescribeFlips(expected, actual).Should().Be(text);

    [Test]
    public void A_corrupted_buffer_names_its_flipped_bit()
    {
        var e = new StreamError(StreamErrorKind.Corrupted, 734, new BufferCheck(BufferVerdict.Corrupted, 734, 734, 82, 0xE8F3C32EFA638977UL, 0xE8F3C3AEFA638977UL));
        e.ToString().Should().Contain("bit 39 flipped 0→1").And.Contain("byte offset 656");
    }

    [TestCase(512L, "512 B")]
    [TestCase(16L << 20, "16 MiB")]
    [TestCase(18350080L, "17.50 MiB (18350080 B)")]
    [TestCase(3L << 30, "3 GiB")]
    public void Byte_counts_are_for_people(long bytes, string text) => ByteSize.Format(bytes).Should().Be(text);

    [Test]
    public void A_report_says_how_many_bad_buffers_it_lists_of_how_many()
    {
        var check = new BufferCheck(BufferVerdict.Corrupted, 1, 1, 0, 1, 3);
        var errors = Enumerable.Range(0, 16).Select(i => new StreamError(StreamErrorKind.Corrupted, i, check)).ToList();
        var report = new StreamReport(StreamMode.Loopback, 2048, 2048, 2048L * 8192, TimeSpan.FromSeconds(1), TimeSpan.Zero, 0, 0, 338, errors, [], null);
        report.ShownOfTotal.Should().Be("16 corrupted; 16 of 338 listed");
        report.ErrorKinds.Should().Be("corrupted");
        report.Summary().Should().Contain("bad buffers         338 (16 corrupted; 16 of 338 listed)").And.Contain("RX buffers verified 2048 (16 MiB)");
    }

    [TestCase(0x0000_0005u, 5L, 256, 0L)]
    [TestCase(0x0000_0040u, 0L, 256, 64L)]
    [TestCase(0x0001_0000u, 255L, 256, 1L, TestName = "A ring loop later: count 1, index 0 is one past the driver's 255")]
    [TestCase(0x0000_0000u, 300L, 256, 0L, TestName = "A flushed table (0) is never ahead of a driver that counted on")]
    public void The_hardware_ahead_of_the_driver_is_counted_from_loop_status(uint loopStatus, long driver, int ring, long ahead) =>
        DmaState.Ahead(loopStatus, driver, ring).Should().Be(ahead);

    [Test]
    public void The_throughput_chart_draws_the_threshold_across_the_run()
    {
        var samples = new[] { new ThroughputSample(TimeSpan.FromSeconds(0.5), 1 << 28, 1 << 28), new ThroughputSample(TimeSpan.FromSeconds(1), 1 << 29, 1 << 29) };
        var report = new StreamReport(StreamMode.Loopback, 1, 1, 1 << 29, TimeSpan.FromSeconds(1), TimeSpan.Zero, 0, 0, 0, [], samples, null);
        string svg = ReportCharts.Throughput(report, "t", 6.5, "DmaMinGbps (gen2x4)");
        svg.Should().Contain("DmaMinGbps (gen2x4) 6.5 Gb/s", "the legend names the threshold and its value");
        ReportCharts.Throughput(report, "t").Should().NotContain("DmaMinGbps");
    }
}
