using FluentAssertions;
using LitePcie.Hil.Qualification;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Qualification;

/// <summary>The detach mix: weights, a reproducible interleaved order, named errors.</summary>
[TestFixture]
public sealed class DetachMixTests
{
    [Test]
    public void Every_period_has_the_weighted_mix_in_a_fixed_interleaved_order()
    {
        var mix = DetachMix.Parse("idle=2,dma=1,open=0", []);
        mix.Period.Should().Be(3);
        Enumerable.Range(1, 6).Select(mix.StateOf).Should().Equal("idle", "dma", "idle", "idle", "dma", "idle");
        mix.ToString().Should().Be("idle=2,dma=1");
        Enumerable.Range(1, 3).Select(DetachMix.Default.StateOf).Should().Equal("idle", "open", "dma");
    }

    [Test]
    public void Bad_entries_name_the_entry_and_the_accepted_form()
    {
        var errors = new List<string>();
        DetachMix.Parse("idle=1,sleeping=2,dma=x,idle=3", errors);
        errors.Should().BeEquivalentTo(
            "DetachMix entry 'sleeping=2': accepted idle, open or dma, each with an optional =weight in 0..1000, comma-separated",
            "DetachMix entry 'dma=x': accepted idle, open or dma, each with an optional =weight in 0..1000, comma-separated",
            "DetachMix: 'idle' given twice");
        DetachMix.Parse("idle=0", errors = []);
        errors.Should().ContainSingle().Which.Should().Contain("at least one of idle, open, dma needs a weight above 0");
    }
}
