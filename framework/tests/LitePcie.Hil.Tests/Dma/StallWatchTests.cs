using FluentAssertions;
using LitePcie.Hil.Dma;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

[TestFixture]
public sealed class StallWatchTests
{
    [Test]
    public void On_an_idle_host_it_is_the_wall_clock_bound()
    {
        var time = new StepTime();
        var watch = new StallWatch(TimeSpan.FromMilliseconds(1000), TimeSpan.FromMilliseconds(200), time);
        int looks = 0;
        do
        {
            time.Advance(TimeSpan.FromMilliseconds(50)); // one wait period per look
            looks++;
        }
        while (!watch.Stalled());

        looks.Should().Be(21, "the 21st look is the first past 1,000 ms");
        watch.Discounted.Should().Be(TimeSpan.Zero);
        watch.Describe().Should().Be("1000 ms");
    }

    [Test]
    public void Time_the_watcher_was_not_running_does_not_count()
    {
        var time = new StepTime();
        var watch = new StallWatch(TimeSpan.FromMilliseconds(1000), TimeSpan.FromMilliseconds(200), time);
        time.Advance(TimeSpan.FromSeconds(3)); // descheduled for 3 s (a loaded host)
        watch.Stalled().Should().BeFalse("only 200 ms of the 3 s gap count");
        watch.Quiet.Should().Be(TimeSpan.FromMilliseconds(200));
        watch.Discounted.Should().Be(TimeSpan.FromMilliseconds(2800));
        for (int i = 0; i < 16; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            watch.Stalled().Should().BeFalse($"look {i}: {watch.Quiet.TotalMilliseconds} ms watched");
        }

        time.Advance(TimeSpan.FromMilliseconds(50));
        watch.Stalled().Should().BeTrue("200 + 17 × 50 ms = 1,050 ms watched without progress");
        watch.Describe().Should().Be("1000 ms watched (2.8 s more not counted: this process was not running)");
    }

    [Test]
    public void Progress_starts_the_quiet_time_again()
    {
        var time = new StepTime();
        var watch = new StallWatch(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), time);
        time.Advance(TimeSpan.FromMilliseconds(90));
        watch.Stalled().Should().BeFalse();
        watch.Progress();
        time.Advance(TimeSpan.FromMilliseconds(90));
        watch.Stalled().Should().BeFalse("90 ms since the progress");
        time.Advance(TimeSpan.FromMilliseconds(20));
        watch.Stalled().Should().BeTrue();
    }

    [Test]
    public void Bounds_must_be_positive()
    {
        FluentActions.Invoking(() => new StallWatch(TimeSpan.Zero, TimeSpan.FromMilliseconds(1))).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("bound");
        FluentActions.Invoking(() => new StallWatch(TimeSpan.FromSeconds(1), TimeSpan.Zero)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("maxGap");
    }

    /// <summary>A monotonic clock the test moves by hand.</summary>
    private sealed class StepTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
