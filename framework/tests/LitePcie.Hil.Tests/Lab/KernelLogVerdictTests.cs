using FluentAssertions;
using LitePcie.Hil.Lab;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>The guest kernel's verdict: every BUG/WARNING/taint fails except what is named and tolerated.</summary>
[TestFixture]
public sealed class KernelLogVerdictTests
{
    private const string Probe = """
        [    2.222599] litepcie: loading out-of-tree module taints kernel.
        [    2.222864] litepcie: module verification failed: signature and/or required key missing - tainting kernel
        [    2.224499] litepcie 0000:01:00.0: [Probing device]
        [    2.252962] litepcie 0000:01:00.0: 1 MSI IRQs allocated.
        """;

    private const string BadPageMap = """
        [   58.275000] BUG: Bad page map in process litepcie_util  pte:8000000103c00225 pmd:10398f067
        [   58.275100] addr:00007f30a2bca000 vm_flags:000000fb anon_vma:0000000000000000 mapping:ffff8880034f5d00 index:0
        [   58.275150] file:litepcie0 fault:0x0 mmap:litepcie_mmap [litepcie] read_folio:0x0
        [   58.275198]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
        """;

    private const ulong OE = (1UL << 12) | (1UL << 13);
    private const ulong B = 1UL << 5;

    [Test]
    public void AProbeAlone_IsClean_WithTheOutOfTreeModulesTaint()
    {
        var v = KernelLogVerdict.Evaluate(Probe, OE, []);
        v.Clean.Should().BeTrue();
        KernelLogVerdict.Letters(OE).Should().Be("O E");
    }

    [Test]
    public void TheUpstreamZeroCopyDefect_IsToleratedByNameWhenAsked()
    {
        var v = KernelLogVerdict.Evaluate(Probe + BadPageMap + BadPageMap, OE | B, [KnownKernelIssue.LitePcieZeroCopyBadPageMap]);
        v.Clean.Should().BeTrue("the only problem is the named known issue, which explains the B taint");
        v.KnownIssues.Should().ContainSingle().Which.Lines.Should().Be(2);
        v.KnownIssues[0].Issue.Origin.Should().Contain("c52a6fe");
    }

    /// <summary>Seen in the guest once our streamer and the suites unmapped the rings many times: the kernel's rate limit.</summary>
    [Test]
    public void TheDefectsRateLimitedSummaryLine_IsPartOfTheKnownIssue()
    {
        string suppressed = "[  146.650635] BUG: Bad page map: 964 messages suppressed\n";
        var v = KernelLogVerdict.Evaluate(Probe + BadPageMap + suppressed, OE | B, [KnownKernelIssue.LitePcieZeroCopyBadPageMap]);
        v.Clean.Should().BeTrue("the rate limit's summary line is the same defect");
        v.KnownIssues.Should().ContainSingle().Which.Lines.Should().Be(2);
    }

    [Test]
    public void TheSameDefect_FailsThePatchedDriver()
    {
        var v = KernelLogVerdict.Evaluate(Probe + BadPageMap, OE | B, []);
        v.Clean.Should().BeFalse();
        v.Unexplained.Should().ContainSingle().Which.Kind.Should().Be("BUG");
        v.UnexplainedTaint.Should().Be(B);
    }

    [Test]
    public void AnythingElse_FailsEvenBesideAToleratedIssue()
    {
        string warning = "[   60.1] WARNING: CPU: 0 PID: 1 at mm/memory.c:1234 zap_pte_range+0x1\n";
        var v = KernelLogVerdict.Evaluate(Probe + BadPageMap + warning, OE | B | (1UL << 9), [KnownKernelIssue.LitePcieZeroCopyBadPageMap]);
        v.Clean.Should().BeFalse();
        v.Unexplained.Select(f => f.Kind).Should().Equal("WARNING");
        KernelLogVerdict.Letters(v.UnexplainedTaint).Should().Be("W");
    }

    [Test]
    public void ATaintWithoutALogLine_Fails()
    {
        KernelLogVerdict.Evaluate(Probe, OE | B, [KnownKernelIssue.LitePcieZeroCopyBadPageMap]).Clean
            .Should().BeFalse("a tolerated issue explains its taint only when its lines are in the log");
    }

    [Test]
    public void TaintText_IsParsedOrRefusedByName()
    {
        KernelLogVerdict.ParseTaint("12320\n").Should().Be(12320UL);
        ((Action)(() => KernelLogVerdict.ParseTaint("x"))).Should().Throw<FormatException>().WithMessage("*accepted a decimal number*");
    }
}
