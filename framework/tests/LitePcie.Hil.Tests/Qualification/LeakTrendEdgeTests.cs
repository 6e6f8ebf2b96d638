using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Qualification;

/// <summary>
/// Edges of the leak verdict that mutation testing showed unguarded (docs/mutation.md): two samples, samples of one
/// cycle, even and odd medians, a zero-length run, and the limit grammar's corners.
/// </summary>
[TestFixture]
public sealed class LeakTrendEdgeTests
{
    [Test]
    public void Two_samples_are_enough_for_a_slope()
    {
        var fit = LeakTrend.Fit("driver.live_dma_buffers", ResourceUnit.Count, [(100L, 10.0), (110L, 30.0)]);
        fit.Slope.Should().Be(2, "20 objects over 10 cycles");
        fit.LeastSquaresSlope.Should().Be(2);
        fit.Should().Match<TrendFit>(f => f.Samples == 2 && f.First == 10 && f.Last == 30 && f.SampledCycles == 10);
    }

    [Test]
    public void No_sample_gives_zero_values()
    {
        LeakTrend.Fit("r", ResourceUnit.Bytes, []).Should().Match<TrendFit>(f =>
            f.Samples == 0 && f.First == 0 && f.Last == 0 && f.LeastSquaresSlope == 0 && f.SampledCycles == 0);
    }

    [Test]
    public void Samples_of_the_same_cycle_carry_no_slope_of_their_own()
    {
        // Two samples at cycle 100 (a journal resume re-sampling a cycle): their pair has no run, it must not divide by zero.
        var fit = LeakTrend.Fit("process.handles", ResourceUnit.Count, [(100L, 5.0), (100L, 9.0), (110L, 15.0)]);
        fit.Slope.Should().Be(0.8, "the median of the two defined slopes, (15-9)/10 = 0.6 and (15-5)/10 = 1.0");
        double.IsFinite(fit.LeastSquaresSlope).Should().BeTrue();
        LeakTrend.Fit("r", ResourceUnit.Count, [(7L, 1.0), (7L, 2.0)]).Slope.Should().Be(0, "no pair spans a cycle");
        LeakTrend.LeastSquares([(7L, 1.0), (7L, 2.0)]).Should().Be(0, "no spread in cycles, no slope");
    }

    [Test]
    public void The_median_of_an_odd_count_is_the_middle_and_of_an_even_count_the_mean_of_the_two_middles()
    {
        LeakTrend.Median([5, 1, 3]).Should().Be(3);
        LeakTrend.Median([4, 1, 3, 2]).Should().Be(2.5);
        LeakTrend.Median([7]).Should().Be(7);
        LeakTrend.Median([]).Should().Be(0);
    }

