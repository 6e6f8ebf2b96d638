using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Simulation;

/// <summary>BAR0 register semantics of the gateware model (docs/gateware.md#layout-rules, #registers).</summary>
[TestFixture]
public sealed class GatewareRegisterTests
{
    private SimulatedBoard _board = null!;
    private ICsrBus _csr = null!;
    private LitePcieLayout _layout = null!;

    [SetUp]
    public void SetUp()
    {
        _board = SimBoards.Manual();
        SimBoards.Enumerate(_board);
        _csr = _board.CsrBus;
        _layout = _board.Map.Layout;
    }

    [TearDown]
    public void TearDown() => _board.Dispose();

    [Test]
    public void Scratch_resets_to_0x12345678_and_round_trips()
    {
        _csr.Read32(_layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "ctrl_scratch reset value");
        _csr.Write(_layout.Ctrl.Scratch, 0xDEADBEEF);
        _csr.Read32(_layout.Ctrl.Scratch).Should().Be(0xDEADBEEFu, "ctrl_scratch after writing 0xDEADBEEF");
    }

    [Test]
    public void Soc_reset_pulse_resets_nothing_on_a_standalone_core()
    {
        // LitePCIe's standalone core has no CRG reset: soc_rst reaches nothing and the field holds what was written
        // (conformance scenario 'ctrl_reset'). State left by one session survives, as on a board.
        var dma0 = _layout.DmaChannels[0];
        _csr.Write(_layout.Ctrl.Scratch, 1);
        _csr.Write(_layout.Msi.Enable, 0xF);
        _csr.Write(dma0.LoopbackEnable!, 1);
        _csr.Write(_layout.Ctrl.Reset!, CtrlBlock.SocResetBit);
        _csr.Read32(_layout.Ctrl.Scratch).Should().Be(1u);
        _csr.Read32(_layout.Msi.Enable).Should().Be(0xFu);
        _csr.Read32(dma0.LoopbackEnable!).Should().Be(1u);
        _csr.Read32(_layout.Ctrl.Reset!).Should().Be(1u, "the CSRStorage holds the write");
    }

    [Test]
    public void Soc_reset_pulse_restores_every_reset_value_on_a_LiteX_SoC()
    {
        using var soc = SimBoards.Manual("sim-xcu1525-msix");
        SimBoards.Enumerate(soc);
        var csr = soc.CsrBus;
        var layout = soc.Map.Layout;
        var dma0 = layout.DmaChannels[0];
        csr.Write(layout.Ctrl.Scratch, 1);
        csr.Write(layout.Msi.Enable, 0xF);
        csr.Write(dma0.LoopbackEnable!, 1);
        csr.Write(dma0.Writer.TableValue, 0x0000_2000_0000_1000);
        csr.Write(dma0.Writer.TableWe, 0);
        csr.Read32(dma0.Writer.Level).Should().Be(1u);

        csr.Write(layout.Ctrl.Reset!, CtrlBlock.SocResetBit);

        csr.Read32(layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "ctrl_scratch after SoC reset");
        csr.Read32(layout.Msi.Enable).Should().Be(0u, "pcie_msi_enable after SoC reset");
        csr.Read32(dma0.LoopbackEnable!).Should().Be(0u, "loopback_enable after SoC reset");
        csr.Read32(dma0.Writer.Level).Should().Be(0u, "writer_table_level after SoC reset");
        csr.Read32(layout.Ctrl.Reset!).Should().Be(0u, "the CRG reset clears the register too");
    }

    [Test]
    public void Unmapped_bar0_offset_reads_all_ones_and_counts_a_bus_error()
    {
        _csr.Read32(_layout.Ctrl.BusErrors!).Should().Be(0u);
        _board.ReadBar(0, 0x50000).Should().Be(uint.MaxValue, "BAR0 +0x50000 is outside every Wishbone slave");
        _board.WriteBar(0, 0x50004, 1);
        _csr.Read32(_layout.Ctrl.BusErrors!).Should().Be(2u, "ctrl_bus_errors counts the timed-out read and write");
    }

    [Test]
    public void Unused_csr_space_reads_zero_without_a_bus_error()
    {
        _board.ReadBar(0, 0x7F0).Should().Be(0u, "unused addresses inside the CSR region read 0");
        _board.WriteBar(0, 0x7F0, 0xFFFF_FFFF);
        _board.ReadBar(0, 0x7F0).Should().Be(0u, "and ignore writes");
        _csr.Read32(_layout.Ctrl.BusErrors!).Should().Be(0u);
    }

