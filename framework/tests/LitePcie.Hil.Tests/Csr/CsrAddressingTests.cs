using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>CSR base ↔ BAR0 offsets, big word ordering and typed block access.</summary>
[TestFixture]
public sealed class CsrAddressingTests
{
    private static CsrMap SocMap() => LiteXMapGenerator.Generate(new LitePcieDesign
    {
        Identifier = "LiteX SoC on test board 2026-01-01 00:00:00",
        DmaChannels = 2,
        CsrBase = 0xF000_0000,
        Reservations = new Dictionary<string, int> { ["ctrl"] = 0 },
        Msi = MsiFlavour.MsiX,
        Phy = PhyFamily.UltraScale,
        DmaAddressWidth = 64,
        DmaStatus = true,
    });

    [Test]
    public void Bar_offsets_subtract_the_csr_base()
    {
        var map = SocMap();
        map.CsrBase.Should().Be(0xF000_0000u);
        var scratch = map.Layout.Ctrl.Scratch;
        scratch.Address.Should().Be(0xF000_0004u);
        map.ToBarOffset(scratch.Address).Should().Be(4u);
        map.ToAddress(4).Should().Be(0xF000_0004u);
        FluentActions.Invoking(() => map.ToBarOffset(0x1000)).Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("*below the CSR base 0xF0000000*");
    }

    [Test]
    public void Soc_page_order_places_modules_by_name_after_the_reservations_memories_before_their_bank()
    {
        var map = SocMap();
        map.Bases["identifier_mem"].Should().Be(0xF000_0800u, "page 1 is the first free page after ctrl");
        map.Bases["pcie_dma0"].Should().Be(0xF000_1000u);
        map.Bases["pcie_msi_table"].Should().BeLessThan(map.Bases["pcie_msi"],
            "LiteX's CSR bank array scans a module's memories (pcie_msi_table) before its register bank (pcie_msi), as in the real kc705 MSI-X map");
        map.Layout.Msi.Flavour.Should().Be(MsiFlavour.MsiX);
        map.Layout.Msi.TableBaseAddress.Should().Be(map.Bases["pcie_msi_table"]);
        map.Layout.Msi.Width.Should().Be(32);
        map.Layout.DmaChannels[0].Status.Should().NotBeNull();
        map.Layout.DmaAddressWidth.Should().Be(64);
    }

    [Test]
    public void Register_lookup_by_address_finds_every_word_of_a_multi_word_register()
    {
        var map = SocMap();
        var value = map.Layout.DmaChannels[1].Writer.TableValue;
        map.RegisterAt(value.Address).Should().Be(value);
        map.RegisterAt(value.Address + 4).Should().Be(value);
        map.RegisterAt(value.Address + 8).Should().NotBe(value);
        map.RegisterAt(map.CsrBase + 0x7FC).Should().BeNull("unused CSR space has no register");
    }

    [Test]
    public void Multi_word_registers_use_big_ordering_and_write_the_least_significant_word_last()
    {
        var map = SocMap();
        var bus = new RecordingBus(map);
        var reg = map.Layout.DmaChannels[0].Writer.TableValue;

        bus.Write(reg, 0x0300_2000_DEAD_BEEFUL);

        bus.Writes.Should().Equal(
            [(map.ToBarOffset(reg.Address), 0x0300_2000u), (map.ToBarOffset(reg.Address + 4), 0xDEAD_BEEFu)],
            "word 0 (lowest address) holds bits 63:32 and the strobe word (bits 31:0) is written last");
        bus.Read(reg).Should().Be(0x0300_2000_DEAD_BEEFUL);
    }

    [Test]
    public void A_64_bit_value_does_not_fit_a_one_word_register()
    {
        var map = SocMap();
        var bus = new RecordingBus(map);
        FluentActions.Invoking(() => bus.Write(map.Layout.Ctrl.Scratch, 0x1_0000_0000UL))
            .Should().Throw<ArgumentOutOfRangeException>().WithMessage("*ctrl_scratch*");
    }

    private sealed class RecordingBus(CsrMap map) : ICsrBus
    {
        private readonly Dictionary<uint, uint> _words = [];

        public CsrMap Map { get; } = map;

        public List<(uint Offset, uint Value)> Writes { get; } = [];

        public uint ReadCsr(uint barOffset) => _words.GetValueOrDefault(barOffset);

        public void WriteCsr(uint barOffset, uint value)
        {
            Writes.Add((barOffset, value));
            _words[barOffset] = value;
        }
    }
}
