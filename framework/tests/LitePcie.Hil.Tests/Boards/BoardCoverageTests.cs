using System.Xml.Linq;
using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Boards;

/// <summary>
/// The boards of the default run (<c>runsettings/sim.runsettings</c>, what CI runs) together exercise every design
/// difference the CSR map loader accepts: each value of each axis below is the design of at least one board that every
/// suite runs on. A new loader variant means a new axis value here and a board that has it.
/// </summary>
[TestFixture]
public sealed class BoardCoverageTests
{
    /// <summary>Each axis of difference and how a loaded board shows it.</summary>
    public static IReadOnlyDictionary<string, Func<BoardProfile, string>> Axes { get; } = new Dictionary<string, Func<BoardProfile, string>>
    {
        ["DMA channels"] = p => p.CsrMap.Layout.DmaChannels.Count switch { 1 => "1", 2 => "2", _ => "more than 2" },
        ["MSI flavour"] = p => p.CsrMap.Layout.Msi.Flavour switch
        {
            MsiFlavour.MsiX => $"MSI-X ×{p.CsrMap.Layout.Msi.Width} ({p.CsrMap.Layout.Msi.Enable.Words}-word enable)",
            var f => f.ToString(),
        },
        ["DMA address width"] = p => p.CsrMap.Layout.DmaAddressWidth.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["CSR base"] = p => p.CsrMap.CsrBase == 0 ? "0 (CPU-less core)" : "non-zero (SoC with a CPU)",
        ["CSR page order"] = p => PageOrder(p.CsrMap),
        ["loopback"] = p => Has(p.CsrMap.Layout.DmaChannels[0].LoopbackEnable is not null),
        ["buffering"] = p => Has(p.CsrMap.Layout.DmaChannels[0].Buffering is not null),
        ["monitor"] = p => Has(p.CsrMap.Layout.DmaChannels[0].Monitor is not null),
        ["synchronizer"] = p => Has(p.CsrMap.Layout.DmaChannels[0].Synchronizer is not null),
        ["DMA status"] = p => Has(p.CsrMap.Layout.DmaChannels[0].Status is not null),
        ["extra regions in BAR0"] = p => Has(p.CsrMap.Memories.Keys.Any(k => k != "csr")),
        ["PHY family"] = p => p.CsrMap.Layout.Phy?.Family.ToString() ?? "no PHY block",
        ["map format"] = p => Path.GetExtension(p.CsrMapPath).TrimStart('.'),
        ["memory BAR besides BAR0"] = p => Has(p.Bars.Any(b => b.Role == BarRole.Memory)),
        ["user-side writer source (writer-only DMA)"] = p => p.WriterSource.ToString(),
    };

    /// <summary>Every value each axis must take on some board of the default run.</summary>
    public static IReadOnlyDictionary<string, string[]> Required { get; } = new Dictionary<string, string[]>
    {
        ["DMA channels"] = ["1", "2", "more than 2"],
        ["MSI flavour"] = ["Single", "MultiVector", "MSI-X ×32 (1-word enable)", "MSI-X ×64 (2-word enable)"],
        ["DMA address width"] = ["32", "64"],
        ["CSR base"] = ["0 (CPU-less core)", "non-zero (SoC with a CPU)"],
        ["CSR page order"] = ["standalone (reserved pages)", "allocated in name order"],
        ["loopback"] = ["with", "without"],
        ["buffering"] = ["with", "without"],
        ["monitor"] = ["with", "without"],
        ["synchronizer"] = ["with", "without"],
        ["DMA status"] = ["with", "without"],
        ["extra regions in BAR0"] = ["with", "without"],
        ["PHY family"] = ["Series7", "UltraScale", "UltraScalePlus"],
        ["map format"] = ["json", "csv"],
        ["memory BAR besides BAR0"] = ["with", "without"],
        ["user-side writer source (writer-only DMA)"] = ["SequencePattern", "None"],
    };