    [Test]
    public void The_median_is_robust_to_a_minority_of_outliers()
    {
        Prop.ForAll(Gen.Choose(1, 50).ToArbitrary(), Gen.Choose(-1000, 1000).ToArbitrary(), (n, v) =>
        {
            // n + 1 equal values and n wild ones (an odd count: the median is one of the equal values).
            var values = Enumerable.Repeat((double)v, n + 1).Concat(Enumerable.Range(0, n).Select(i => i % 2 == 0 ? 1e12 : -1e12)).ToList();
            return LeakTrend.Median(values) == v;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void Thinning_keeps_the_first_and_the_last_sample()
    {
        // 1,000 samples flat except the last step: thinning must keep the end, or the ramp at the end is lost.
        var points = Enumerable.Range(0, 1000).Select(i => ((long)i, i < 999 ? 0.0 : 1e6)).ToList();
        var fit = LeakTrend.Fit("r", ResourceUnit.Bytes, points);
        fit.Samples.Should().Be(1000, "the sample count is what was measured, not what the fit kept");
        fit.Last.Should().Be(1e6);
        fit.SampledCycles.Should().Be(999);
        fit.LeastSquaresSlope.Should().BeGreaterThan(0, "least squares sees every point");
    }

    [Test]
    public void Thinning_a_long_ramp_keeps_its_rate_exactly()
    {
        Prop.ForAll(Gen.Choose(LeakTrend.MaxPoints + 1, 3000).ToArbitrary(), Gen.Choose(1, 500).ToArbitrary(), (n, slope) =>
        {
            var points = Enumerable.Range(0, n).Select(i => ((long)(i * 3), 100.0 + slope * i * 3)).ToList();
            return Math.Abs(LeakTrend.Fit("r", ResourceUnit.Bytes, points).Slope - slope) < 1e-9;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void The_verdict_line_says_objects_for_counts()
    {
        LeakTrend.Fit("driver.live_instances", ResourceUnit.Count, [(0L, 1.0), (10L, 11.0)]).Describe()
            .Should().Be("driver.live_instances: 1 objects/cycle (least squares 1; 1 → 11 over 2 samples)");
    }

    [Test]
    public void A_zero_limit_and_comma_separated_rules_are_accepted()
    {
        var errors = new List<string>();
        var limits = LeakLimits.Parse("driver.*=0, process.threads=0.05", errors);
        errors.Should().BeEmpty();
        limits.LimitFor("driver.live_dma_buffers").Should().Be(0, "no growth at all is allowed");
        limits.LimitFor("process.threads").Should().Be(0.05);
        limits.Rules.Should().Equal(("driver.*", 0.0, 0.0), ("process.threads", 0.05, 0.0));
    }

    [TestCase("a=Infinity")]
    [TestCase("a=NaN")]
    [TestCase("a=1+Infinity")]
    [TestCase("a=1+-0.5")]
    [TestCase("a")]
    [TestCase("*a=1")]
    public void A_limit_that_is_not_a_finite_non_negative_number_in_the_accepted_form_is_refused(string entry)
    {
        var errors = new List<string>();
        LeakLimits.Parse(entry, errors, "--leak-limit").Rules.Should().BeEmpty();
        errors.Should().ContainSingle().Which.Should().StartWith($"--leak-limit entry '{entry}': accepted resource=limit");
    }

    [Test]
    public void An_upper_case_exponent_sign_is_not_the_band_separator()
    {
        var errors = new List<string>();
        LeakLimits.Parse("x=1.6E+1+2E+2", errors).Rules.Should().Equal(("x", 16.0, 200.0));
        errors.Should().BeEmpty();
    }

    [Test]
    public void A_prefix_matches_by_its_start_and_an_exact_name_only_itself()
    {
        var limits = LeakLimits.Parse("driver.*=1;driver.live=2;bus.dma_allocations=3", []);
        limits.LimitFor("driver.live").Should().Be(2);
        limits.LimitFor("driver.live_x").Should().Be(1, "driver.live is a name, not a prefix");
        limits.LimitFor("xdriver.live").Should().BeNull("a prefix matches from the start");
        limits.LimitFor("bus.dma_allocations_x").Should().BeNull();
        limits.LimitFor("driver.").Should().Be(1);
    }

    [Test]
    public void A_longer_prefix_wins_over_a_shorter_one_whatever_their_order()
    {
        LeakLimits.Parse("driver.live*=2;driver.*=1", []).LimitFor("driver.live_dma_bytes").Should().Be(2);
        LeakLimits.Parse("driver.*=1;driver.live*=2", []).LimitFor("driver.live_dma_bytes").Should().Be(2);
    }

    [Test]
    public void A_band_over_no_sampled_cycle_counts_whole()
    {
        var limits = LeakLimits.Parse("process.managed_bytes=16+4096", []);
        limits.LimitFor("process.managed_bytes", 0).Should().Be(16 + 4096, "a run with no sampled span judges with the whole band, never infinity");
        limits.LimitFor("process.managed_bytes", 0.5).Should().Be(16 + 4096, "fewer than one cycle counts as one");
        limits.LimitFor("process.managed_bytes", 2).Should().Be(16 + 2048);
        limits.LimitFor("nothing", 2).Should().BeNull();
    }
}
