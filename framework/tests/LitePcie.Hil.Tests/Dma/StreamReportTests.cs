using FluentAssertions;
using LitePcie.Hil.Dma;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>
/// The stream report a failed or slow DMA run leaves in the test output and the Allure attachment: every line of
/// the summary (a line silently dropped is a figure the lab never sees), the CPU cost next to the rate, and the
/// stable kind list a verdict is keyed on.
/// </summary>
[TestFixture]
public sealed class StreamReportTests
{
    private const int BufferSize = 8192;

    private static StreamError Error(StreamErrorKind kind, long rxIndex, long expected, long found, int badWord = -1) =>
        new(kind, rxIndex, new BufferCheck(kind == StreamErrorKind.Corrupted ? BufferVerdict.Corrupted : BufferVerdict.WrongSequence,
            expected, found, badWord, 0x0123_4567_89AB_CDEFUL, 0x0123_4567_89AB_CDEEUL));

    private static StreamReport Report(IReadOnlyList<StreamError> details, long errors, string? stall, string? cause) =>
        new(StreamMode.Loopback, 4096, 2048, 2048L * BufferSize, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(0.5),
            1, 2, errors, details, [], stall)
        {
            TxFetchedBytes = 4096L * BufferSize,
            StallCause = cause,
        };

    [Test]
    public void The_summary_has_every_line_in_order_with_the_cpu_cost_and_each_listed_error()
    {
        StreamError[] details =
        [
            Error(StreamErrorKind.Corrupted, 17, 17, 17, badWord: 5),
            Error(StreamErrorKind.Lost, 40, 40, 42),
            Error(StreamErrorKind.Lost, 90, 90, 93),
        ];
        var report = Report(details, 5, "no RX progress for 1.0 s (RX 2048, TX 4096)", "writer loop_status ran 3 buffers ahead of the interrupts");

        report.CpuCores.Should().Be(0.25, "0.5 s of CPU over 2 s of wall time");
        report.Summary().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            "mode                Loopback",
            "TX buffers filled   4096",
            "TX bytes fetched    32 MiB",
            "RX buffers verified 2048 (16 MiB)",
            "elapsed             2.000 s",
            "rate                0.07 Gb/s",
            "CPU                 0.500 s = 0.25 cores",
            "bad buffers         5 (1 corrupted, 2 lost; 3 of 5 listed)",
            "driver lost         writer 1, reader 2",
            "stall               no RX progress for 1.0 s (RX 2048, TX 4096)",
            "stall cause         writer loop_status ran 3 buffers ahead of the interrupts",
            $"  {details[0]}",
            $"  {details[1]}",
            $"  {details[2]}");
    }

    [Test]
    public void A_clean_stream_has_no_stall_cause_line_and_no_error_lines()
    {
        var lines = Report([], 0, null, null).Summary().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(10).And.Contain("stall               none").And.Contain("bad buffers         0");
        lines.Should().NotContain(l => l.StartsWith("stall cause", StringComparison.Ordinal));
    }

    [Test]
    public void No_wall_time_gives_no_cpu_rate_rather_than_infinity()
    {
        var report = Report([], 0, null, null) with { Elapsed = TimeSpan.Zero };
        report.CpuCores.Should().Be(0);
        report.Gbps.Should().Be(0);
    }

    [Test]
    public void Error_kinds_are_listed_once_each_in_the_fixed_order_lost_duplicated_reordered_corrupted_stale()
    {
        var report = Report(
            [Error(StreamErrorKind.Stale, 3, 3, 1L << 40), Error(StreamErrorKind.Corrupted, 4, 4, 4, 0), Error(StreamErrorKind.Lost, 5, 5, 7),
             Error(StreamErrorKind.Corrupted, 6, 6, 6, 1), Error(StreamErrorKind.Duplicated, 8, 8, 7)],
            5, null, null);
        report.ErrorKinds.Should().Be("lost and duplicated and corrupted and stale");
        report.ShownOfTotal.Should().Be("1 stale, 2 corrupted, 1 lost, 1 duplicated; 5 of 5 listed", "kinds in the order first seen, with counts");
    }

    [Test]
    public void Errors_counted_but_none_listed_are_called_bad()
    {
        // StreamOptions.MaxErrorDetails = 0 keeps no details; the verdict still needs a word for them.
        Report([], 12, null, null).ErrorKinds.Should().Be("bad");
    }
}
