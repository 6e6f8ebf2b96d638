using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Repository;

/// <summary>
/// Knowledge the code relies on lives in docs/ (docs/architecture.md, "Rules of the house"): no source file cites a
/// document outside the repository, and every docs page and anchor a file cites (docs/&lt;page&gt;.md#&lt;anchor&gt;) exists.
/// </summary>
[TestFixture]
public sealed partial class DocsReferenceTests
{
    private static readonly string[] SourceExtensions = [".cs", ".cpp", ".hpp", ".h", ".c", ".py", ".sh", ".iig", ".plist", ".txt", ".runsettings", ".md"];

    private static IEnumerable<string> SourceFiles()
    {
        string[] roots = ["framework", "fixtures", "suites", "dext", "lab", "reports", "runsettings", "docs", "rtl"];
        foreach (string root in roots.Select(r => Path.Combine(TestPaths.RepoRoot, r)).Where(Directory.Exists))
        {
            foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                string rel = Path.GetRelativePath(TestPaths.RepoRoot, file).Replace('\\', '/');
                if (rel.Contains("/bin/", StringComparison.Ordinal) || rel.Contains("/obj/", StringComparison.Ordinal)
                    || rel.Contains("node_modules", StringComparison.Ordinal) || rel.StartsWith("rtl/boards/", StringComparison.Ordinal)
                    || !SourceExtensions.Contains(Path.GetExtension(file)))
                {
                    continue;
                }

                yield return file;
            }
        }
    }

    [Test]
    public void No_file_cites_the_specification_documents_outside_the_repository()
    {
        var citations = SourceFiles()
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: f, Line: i + 1, Text: line)))
            .Where(l => OutsideSpec().IsMatch(l.Text))
            .Select(l => $"{Path.GetRelativePath(TestPaths.RepoRoot, l.File)}:{l.Line}: {l.Text.Trim()}")
            .ToList();

        citations.Should().BeEmpty("what the code relies on is written in docs/ (gateware.md, linux-driver.md, dext-design.md, checklist.md)");
    }

    [Test]
    public void Every_docs_anchor_a_file_cites_exists()
    {
        var anchors = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var broken = new List<string>();
        foreach (string file in SourceFiles())
        {
            string text = File.ReadAllText(file);
            foreach (Match m in DocsAnchor().Matches(text))
            {
                string page = Path.Combine(TestPaths.RepoRoot, "docs", m.Groups["page"].Value);
                if (!File.Exists(page))
                {
                    broken.Add($"{Path.GetRelativePath(TestPaths.RepoRoot, file)}: {m.Value} (no such page)");
                    continue;
                }

                if (!anchors.TryGetValue(page, out var set))
                {
                    set = AnchorsOf(File.ReadAllText(page));
                    anchors[page] = set;
                }

                if (!set.Contains(m.Groups["anchor"].Value))
                {
                    broken.Add($"{Path.GetRelativePath(TestPaths.RepoRoot, file)}: {m.Value} (no heading or id '{m.Groups["anchor"].Value}')");
                }
            }
        }

        broken.Should().BeEmpty("a comment that points into docs/ must land on a heading or an <a id> there");
    }

    /// <summary>GitHub's anchors: explicit <c>&lt;a id&gt;</c>s, and headings lower-cased, punctuation dropped, spaces to '-'.</summary>
    private static HashSet<string> AnchorsOf(string markdown)
    {
        var set = new HashSet<string>(ExplicitId().Matches(markdown).Select(m => m.Groups[1].Value), StringComparer.Ordinal);
        foreach (Match h in Heading().Matches(markdown))
        {
            string slug = new(h.Groups[1].Value.Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is '-' or '_' or ' ').ToArray());
            set.Add(slug.Replace(' ', '-'));
        }

        return set;
    }

    [GeneratedRegex(@"spec/(litepcie|dext|hil-catalogue|style-anchors|reality-notes)\.md|\bspec §")]
    private static partial Regex OutsideSpec();

    [GeneratedRegex(@"docs/(?<page>[a-z0-9-]+\.md)#(?<anchor>[A-Za-z0-9_-]+)")]
    private static partial Regex DocsAnchor();

    [GeneratedRegex("<a id=\"([^\"]+)\"></a>")]
    private static partial Regex ExplicitId();

    [GeneratedRegex(@"^#+ (.*)$", RegexOptions.Multiline)]
    private static partial Regex Heading();
}
