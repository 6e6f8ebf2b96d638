using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Qualification;

/// <summary>The slope verdict: exact on a ramp, blind to offsets, robust to a spike, judged per resource.</summary>
[TestFixture]
public sealed class LeakTrendTests
{
    private static List<(long, double)> Ramp(int n, double start, double slope, long every = 10) =>
        [.. Enumerable.Range(0, n).Select(i => ((long)(50 + i * every), start + slope * (50 + i * every)))];

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property A_steady_ramp_gives_its_rate_whatever_the_offset() =>
        Prop.ForAll(Arb.From(Gen.Choose(-5000, 5000)), Arb.From(Gen.Choose(0, 1_000_000)), Arb.From(Gen.Choose(3, 120)), (slope, offset, n) =>
        {
            var fit = LeakTrend.Fit("r", ResourceUnit.Bytes, Ramp(n, offset, slope));
            return Math.Abs(fit.Slope - slope) < 1e-6 && Math.Abs(fit.LeastSquaresSlope - slope) < 1e-6;
        });

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property One_spike_does_not_move_the_verdict_slope() =>
        Prop.ForAll(Arb.From(Gen.Choose(10, 100)), Arb.From(Gen.Choose(0, 99)), (n, where) =>
        {
            var flat = Ramp(n, 1_000_000, 0);
            int i = where % n;
            flat[i] = (flat[i].Item1, flat[i].Item2 + 50_000_000); // a GC or a one-off cache fill
            return Math.Abs(LeakTrend.Fit("r", ResourceUnit.Bytes, flat).Slope) < 1e-9;
        });

    [Test]
    public void A_step_then_plateau_is_judged_by_its_slope_not_its_end_value()
    {
        // 10 MB appear once (a cache), then nothing: the end value is high, the growth rate over the run is small.
        var points = Enumerable.Range(0, 100).Select(i => ((long)(100 + i * 10), i < 5 ? 200e6 : 210e6)).ToList();
        var fit = LeakTrend.Fit("process.private_bytes", ResourceUnit.Bytes, points);
        fit.Slope.Should().Be(0, "after the step the values are flat; most pairs see no growth");
        fit.Last.Should().Be(210e6);
    }

    [Test]
    public void Fewer_than_two_samples_have_no_slope_and_many_are_thinned()
    {
        LeakTrend.Fit("r", ResourceUnit.Count, []).Slope.Should().Be(0);
        LeakTrend.Fit("r", ResourceUnit.Count, [(1L, 5.0)]).Should().Match<TrendFit>(f => f.Slope == 0 && f.First == 5 && f.Samples == 1);
        LeakTrend.Fit("r", ResourceUnit.Count, Ramp(5000, 0, 1, every: 1)).Slope.Should().Be(1, $"{LeakTrend.MaxPoints} evenly thinned points keep the rate");
    }

    [Test]
    public void Limits_take_the_longest_matching_pattern_and_report_bad_entries()
    {
        var errors = new List<string>();
        var limits = LeakLimits.Parse("driver.*=0.01;driver.live_dma_bytes=16;process.managed_bytes=1024", errors);
        errors.Should().BeEmpty();
        limits.LimitFor("driver.live_dma_buffers").Should().Be(0.01);
        limits.LimitFor("driver.live_dma_bytes").Should().Be(16, "the exact name is longer than the prefix");
        limits.LimitFor("process.threads").Should().BeNull("no rule: reported, not judged");

        LeakLimits.Parse("a=-1;b*c=2;=3;d=x", errors);
        errors.Should().HaveCount(4).And.AllSatisfy(e => e.Should().StartWith("LeakMaxSlope entry").And.Contain("limit ≥ 0 per cycle"));
        LeakLimits.Parse(LeakLimits.Default, errors = []).Rules.Should().NotBeEmpty();
        errors.Should().BeEmpty("the default rules parse");
    }

    [Test]
    public void A_noise_band_is_spread_over_the_cycles_sampled_so_long_runs_judge_tightly()
    {
        var errors = new List<string>();
        var limits = LeakLimits.Parse("process.managed_bytes=16+65536;driver.*=0.01", errors);
        errors.Should().BeEmpty();
        limits.LimitFor("process.managed_bytes", 900).Should().BeApproximately(16 + 65536.0 / 900, 1e-9, "a 1,000-cycle run sampled from cycle 100");
        limits.LimitFor("process.managed_bytes", 4900).Should().BeApproximately(16 + 65536.0 / 4900, 1e-9);
        limits.LimitFor("process.managed_bytes").Should().Be(16, "without a run length: the per-cycle limit alone");
        limits.LimitFor("driver.live_instances", 900).Should().Be(0.01, "no band: the limit whatever the length");
        LeakLimits.Parse("x=1+-5;y=+3;z=2+", errors);
        errors.Should().HaveCount(3);
        var exponents = LeakLimits.Parse("process.managed_bytes=1.6e+1+9.8304e+4", errors = []);
        errors.Should().BeEmpty("an exponent's sign is not the band separator");
        exponents.Rules.Should().ContainSingle().Which.Should().Be(("process.managed_bytes", 16.0, 98304.0));

        // A 100-byte-per-cycle leak over 4,900 cycles stands out; the same jitter band does not flag a clean short run.
        var leak = LeakTrend.Fit("process.managed_bytes", ResourceUnit.Bytes, Ramp(490, 6_000_000, 100));
        leak.SampledCycles.Should().Be(4890);
        leak.Slope.Should().BeGreaterThan(limits.LimitFor(leak.Resource, leak.SampledCycles)!.Value);
    }

    [Test]
    public void The_verdict_line_names_resource_rate_unit_and_samples()
    {
        LeakTrend.Fit("bus.dma_memory_bytes", ResourceUnit.Bytes, Ramp(20, 8_388_608, 4096)).Describe()
            .Should().StartWith("bus.dma_memory_bytes: 4096 bytes/cycle (least squares 4096; ").And.EndWith("over 20 samples)");
    }
}