    [Test]
    public void Bar0_offsets_alias_modulo_the_bar_size()
    {
        ulong bar0 = _board.BarSize(0);
        _board.ReadBar(0, bar0 + 4).Should().Be(CtrlBlock.ScratchResetValue, $"BAR0 +0x{bar0 + 4:X} aliases ctrl_scratch");
    }

    [Test]
    public void Identifier_rom_holds_one_character_per_word_and_matches_the_map()
    {
        _csr.ReadIdentifier().Should().Be(_board.Map.Identifier);
        uint first = _board.ReadBar(0, _board.Map.ToBarOffset(_layout.Identifier.BaseAddress));
        first.Should().Be((uint)_board.Map.Identifier![0], "bits 7:0 hold the character, upper bits 0");
        _board.WriteBar(0, _board.Map.ToBarOffset(_layout.Identifier.BaseAddress), 0x41);
        _csr.ReadIdentifier().Should().Be(_board.Map.Identifier, "the identifier is a ROM");
    }

    [Test]
    public void Read_only_registers_ignore_writes()
    {
        var dma0 = _layout.DmaChannels[0];
        _csr.Write(dma0.Writer.LoopStatus, 0x1234);
        _csr.Write(dma0.Writer.Level, 7);
        _csr.Write(_layout.Phy!.LinkStatus!, 0);
        _csr.Read32(dma0.Writer.LoopStatus).Should().Be(0u, "writer_table_loop_status is ro");
        _csr.Read32(dma0.Writer.Level).Should().Be(0u, "writer_table_level is ro");
        _csr.ReadLinkStatus()!.Value.LinkUp.Should().BeTrue("phy_link_status is ro");
    }

    [Test]
    public void Phy_status_reports_the_trained_link_and_config_space_state()
    {
        var link = _csr.ReadLinkStatus()!.Value;
        (link.LinkUp, link.Speed, link.Width).Should().Be((true, PciLinkSpeed.Gen2, 4), link.ToString());
        _csr.Read32(_layout.Phy!.BusMasterEnable!).Should().Be(0u, "bus mastering not yet enabled");
        _board.WriteConfig(0x04, 2, (uint)(PciCommand.MemorySpace | PciCommand.BusMaster));
        _csr.Read32(_layout.Phy.BusMasterEnable!).Should().Be(1u, "phy_bus_master_enable follows the command register");
        _csr.Read32(_layout.Phy.MaxPayloadSize!).Should().Be(128u, "MPS defaults to 128 until the OS programs Device Control");
    }

    [Test]
    public void Link_degrade_fault_trains_narrower_in_csr_and_config_space()
    {
        using var board = SimBoards.Manual(faults: "link-degrade=1");
        SimBoards.Enumerate(board);
        board.CsrBus.ReadLinkStatus()!.Value.Width.Should().Be(1);
        var pcie = PciConfigSpace.Parse(board.ReadConfigSpace()).Find<PciExpressCapability>()!;
        pcie.LinkWidth.Should().Be(1);
        pcie.LinkMaxWidth.Should().Be(4, "the capability still advertises x4");
    }

    [Test]
    public void Scratch_stuck_bit_fault_clears_that_bit()
    {
        using var board = SimBoards.Manual(faults: "scratch-stuck-bit=3");
        SimBoards.Enumerate(board);
        var csr = board.CsrBus;
        csr.Write(csr.Map.Layout.Ctrl.Scratch, 0xFFFF_FFFF);
        csr.Read32(csr.Map.Layout.Ctrl.Scratch).Should().Be(0xFFFF_FFF7u);
    }

    [Test]
    public void Wrong_ident_fault_reports_another_build()
    {
        using var board = SimBoards.Manual(faults: "wrong-ident");
        SimBoards.Enumerate(board);
        string rom = board.CsrBus.ReadIdentifier();
        rom.Should().NotBe(board.Map.Identifier);
        rom.Should().StartWith("LitePCIe standalone core 2026-11-");
    }

    [Test]
    public void Bar2_is_a_memory_window_and_bar_alias_makes_it_decode_to_bar0()
    {
        _board.WriteBar(2, 0x100, 0xCAFEF00D);
        _board.ReadBar(2, 0x100).Should().Be(0xCAFEF00Du, "BAR2 is RAM");
        _board.ReadBar(2, 4).Should().Be(0u, "BAR2 +4 is RAM, not ctrl_scratch");

        using var aliased = SimBoards.Manual(faults: "bar-alias");
        SimBoards.Enumerate(aliased);
        aliased.ReadBar(2, 4).Should().Be(CtrlBlock.ScratchResetValue, "BAR2 decodes to BAR0 under bar-alias");
    }

