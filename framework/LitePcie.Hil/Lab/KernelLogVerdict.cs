using System.Globalization;
using System.Text.RegularExpressions;

namespace LitePcie.Hil.Lab;

/// <summary>
/// A kernel defect we know of and tolerate by name: the lines it logs, the taint it sets, where it comes from.
/// A tolerated known issue never hides anything else: every other finding still fails the verdict.
/// </summary>
/// <param name="Id">Short stable name (used in reports and in the guest's known-issues file).</param>
/// <param name="Title">What happens, in one line.</param>
/// <param name="Origin">Where it comes from (upstream project and commit).</param>
/// <param name="Line">Matches each kernel log line the defect produces.</param>
/// <param name="TaintMask">Taint bits the defect sets.</param>
public sealed record KnownKernelIssue(string Id, string Title, string Origin, Regex Line, ulong TaintMask)
{
    /// <summary>
    /// Upstream litepcie since commit c52a6fe: the zero-copy mmap maps each DMA buffer through a stack copy of
    /// the VMA, so the VMA itself lacks VM_PFNMAP and every unmap logs "BUG: Bad page map" and taints the kernel
    /// (B). Our patch lab/linux-guest/patches/0001-mmap-give-the-vma-the-pfnmap-flags.patch fixes it.
    /// </summary>
    public static KnownKernelIssue LitePcieZeroCopyBadPageMap { get; } = new(
        "litepcie-c52a6fe-bad-page-map",
        "litepcie zero-copy mmap: every unmap of the DMA rings logs 'BUG: Bad page map' and taints the kernel (B)",
        "upstream litepcie commit c52a6fe (2026-05-18): litepcie_mmap() maps buffers through a copy of the VMA without VM_PFNMAP",
        new Regex(@"BUG: Bad page map in process|BUG: Bad page map: \d+ messages suppressed|BUG: Bad rss-counter state", RegexOptions.CultureInvariant),
        1UL << 5);
}

/// <summary>One line of the kernel log that reports a kernel problem.</summary>
public sealed record KernelLogFinding(string Kind, string Line, KnownKernelIssue? Known);

/// <summary>
/// The verdict on a guest's kernel log and taint: every BUG:, WARNING:, Oops, panic and every taint flag fails
/// it, except (1) the taint of loading an out-of-tree, unsigned module (O, E: what loading litepcie.ko from
/// source is) and (2) the known issues the caller tolerates, which are reported by name with their counts.
/// </summary>
public sealed class KernelLogVerdict
{
    /// <summary>Taint letters by bit (kernel's Documentation/admin-guide/tainted-kernels.rst).</summary>
    public const string TaintLetters = "PFSRMBUDAWCIOELKXTN";

    /// <summary>Taint that loading litepcie.ko built out of tree and unsigned sets: O (12) and E (13).</summary>
    public const ulong OutOfTreeModuleTaint = (1UL << 12) | (1UL << 13);

    private static readonly Regex s_problem = new(
        @"(?<kind>BUG:|WARNING:|Oops|Kernel panic|kernel BUG at|general protection fault|UBSAN:|KASAN:|Unable to handle kernel)",
        RegexOptions.CultureInvariant);

    private KernelLogVerdict(IReadOnlyList<KernelLogFinding> findings, ulong taint, ulong unexplainedTaint)
    {
        Findings = findings;
        Taint = taint;
        UnexplainedTaint = unexplainedTaint;
    }

    /// <summary>Every problem line, known or not.</summary>
    public IReadOnlyList<KernelLogFinding> Findings { get; }

    /// <summary>Problem lines no tolerated known issue explains.</summary>
    public IReadOnlyList<KernelLogFinding> Unexplained => Findings.Where(f => f.Known is null).ToArray();

    /// <summary>Tolerated known issues seen, with how many lines each logged.</summary>
    public IReadOnlyList<(KnownKernelIssue Issue, int Lines)> KnownIssues =>
        Findings.Where(f => f.Known is not null).GroupBy(f => f.Known!).Select(g => (g.Key, g.Count())).ToArray();

    /// <summary>/proc/sys/kernel/tainted.</summary>
    public ulong Taint { get; }

    /// <summary>Taint bits neither the out-of-tree module nor a tolerated known issue seen in the log explains.</summary>
    public ulong UnexplainedTaint { get; }

    /// <summary>Whether the kernel is clean apart from the module's own taint and the tolerated known issues.</summary>
    public bool Clean => Unexplained.Count == 0 && UnexplainedTaint == 0;

    /// <summary>Judges a kernel log and the taint value with the given known issues tolerated.</summary>
    public static KernelLogVerdict Evaluate(string kernelLog, ulong taint, IEnumerable<KnownKernelIssue> tolerated)
    {
        var known = tolerated.ToArray();
        var findings = new List<KernelLogFinding>();
        foreach (string raw in kernelLog.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            var m = s_problem.Match(line);
            if (!m.Success)
            {
                continue;
            }

            findings.Add(new KernelLogFinding(m.Groups["kind"].Value.TrimEnd(':'), line, known.FirstOrDefault(k => k.Line.IsMatch(line))));
        }

        ulong explained = OutOfTreeModuleTaint;
        foreach (var issue in findings.Where(f => f.Known is not null).Select(f => f.Known!).Distinct())
        {
            explained |= issue.TaintMask;
        }

        return new KernelLogVerdict(findings, taint, taint & ~explained);
    }

    /// <summary>Parses /proc/sys/kernel/tainted.</summary>
    public static ulong ParseTaint(string text) =>
        ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)
            ? v
            : throw new FormatException($"tainted = '{text.Trim()}': accepted a decimal number (/proc/sys/kernel/tainted)");

    /// <summary>The taint letters of a value, e.g. "B O E".</summary>
    public static string Letters(ulong taint)
    {
        var letters = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            if ((taint & (1UL << bit)) != 0)
            {
                letters.Add(bit < TaintLetters.Length ? TaintLetters[bit].ToString() : $"bit{bit}");
            }
        }

        return letters.Count == 0 ? "none" : string.Join(' ', letters);
    }
}
