using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Boards;

/// <summary>Board profiles: the built-in ones load; a bad one reports every problem at once.</summary>
[TestFixture]
public sealed class BoardProfileTests
{
    [Test]
    public void Built_in_profiles_are_found_next_to_the_assemblies()
    {
        BoardCatalog.BuiltInNames().Should().Contain(["sim-ac701-2ch", "sim-xcu1525-msix", "sim-kcu105-noloop"]);
    }

    [Test]
    public void Default_board_is_a_two_channel_gen2_x4_design_with_a_bar2_window()
    {
        var p = BoardCatalog.Load(BoardCatalog.DefaultBoard);
        (p.VendorId, p.DeviceId, p.LinkSpeed, p.LinkWidth).Should().Be(((ushort)0x10EE, (ushort)0x7024, PciLinkSpeed.Gen2, 4));
        LitePcieDeviceIds.IsSupported(p.VendorId, p.DeviceId).Should().BeTrue("the Linux driver matches 10ee:7024");
        p.Bars.Should().Equal(
            new BoardBar(0, PciBarKind.Memory32, 1 << 20, false, BarRole.Csr),
            new BoardBar(2, PciBarKind.Memory64, 1 << 20, true, BarRole.Memory));
        p.CsrMap.Layout.DmaChannels.Should().HaveCount(2);
        p.CsrMap.Layout.Msi.Flavour.Should().Be(MsiFlavour.Single);
        p.DmaGeometry.BufferCount.Should().Be(256);
    }

    [Test]
    public void Second_profile_has_msix_gen3_and_a_different_csr_layout()
    {
        var a = BoardCatalog.Load("sim-ac701-2ch").CsrMap;
        var b = BoardCatalog.Load("sim-xcu1525-msix");
        b.LinkSpeed.Should().Be(PciLinkSpeed.Gen3);
        b.MsiXTableSize.Should().Be(32);
        b.CsrMap.Layout.Msi.Flavour.Should().Be(MsiFlavour.MsiX);
        b.CsrMap.CsrBase.Should().Be(0xF000_0000u);
        b.CsrMap.ToBarOffset(b.CsrMap.Bases["pcie_dma0"]).Should().NotBe(a.ToBarOffset(a.Bases["pcie_dma0"]), "DMA blocks sit at other BAR offsets");
    }

    [Test]
    public void Loading_by_path_works_and_an_unknown_name_lists_the_built_in_boards()
    {
        var p = BoardCatalog.Load(BoardCatalog.Load("sim-kcu105-noloop").Path);
        p.Name.Should().Be("sim-kcu105-noloop");
        FluentActions.Invoking(() => BoardCatalog.Load("no-such-board")).Should().Throw<BoardProfileException>()
            .WithMessage("*built-in: *sim-ac701-2ch*");
    }

    [Test]
    public void Every_problem_of_a_bad_profile_is_reported_with_field_and_accepted_range()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"profile-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "profile.json");
        File.WriteAllText(path, """
        {
          "name": "broken",
          "pci": { "vendorId": "0x1FFFF", "deviceId": "0x7024" },
          "link": { "generation": 9, "width": 3 },
          "bars": [ { "index": 0, "kind": "Memory48", "size": "3000" } ],
          "interrupts": { "msiVectors": 3 },
          "dma": { "bufferSize": 8190 },
          "csrMap": "missing.json",
          "colour": "red"
        }
        """);
        try
        {
            var e = FluentActions.Invoking(() => BoardProfile.Load(path)).Should().Throw<BoardProfileException>().Which;
            e.Problems.Should().Contain(
            [
                "pci.vendorId = 131071: accepted 0x0..0xFFFF",
                "link.generation = 9: accepted 1..5",
                "link.width = 3: accepted 1, 2, 4, 8 or 16",
                "bars[0].kind = 'Memory48': accepted Memory32, Memory64 or Io",
                "bars[0].size = 0xBB8: must be a power of two",
                "interrupts.msiVectors = 3: accepted 0, 1, 2, 4, 8, 16 or 32",
                "dma.bufferSize = 8190: must be a multiple of 4 (TLP dwords)",
                "colour: unknown field (accepted name, description, pci, link, bars, interrupts, pcie, dma, csrMap, phy, userLogic)",
            ]);
            e.Problems.Should().Contain(p => p.StartsWith("csrMap = 'missing.json': file not found", StringComparison.Ordinal));
            e.Message.Should().Contain(path);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestCase("1MiB", 1L << 20)]
    [TestCase("0x2000", 0x2000)]
    [TestCase("64 KiB", 65536)]
    [TestCase("4096", 4096)]
    public void Sizes_parse(string text, long value)
    {
        BoardProfile.TryParseInteger(text, out long v).Should().BeTrue();
        v.Should().Be(value);
    }
}
