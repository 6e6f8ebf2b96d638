using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Qualification;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Qualification;

/// <summary>
/// Which rule judges a resource when several match, the limit grammar's separators and signs, and the thinning that
/// bounds the pairwise fit of a long soak: the sample at the end of the run, where a late leak shows, is always kept.
/// </summary>
[TestFixture]
public sealed class LeakRuleTests
{
    [Test]
    public void An_exact_name_wins_over_a_prefix_of_the_same_length_whatever_their_order()
    {
        // "driver.live*" is 12 characters like "driver.live_" would be; the name is what the user pinned down.
        LeakLimits.Parse("driver.live_*=5;driver.live_x=1", []).LimitFor("driver.live_x").Should().Be(1);
        LeakLimits.Parse("driver.live_x=1;driver.live_*=5", []).LimitFor("driver.live_x").Should().Be(1);
        LeakLimits.Parse("driver.live_x=1;driver.live_*=5", []).LimitFor("driver.live_y").Should().Be(5);
    }

    [Test]
    public void A_pattern_given_twice_is_refused_and_the_first_limit_stays()
    {
        var errors = new List<string>();
        var limits = LeakLimits.Parse("process.threads=0.05;process.threads=5", errors, "--leak-limit");
        errors.Should().ContainSingle().Which.Should().Be(
            "--leak-limit entry 'process.threads=5': 'process.threads' already has a limit; give each resource or prefix once");
        limits.Rules.Should().Equal(("process.threads", 0.05, 0.0));
    }

    [Test]
    public void Empty_entries_and_spaces_around_separators_are_not_rules()
    {
        // What a shell variable joined with ';' tends to look like.
        var errors = new List<string>();
        var limits = LeakLimits.Parse(" driver.*=0.01 ;; ,process.threads = 0.05 ;", errors);
        errors.Should().BeEmpty();
        limits.Rules.Should().Equal(("driver.*", 0.01, 0.0), ("process.threads", 0.05, 0.0));
    }

    [TestCase("x=+5")]
    [TestCase("x=+5+1")]
    public void A_band_without_a_limit_is_refused(string entry)
    {
        // A leading '+' is the band separator with nothing before it, not the sign of the limit.
        var errors = new List<string>();
        LeakLimits.Parse(entry, errors).Rules.Should().BeEmpty();
        errors.Should().ContainSingle().Which.Should().StartWith($"LeakMaxSlope entry '{entry}': accepted resource=limit");
    }

    [Test]
    public void Thinning_keeps_the_first_and_the_last_sample_and_spaces_the_rest_evenly()
    {
        Prop.ForAll(Gen.Choose(LeakTrend.MaxPoints + 1, 5000).ToArbitrary(), n =>
        {
            var points = Enumerable.Range(0, n).Select(i => ((long)i, (double)i)).ToList();
            var kept = LeakTrend.Thin(points);
            var gaps = kept.Zip(kept.Skip(1), (a, b) => b.Cycle - a.Cycle).ToList();
            double step = (n - 1) / (double)(LeakTrend.MaxPoints - 1);
            return (kept.Count == LeakTrend.MaxPoints).Label($"{n} samples thinned to {kept.Count}, expected {LeakTrend.MaxPoints}")
                .And(kept[0].Cycle == 0).Label($"first kept cycle {kept[0].Cycle}, expected 0")
                .And(kept[^1].Cycle == n - 1).Label($"last kept cycle {kept[^1].Cycle}, expected {n - 1}")
                .And(gaps.All(g => g >= Math.Floor(step) && g <= Math.Ceiling(step)))
                .Label($"gaps {gaps.Min()}..{gaps.Max()} cycles, expected {step:0.###} ± 1");
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void Up_to_max_points_nothing_is_thinned()
    {
        var points = Enumerable.Range(0, LeakTrend.MaxPoints).Select(i => ((long)(i * 7), (double)i)).ToList();
        LeakTrend.Thin(points).Should().Equal(points);
    }
}
