using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>The loader against real LiteX output (ac701 standalone core, 2 channels) when it is available.</summary>
[TestFixture]
public sealed class RealLiteXMapTests
{
    [Test]
    public void Json_and_csv_of_the_same_build_load_to_the_same_registers_bases_and_memories()
    {
        string dir = TestPaths.RequireSharedBoard();
        var json = CsrMap.Load(Path.Combine(dir, "csr.json"));
        var csv = CsrMap.Load(Path.Combine(dir, "csr.csv"));

        csv.Registers.Should().Equal(json.Registers, "csr.csv and csr.json of one build list the same CSRs");
        csv.Bases.Should().BeEquivalentTo(json.Bases);
        csv.Memories.Should().BeEquivalentTo(json.Memories);
        csv.Identifier.Should().Be(json.Identifier);
        foreach (var (name, c) in json.Constants)
        {
            if (c.Integer is { } i)
            {
                csv.IntegerConstant(name).Should().Be(i, $"constant {name}");
            }
        }

        csv.Layout.Msi.Flavour.Should().Be(json.Layout.Msi.Flavour, "the MSI flavour is inferred from registers when csr.csv has no cores");
        csv.Layout.Phy!.Family.Should().Be(PhyFamily.Series7, "only the 7-series PHY exports phy_msix_enable");
    }

    [Test]
    public void Ac701_two_channel_map_has_the_expected_typed_layout()
    {
        var map = CsrMap.Load(Path.Combine(TestPaths.RequireSharedBoard(), "csr.json"));
        var l = map.Layout;

        map.CsrBase.Should().Be(0u);
        map.Identifier.Should().StartWith("LitePCIe standalone core");
        l.Ctrl.Scratch.Address.Should().Be(0x4u);
        l.Identifier.BaseAddress.Should().Be(0x3800u);
        l.Phy!.Family.Should().Be(PhyFamily.Series7);
        l.Msi.Flavour.Should().Be(MsiFlavour.Single);
        l.DmaAddressWidth.Should().Be(32);
        l.DmaChannels.Should().HaveCount(2);

        var dma1 = l.DmaChannels[1];
        dma1.BaseAddress.Should().Be(0x4800u);
        dma1.Writer.LoopStatus.Address.Should().Be(0x4814u);
        dma1.Reader.Enable.Address.Should().Be(0x4820u);
        dma1.LoopbackEnable!.Address.Should().Be(0x4840u);
        dma1.Synchronizer.Should().NotBeNull();
        dma1.Buffering.Should().NotBeNull();
        dma1.Monitor.Should().NotBeNull();
        (dma1.ReaderInterrupt, dma1.WriterInterrupt).Should().Be((2, 3), "interrupt bits are numbered by sorted source name");
        l.Guard.AllDriverOffsetsHold.Should().BeTrue(l.Guard.Describe());
        l.Guard.AllLoopbackSafe.Should().BeTrue(l.Guard.Describe());
    }

    [Test]
    public void The_generator_reproduces_the_real_ac701_layout_register_for_register()
    {
        var real = CsrMap.Load(Path.Combine(TestPaths.RequireSharedBoard(), "csr.json"));
        var generated = LiteXMapGenerator.Generate(new LitePcieDesign
        {
            Identifier = real.Identifier!,
            DmaChannels = 2,
            Loopback = true,
            Synchronizer = true,
            Buffering = true,
            Monitor = true,
            Msi = MsiFlavour.Single,
            Phy = PhyFamily.Series7,
        });

        generated.Registers.Should().Equal(real.Registers, "the generator follows LiteX's page and creation-order rules (docs/gateware.md#layout-rules)");
        generated.Bases.Should().BeEquivalentTo(real.Bases);
        generated.Memories.Should().BeEquivalentTo(real.Memories);
        foreach (var name in new[] { "dma_channels", "pcie_dma0_reader_interrupt", "pcie_dma0_writer_interrupt", "pcie_dma1_reader_interrupt", "pcie_dma1_writer_interrupt" })
        {
            generated.IntegerConstant(name).Should().Be(real.IntegerConstant(name), name);
        }
    }
}
