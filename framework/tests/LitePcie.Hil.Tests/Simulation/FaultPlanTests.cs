using FluentAssertions;
using LitePcie.Hil.Simulation.Faults;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Simulation;

/// <summary>The fault string <c>name[=value];…</c>.</summary>
[TestFixture]
public sealed class FaultPlanTests
{
    [Test]
    public void Empty_or_blank_is_no_fault()
    {
        FaultPlan.Parse(null).IsEmpty.Should().BeTrue();
        FaultPlan.Parse("  ; ").IsEmpty.Should().BeTrue();
    }

    [Test]
    public void Values_percentages_flags_and_seed_parse()
    {
        var plan = FaultPlan.Parse("dma-bitflip=0.01; msi-drop=5%; bar-alias; dma-stall=1000; seed=42");
        plan.Value(FaultKind.DmaBitflip).Should().Be(0.01);
        plan.Value(FaultKind.MsiDrop).Should().BeApproximately(0.05, 1e-12);
        plan.Has(FaultKind.BarAlias).Should().BeTrue();
        plan.Value(FaultKind.DmaStall).Should().Be(1000);
        plan.Seed.Should().Be(42);
        FaultPlan.Parse(plan.ToString()).ToString().Should().Be(plan.ToString(), "the canonical form round-trips");
    }

    [Test]
    public void Every_catalogued_fault_parses_with_its_default_value_written_out()
    {
        foreach (var d in FaultPlan.Catalog)
        {
            string entry = d.ValueKind == FaultValueKind.None ? d.Name : $"{d.Name}={d.DefaultValue.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            FaultPlan.Parse(entry).Has(d.Kind).Should().BeTrue(entry);
        }

        FaultPlan.Catalog.Select(d => d.Name).Should().Contain(
        [
            "msi-drop", "msi-spurious", "dma-bitflip", "dma-drop-buffer", "dma-duplicate-buffer", "dma-stall",
            "scratch-stuck-bit", "bar-alias", "link-degrade", "wrong-ident", "wake-state-loss", "wake-no-return",
            "attach-fail", "attach-leak", "surprise-removal",
        ]);
    }

    [TestCase("dma-bitfip=0.1", "unknown fault 'dma-bitfip'")]
    [TestCase("dma-bitflip=2", "dma-bitflip accepts a probability 0..1")]
    [TestCase("scratch-stuck-bit=32", "scratch-stuck-bit accepts a bit number 0..31")]
    [TestCase("link-degrade=3", "link-degrade accepts a link width 1, 2, 4, 8 or 16")]
    [TestCase("dma-stall=1.5", "dma-stall accepts an integer")]
    [TestCase("bar-alias=1", "bar-alias takes no value")]
    [TestCase("msi-drop=0.1;msi-drop=0.2", "msi-drop given twice")]
    [TestCase("seed=x", "seed needs an integer value")]
    [TestCase("dma-bitflip", "dma-bitflip needs a value: a probability 0..1 or a percentage (e.g. 0.01 or 1%) (e.g. dma-bitflip=0.01)")]
    [TestCase("dma-stall=", "dma-stall needs a value: an integer")]
    public void Bad_entries_are_named_and_valid_faults_listed(string spec, string problem)
    {
        var e = FluentActions.Invoking(() => FaultPlan.Parse(spec)).Should().Throw<FaultPlanException>().Which;
        e.Message.Should().Contain(problem).And.Contain("valid faults: msi-drop=<probability>");
    }

    [Test]
    public void Commas_separate_entries_like_semicolons()
    {
        FaultPlan.Parse("dma-bitflip=0.01,bar-alias,seed=7").ToString().Should().Be(FaultPlan.Parse("dma-bitflip=0.01;bar-alias;seed=7").ToString(),
            "',' survives dotnet test's command line, where ';' becomes a space");
    }

    [Test]
    public void All_errors_are_reported_together()
    {
        var e = FluentActions.Invoking(() => FaultPlan.Parse("nope;dma-bitflip=-1;wrong-ident")).Should().Throw<FaultPlanException>().Which;
        e.Message.Should().Contain("unknown fault 'nope'").And.Contain("dma-bitflip accepts");
    }

    [Test]
    public void Random_draws_are_deterministic_under_a_seed_and_independent_per_fault()
    {
        var a = FaultPlan.Parse("dma-bitflip=0.01;seed=7");
        var b = FaultPlan.Parse("dma-bitflip=0.01;msi-drop=0.05;seed=7");
        var ra = a.CreateRandom(FaultKind.DmaBitflip);
        var rb = b.CreateRandom(FaultKind.DmaBitflip);
        Enumerable.Range(0, 10).Select(_ => ra.Next()).Should().Equal(Enumerable.Range(0, 10).Select(_ => rb.Next()),
            "adding another fault does not change this fault's draws");
        FaultPlan.Parse("seed=8").CreateRandom(FaultKind.DmaBitflip).Next().Should().NotBe(a.CreateRandom(FaultKind.DmaBitflip).Next());
    }
}
