using System.Text.Json;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Boards;

/// <summary>
/// The simulated boards' csr.json/csr.csv are LiteX's own output for the board's RTL (rtl/generate.py from
/// fixtures/boards/&lt;board&gt;/gateware.json). One test regenerates everything from the pinned vendor trees and
/// compares it byte for byte with what is committed; the other is the twin test of our own
/// <see cref="LiteXMapGenerator"/>: for the same design it must produce the map LiteX produced.
/// </summary>
[TestFixture]
public sealed class BoardMapFilesTests
{
    /// <summary>The designs of the simulated boards, as <see cref="LiteXMapGenerator"/> takes them.</summary>
    public static IReadOnlyDictionary<string, LitePcieDesign> Designs { get; } = new Dictionary<string, LitePcieDesign>
    {
        ["sim-ac701-2ch"] = new()
        {
            Identifier = "LitePCIe standalone core 2026-11-21 12:00:00",
            DmaChannels = 2,
            Loopback = true,
            Synchronizer = true,
            Buffering = true,
            Monitor = true,
            Msi = MsiFlavour.Single,
            Phy = PhyFamily.Series7,
        },
        ["sim-xcu1525-msix"] = new()
        {
            Identifier = "LiteX SoC on simulated XCU1525 2026-11-21 12:00:00",
            DmaChannels = 2,
            Loopback = true,
            Buffering = true,
            Monitor = true,
            DmaStatus = true,
            Msi = MsiFlavour.MsiX,
            MsiXWidth = 32,
            Phy = PhyFamily.UltraScale,
            CsrBase = 0xF000_0000,
            Reservations = new Dictionary<string, int> { ["ctrl"] = 0, ["pcie_msi"] = 5, ["pcie_msi_table"] = 6 },
            DmaAddressWidth = 64,
            UserMmapRegion = false,
        },
        ["sim-kcu105-noloop"] = new()
        {
            Identifier = "LitePCIe standalone core 2026-11-21 12:10:00",
            DmaChannels = 2,
            Loopback = false,
            Buffering = true,
            Monitor = true,
            Msi = MsiFlavour.Single,
            Phy = PhyFamily.UltraScale,
        },
        ["sim-au250-mvec4"] = new()
        {
            Identifier = "LitePCIe standalone core 2026-12-03 12:00:00",
            DmaChannels = 4,
            Loopback = true,
            Msi = MsiFlavour.MultiVector,
            Phy = PhyFamily.UltraScalePlus,
        },
        ["sim-kc705-msix64-noloop"] = new()
        {
            Identifier = "LiteX SoC on simulated KC705 2026-12-03 12:00:00",
            DmaChannels = 1,
            Loopback = false,
            Synchronizer = true,
            DmaStatus = true,
            Msi = MsiFlavour.MsiX,
            MsiXWidth = 64,
            Phy = PhyFamily.Series7,
            CsrBase = 0x8000_0000,
            Reservations = new Dictionary<string, int> { ["ctrl"] = 0 },
            DmaAddressWidth = 64,
            UserMmapRegion = false,
        },
    };

    [Test]
    [Category("Slow")]
    public void Generated_rtl_and_csr_maps_are_what_the_generator_produces_now()
    {
        var tools = RtlTools.RequireGenerator();
        string output = Path.Combine(Path.GetTempPath(), $"litepcie-hil-rtl-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var run = ProcessRunner.Run(tools.Python, [Path.Combine(TestPaths.RepoRoot, "rtl", "generate.py"), "--out", output],
                TimeSpan.FromMinutes(5), TestPaths.RepoRoot);
            run.ExitCode.Should().Be(0, $"rtl/generate.py must succeed:{Environment.NewLine}{run.Output}");
            var produced = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(output, f)).Order(StringComparer.Ordinal).ToList();
            produced.Should().Contain(f => f.EndsWith("litepcie_core.v", StringComparison.Ordinal), "every board has Verilog");
            foreach (var rel in produced)
            {
                string committed = Path.Combine(TestPaths.RepoRoot, rel);
                File.Exists(committed).Should().BeTrue($"{rel} is generated, so it must be committed (run python3 rtl/generate.py)");
                File.ReadAllBytes(committed).SequenceEqual(File.ReadAllBytes(Path.Combine(output, rel))).Should()
                    .BeTrue($"{rel} must be byte-identical to what rtl/generate.py produces from the pinned vendor trees (run python3 rtl/generate.py and commit)");
            }

            foreach (var board in Directory.EnumerateDirectories(Path.Combine(TestPaths.RepoRoot, "rtl", "boards")))
            {
                foreach (var file in Directory.EnumerateFiles(board))
                {
                    produced.Should().Contain(Path.GetRelativePath(TestPaths.RepoRoot, file), "a committed RTL file the generator no longer produces is stale");
                }
            }
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [TestCaseSource(nameof(BoardNames))]
    public void Our_map_generator_produces_the_map_LiteX_produced(string board)
    {
        string path = Path.Combine(TestPaths.Boards, board, "csr.json");
        using var real = JsonDocument.Parse(File.ReadAllText(path));
        using var ours = JsonDocument.Parse(LiteXMapGenerator.ToJson(Designs[board]));

        static Dictionary<string, string> Registers(JsonDocument d) => d.RootElement.GetProperty("csr_registers").EnumerateObject()
            .ToDictionary(p => p.Name, p => $"0x{p.Value.GetProperty("addr").GetUInt64():X} size {p.Value.GetProperty("size").GetInt32()} {p.Value.GetProperty("type").GetString()}");
        static Dictionary<string, ulong> Bases(JsonDocument d) => d.RootElement.GetProperty("csr_bases").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetUInt64());
        static Dictionary<string, string> Memories(JsonDocument d) => d.RootElement.GetProperty("memories").EnumerateObject()
            .ToDictionary(p => p.Name, p => $"0x{p.Value.GetProperty("base").GetUInt64():X}+0x{p.Value.GetProperty("size").GetUInt64():X}");

        Registers(ours).Should().BeEquivalentTo(Registers(real), $"every CSR of {board} at LiteX's address, size and access");
        Bases(ours).Should().BeEquivalentTo(Bases(real), $"the blocks of {board} on LiteX's pages");
        Memories(ours).Should().BeEquivalentTo(Memories(real), $"the memory regions of {board}");
        var realConstants = real.RootElement.GetProperty("constants");
        foreach (var c in ours.RootElement.GetProperty("constants").EnumerateObject()
                     .Where(c => c.Name.EndsWith("_interrupt", StringComparison.Ordinal) || c.Name is "dma_channels" or "dma_addr_width" or "config_identifier"))
        {
            realConstants.TryGetProperty(c.Name, out var v).Should().BeTrue($"LiteX's map of {board} has constant {c.Name}");
            v.ToString().Should().Be(c.Value.ToString(), $"constant {c.Name} of {board}");
        }
    }

    public static IEnumerable<string> BoardNames() => Designs.Keys;
}