    [Test]
    public void Memory_space_disabled_or_removed_device_reads_all_ones()
    {
        _board.WriteConfig(0x04, 2, 0);
        _board.ReadBar(0, 4).Should().Be(uint.MaxValue, "memory space disabled: unsupported request");
        _board.WriteConfig(0x04, 2, (uint)PciCommand.MemorySpace);
        _board.ReadBar(0, 4).Should().Be(CtrlBlock.ScratchResetValue);

        _board.SurpriseRemove();
        _board.ReadBar(0, 4).Should().Be(uint.MaxValue, "removed device: reads return all-ones");
        _board.ReadConfig(0, 4).Should().Be(uint.MaxValue, "config reads of a removed function return all-ones");
        _board.Reattach();
        _board.ReadConfig(0, 2).Should().Be(0x10EEu);
        _board.ReadBar(0, 4).Should().Be(uint.MaxValue, "after re-attach the BARs are unassigned until enumeration");
    }

    [Test]
    public void D3hot_loses_csr_state_and_d0_requires_reenumeration()
    {
        _csr.Write(_layout.Ctrl.Scratch, 0xA5A5A5A5);
        var pm = PciConfigSpace.Parse(_board.ReadConfigSpace()).Find<PowerManagementCapability>()!;
        pm.NoSoftReset.Should().BeFalse("the simulated function resets on D3hot→D0");

        _board.WriteConfig(pm.Offset + 4, 2, 3); // D3hot
        _board.PowerState.Should().Be(PciPowerState.D3Hot);
        _board.ReadBar(0, 4).Should().Be(uint.MaxValue, "no memory access in D3hot");

        _board.WriteConfig(pm.Offset + 4, 2, 0); // D0
        _board.PowerState.Should().Be(PciPowerState.D0);
        _board.ReadConfig(0x10, 4).Should().Be(0u, "BAR0 lost its address (D0uninitialized)");
        SimBoards.Enumerate(_board);
        _csr.Read32(_layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "CSR state was lost in D3hot");
    }

    [Test]
    public void Bar_sizing_probe_reads_back_the_size_mask()
    {
        _board.WriteConfig(0x10, 4, 0xFFFF_FFFF);
        _board.ReadConfig(0x10, 4).Should().Be(0xFFF0_0000u, "BAR0: 1 MiB non-prefetchable 32-bit memory");
        _board.WriteConfig(0x18, 4, 0xFFFF_FFFF);
        _board.WriteConfig(0x1C, 4, 0xFFFF_FFFF);
        _board.ReadConfig(0x18, 4).Should().Be(0xFFF0_000Cu, "BAR2: 1 MiB, 64-bit (type 10b), prefetchable");
        _board.ReadConfig(0x1C, 4).Should().Be(0xFFFF_FFFFu);
        var parsed = PciConfigSpace.Parse(_board.ReadConfigSpace(), [0xFFF0_0000, 0, 0xFFF0_000C, 0xFFFF_FFFF, 0, 0]);
        parsed.Bars.Select(b => (b.Index, b.Kind, b.Prefetchable, b.Size)).Should().Equal(
            (0, PciBarKind.Memory32, false, (ulong?)0x10_0000), (2, PciBarKind.Memory64, true, (ulong?)0x10_0000));
    }

    [Test]
    public void Config_space_carries_the_profile_identity_and_capabilities()
    {
        var cs = PciConfigSpace.Parse(_board.ReadConfigSpace());
        (cs.VendorId, cs.DeviceId, cs.Revision, cs.ClassCode).Should().Be(((ushort)0x10EE, (ushort)0x7024, (byte)0, 0x058000u));
        cs.Find<PowerManagementCapability>().Should().NotBeNull();
        cs.Find<MsiCapability>()!.Is64Bit.Should().BeTrue();
        cs.Find<MsiXCapability>().Should().BeNull("the default board uses single MSI");
        var pcie = cs.Find<PciExpressCapability>()!;
        (pcie.LinkSpeed, pcie.LinkWidth, pcie.LinkMaxSpeed, pcie.LinkMaxWidth).Should().Be((PciLinkSpeed.Gen2, 4, PciLinkSpeed.Gen2, 4));
        cs.ExtendedCapabilities.Select(e => e.Id).Should().Contain([(ushort)0x0001, (ushort)0x0003]);
    }
}
