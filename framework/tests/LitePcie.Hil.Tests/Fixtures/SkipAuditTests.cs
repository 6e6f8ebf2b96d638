using FluentAssertions;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>CI fails on a skip it did not expect: the list, the matching, and the list the repository carries.</summary>
[TestFixture]
public sealed class SkipAuditTests
{
    [Test]
    public void A_skip_is_expected_only_for_its_test_its_board_and_its_reason()
    {
        var list = SkipAudit.Parse("""
            # comment
            DmaSuite.Internal_loopback_* | sim-kcu105-noloop | has no DMA loopback
            BarSuite.Bars_do_not_alias_each_other | * | has a single BAR
            """);
        var observed = new[]
        {
            new ObservedSkip("DmaSuite.Internal_loopback_moves_every_buffer_intact", "sim-kcu105-noloop", "sim-kcu105-noloop has no DMA loopback (layout guard)"),
            new ObservedSkip("DmaSuite.Internal_loopback_moves_every_buffer_intact", "sim-ac701-2ch", "sim-ac701-2ch has no DMA loopback"),
            new ObservedSkip("BarSuite.Bars_do_not_alias_each_other", "sim-xcu1525-msix", "sim-xcu1525-msix has a single BAR: no cross-BAR aliasing to test"),
            new ObservedSkip("BarSuite.Bars_do_not_alias_each_other", "sim-xcu1525-msix", "no board to test: device gone"),
        };
        var (expected, unexpected, unused) = SkipAudit.Check(observed, list);
        expected.Should().HaveCount(2);
        unexpected.Should().Equal(observed[1], observed[3]);
        unused.Should().BeEmpty();
    }

    [TestCase("DmaSuite.X | sim-ac701-2ch")]
    [TestCase("DmaSuite.X | | reason")]
    public void A_malformed_line_is_refused_naming_its_line_and_the_accepted_form(string line)
    {
        FluentActions.Invoking(() => SkipAudit.Parse("# ok\n" + line, "list.txt")).Should().Throw<FormatException>()
            .WithMessage("list.txt:2: *accepted 'Class.Method | board | reason words'*");
    }

    [TestCase("sim:sim-ac701-2ch@0000:01:00.0", "sim-ac701-2ch")]
    [TestCase("sim:shared-ac701-2ch:not-found", "shared-ac701-2ch")]
    [TestCase("linux:no-board", "no-board")]
    public void The_board_is_the_profile_name_of_the_fixture_label(string label, string board) =>
        SkipAudit.BoardName(label).Should().Be(board);

    [Test]
    public void The_repositorys_list_parses_and_gives_every_entry_a_reason()
    {
        var list = SkipAudit.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, SkipAudit.ListPath)));
        list.Should().NotBeEmpty().And.OnlyContain(e => e.Reason.Length >= 10, "each expected skip says why, in the words of its skip message");
    }
}