    /// <summary>The boards of the default run (those whose map is available here).</summary>
    public static IReadOnlyList<string> DefaultRunBoards()
    {
        var doc = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "runsettings", "sim.runsettings"));
        string value = doc.Descendants("Parameter").Single(p => (string?)p.Attribute("name") == "Board").Attribute("value")!.Value;
        return value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    }

    [Test]
    public void The_default_run_covers_every_variant_the_loader_accepts()
    {
        var profiles = DefaultRunBoards().Where(b => !b.StartsWith("shared-", StringComparison.Ordinal)).Select(BoardCatalog.Load).ToList();
        var table = new System.Text.StringBuilder("| Axis | Value | Boards |\n|---|---|---|\n");
        var missing = new List<string>();
        foreach (var (axis, of) in Axes)
        {
            var byValue = profiles.GroupBy(of).ToDictionary(g => g.Key, g => g.Select(p => p.Name).ToList());
            foreach (var value in Required[axis])
            {
                if (byValue.TryGetValue(value, out var boards))
                {
                    table.Append(System.Globalization.CultureInfo.InvariantCulture, $"| {axis} | {value} | {string.Join(", ", boards)} |\n");
                }
                else
                {
                    missing.Add($"{axis} = {value}");
                }
            }

            byValue.Keys.Should().BeSubsetOf(Required[axis], $"axis '{axis}': a board shows a value this test does not know (add it to Required)");
        }

        TestContext.Out.WriteLine(table.ToString());
        missing.Should().BeEmpty("every design difference the loader accepts must be the design of some board in runsettings/sim.runsettings (the simulated boards alone, so CI covers it without ../shared)");
    }

    [Test]
    public void Every_built_in_board_and_every_shared_map_with_a_profile_is_in_the_default_run()
    {
        var run = DefaultRunBoards();
        BoardCatalog.BuiltInNames().Should().BeSubsetOf(run, "every suite runs on every built-in board in CI (runsettings/sim.runsettings)");
        string shared = Path.GetFullPath(Path.Combine(TestPaths.RepoRoot, "..", "shared", "boards"));
        if (Directory.Exists(shared))
        {
            var referenced = BoardCatalog.BuiltInNames()
                .Select(n => File.ReadAllText(Path.Combine(TestPaths.Boards, n, "profile.json")))
                .Where(t => t.Contains(BoardProfile.SharedPrefix + "boards/", StringComparison.Ordinal))
                .ToList();
            foreach (var dir in Directory.EnumerateDirectories(shared).Where(d => File.Exists(Path.Combine(d, "csr.json"))))
            {
                string name = Path.GetFileName(dir);
                referenced.Should().Contain(t => t.Contains($"{BoardProfile.SharedPrefix}boards/{name}/", StringComparison.Ordinal),
                    $"../shared/boards/{name} is a real LiteX map: a committed profile must reference it (csrMap \"{{shared}}/boards/{name}/csr.json\")");
            }
        }
    }

    [Test]
    public void A_shared_map_profile_references_the_map_in_place_and_never_copies_it()
    {
        var dir = Path.Combine(TestPaths.Boards, "shared-ac701-2ch");
        Directory.EnumerateFiles(dir).Select(Path.GetFileName).Should().Equal(["profile.json"], "the real csr.json stays in ../shared");
        string sharedRoot = TestPaths.RequireSharedBoard();
        var profile = BoardCatalog.Load("shared-ac701-2ch");
        profile.CsrMapPath.Should().Be(Path.Combine(sharedRoot, "csr.json"));
        profile.CsrMap.Identifier.Should().StartWith("LitePCIe standalone core");
    }

    [Test]
    public void Without_the_shared_tree_the_profile_is_unavailable_with_the_reason_not_invalid()
    {
        string? saved = Environment.GetEnvironmentVariable("LITEPCIE_HIL_SHARED");
        try
        {
            Environment.SetEnvironmentVariable("LITEPCIE_HIL_SHARED", Path.Combine(Path.GetTempPath(), "no-such-shared-" + Guid.NewGuid()));
            var e = FluentActions.Invoking(() => BoardCatalog.Load("shared-ac701-2ch")).Should().Throw<BoardMapUnavailableException>().Which;
            e.Reason.Should().Contain("the shared tree beside the project root (../shared, or LITEPCIE_HIL_SHARED) is absent");
        }
        finally
        {
            Environment.SetEnvironmentVariable("LITEPCIE_HIL_SHARED", saved);
        }
    }

    private static string Has(bool present) => present ? "with" : "without";

    private static string PageOrder(CsrMap map)
    {
        uint page(string block) => (map.Bases[block] - map.CsrBase) / LitePcieLayout.BlockPageSize;
        return map.Bases.ContainsKey("pcie_phy") && page("pcie_phy") == 2 && page("pcie_msi") == 3
            ? "standalone (reserved pages)"
            : "allocated in name order";
    }
}
