using LitePcie.Hil.Lab;
using NUnit.Framework;

namespace LitePcie.Hil.GuestTests;

/// <summary>
/// The guest kernel after everything else ran: every BUG:, WARNING:, Oops and taint fails, except the taint of
/// loading litepcie.ko built out of tree and, with the upstream driver only, the known upstream zero-copy defect
/// (reported by name with its commit). The patched driver must leave the kernel entirely clean.
/// </summary>
[TestFixture]
[Category("KernelLog")]
public sealed class KernelLogTests
{
    [SetUp]
    public void RequireGuest() => Guest.Require();

    [Test]
    public void KernelLog_HasNoBugWarningOrTaint()
    {
        var dmesg = Guest.Run("dmesg", "", TimeSpan.FromSeconds(30));
        ulong taint = KernelLogVerdict.ParseTaint(File.ReadAllText("/proc/sys/kernel/tainted"));
        KnownKernelIssue[] tolerated = Guest.Driver == "upstream" ? [KnownKernelIssue.LitePcieZeroCopyBadPageMap] : [];
        var verdict = KernelLogVerdict.Evaluate(dmesg.Output, taint, tolerated);
        Guest.Step($"driver {Guest.Driver}; taint {taint} ({KernelLogVerdict.Letters(taint)}); {verdict.Findings.Count} problem lines");
        string? outDir = Environment.GetEnvironmentVariable("LITEPCIE_GUEST_OUT");
        foreach (var (issue, lines) in verdict.KnownIssues)
        {
            Guest.Step($"known issue {issue.Id}: {lines} line(s) — {issue.Title}; {issue.Origin}");
            if (outDir is not null)
            {
                File.AppendAllText(Path.Combine(outDir, "known-issues.tsv"), $"{issue.Id}\t{lines}\t{issue.Title}\t{issue.Origin}\n");
            }
        }

        verdict.Unexplained.Select(f => f.Line).Should().BeEmpty(
            $"the kernel log of the {Guest.Driver} driver run has no BUG:/WARNING:/Oops/panic lines{(tolerated.Length > 0 ? $" other than the known issue {tolerated[0].Id}" : "")}");
        verdict.UnexplainedTaint.Should().Be(0UL,
            $"the kernel is not tainted beyond O/E (an out-of-tree, unsigned litepcie.ko){(tolerated.Length > 0 ? " and the known issue's B" : "")}: tainted = {taint} ({KernelLogVerdict.Letters(taint)})");
    }
}
