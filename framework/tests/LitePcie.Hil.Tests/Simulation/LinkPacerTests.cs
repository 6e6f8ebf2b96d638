using FluentAssertions;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Simulation;

/// <summary>The paced link: payload rate from the link, credit over time, burst, lag bound, retarget, both directions.</summary>
[TestFixture]
public sealed class LinkPacerTests
{
    /// <summary>A clock the test moves: timestamps in microseconds.</summary>
    private sealed class TickClock : TimeProvider
    {
        public long Ticks { get; set; }

        public override long TimestampFrequency => 1_000_000;

        public override long GetTimestamp() => Ticks;

        public void AdvanceMicroseconds(long us) => Ticks += us;
    }

    private const double Rate = 1e9; // 1 GB/s: 1,000 bytes per microsecond

    [Test]
    public void Payload_rate_follows_generation_width_and_payload_size()
    {
        // Gen2 x4: 5 GT/s × 4 × 8b/10b / 8 = 2 GB/s of link bytes; MPS 128 → 128/152 of it is payload.
        new LinkModel(PciLinkSpeed.Gen2, 4, 128, 512).PayloadBytesPerSecond.Should().BeApproximately(2e9 * 128 / 152, 1, "Gen2 x4, MPS 128");
        // Gen3 uses 128b/130b.
        new LinkModel(PciLinkSpeed.Gen3, 8, 256, 512).PayloadBytesPerSecond.Should().BeApproximately(8e9 * 8 * 128 / 130 / 8 * 256 / 280, 1, "Gen3 x8, MPS 256");
    }

    [Test]
    public void Credit_accrues_at_the_rate_with_a_burst_allowance()
    {
        var clock = new TickClock();
        var pacer = new LinkPacer(Rate, clock, burstBytes: 8192, maxLagSeconds: 0.02);
        pacer.TryConsume(8192, out _).Should().BeTrue("the burst allowance covers one buffer at time zero");
        pacer.TryConsume(8192, out var wait).Should().BeFalse("no time has passed since the burst");
        wait.Should().Be(TimeSpan.FromMicroseconds(8.192), "8192 bytes at 1 GB/s");

        clock.AdvanceMicroseconds(9);
        pacer.TryConsume(8192, out _).Should().BeTrue("9 µs at 1 GB/s allow 9000 bytes");

        long moved = 2 * 8192;
        for (int us = 0; us < 10_000; us++)
        {
            clock.AdvanceMicroseconds(1);
            while (pacer.TryConsume(8192, out _))
            {
                moved += 8192;
            }
        }

        double seconds = clock.Ticks / 1e6;
        (moved / seconds).Should().BeApproximately(Rate, Rate * 0.01, "over 10 ms the engine moves the paced rate (plus at most the burst)");
    }

    [Test]
    public void Unused_time_is_kept_up_to_the_lag_bound_and_forfeited_beyond()
    {
        var clock = new TickClock();
        var pacer = new LinkPacer(Rate, clock, burstBytes: 0, maxLagSeconds: 0.001);
        clock.AdvanceMicroseconds(500);
        int caughtUp = 0;
        while (pacer.TryConsume(1000, out _))
        {
            caughtUp++;
        }

        caughtUp.Should().Be(500, "half a millisecond of unused link time is within the 1 ms bound and is caught up");

        clock.AdvanceMicroseconds(10_000);
        int afterLongStall = 0;
        while (pacer.TryConsume(1000, out _))
        {
            afterLongStall++;
        }

        afterLongStall.Should().Be(1000, "after 10 ms idle only the 1 ms lag bound is caught up; the rest is forfeited");
    }

    [Test]
    public void Retarget_restarts_the_accounting_at_the_new_rate()
    {
        var clock = new TickClock();
        var pacer = new LinkPacer(Rate, clock, burstBytes: 0);
        clock.AdvanceMicroseconds(100);
        pacer.Retarget(Rate / 2);
        pacer.BytesPerSecond.Should().Be(Rate / 2);
        pacer.TryConsume(1, out _).Should().BeFalse("credit earned at the old rate is not carried over");
        clock.AdvanceMicroseconds(100);
        pacer.TryConsume(50_000, out _).Should().BeTrue("100 µs at 0.5 GB/s");
        pacer.TryConsume(1000, out _).Should().BeFalse();
        FluentActions.Invoking(() => pacer.Retarget(0)).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Test]
    public void A_loopback_buffer_takes_credit_from_both_directions_or_from_neither()
    {
        var clock = new TickClock();
        var reader = new LinkPacer(Rate, clock, burstBytes: 0);
        var writer = new LinkPacer(Rate / 2, clock, burstBytes: 0);
        clock.AdvanceMicroseconds(10);
        LinkPacer.TryConsumeBoth(reader, writer, 8000).Should().BeFalse("the writer direction has 5000 bytes of credit");
        reader.TryConsume(10_000, out _).Should().BeTrue("the refused transfer took nothing from the reader");
        clock.AdvanceMicroseconds(10);
        LinkPacer.TryConsumeBoth(reader, writer, 8000).Should().BeTrue("both directions have 10,000 bytes of credit now");
        writer.TryConsume(3000, out _).Should().BeFalse("the writer's credit was taken by the loopback buffer");
    }
}
