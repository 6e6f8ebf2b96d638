using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Gateware;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Simulation;

/// <summary>The three MSI controllers (docs/gateware.md#interrupts) and delivery through the PCI function.</summary>
[TestFixture]
public sealed class MsiModelTests
{
    [Test]
    public void Single_vector_pending_bits_are_sticky_until_cleared_and_gated_by_enable()
    {
        var msi = new MsiController(MsiFlavour.Single, 32);
        msi.Raise(1);
        msi.Pending.Should().Be(0UL, "a disabled source does not latch");

        msi.WriteEnableWord(0, 1, 0b11);
        msi.Raise(1);
        msi.Pending.Should().Be(0b10UL);
        msi.TryTakeMessage(true, 1, out var m).Should().BeTrue();
        m.Vector.Should().Be(0, "single MSI data is always vector 0");
        msi.Pending.Should().Be(0b10UL, "sending the MSI does not clear the sticky vector bit");

        msi.Clear(0b10);
        msi.Pending.Should().Be(0UL, "pcie_msi_clear is write-1-to-clear");
        msi.LastClear.Should().Be(0b10u, "pcie_msi_clear reads back the last written value");

        msi.Raise(0);
        msi.WriteEnableWord(0, 1, 0b10);
        msi.Pending.Should().Be(0UL, "disabling a bit drops its pending state");
        msi.TryTakeMessage(true, 1, out _).Should().BeFalse("and its accumulated message");
    }

    [Test]
    public void Single_vector_sends_one_message_per_event_and_a_new_event_sends_a_new_message_without_a_clear()
    {
        // The PHY takes a message every cycle that has new events (its MSI port is always ready): one per event here.
        var msi = new MsiController(MsiFlavour.Single, 32);
        msi.WriteEnableWord(0, 1, 0xF);
        msi.Raise(0);
        msi.Raise(1);
        msi.Raise(3);
        msi.TryTakeMessage(true, 1, out _).Should().BeTrue();
        msi.TryTakeMessage(true, 1, out _).Should().BeTrue();
        msi.TryTakeMessage(true, 1, out _).Should().BeTrue();
        msi.TryTakeMessage(true, 1, out _).Should().BeFalse("three events, three MSIs");

        msi.Raise(1); // vector bit 1 is still set: software never cleared it
        msi.TryTakeMessage(true, 1, out _).Should().BeTrue("a new event sends a new MSI even if software has not cleared the vector");
        msi.Raise(4);
        msi.TryTakeMessage(true, 1, out _).Should().BeFalse("a disabled source sends nothing");
    }

    [Test]
    public void Messages_wait_while_the_host_has_not_enabled_delivery()
    {
        var msi = new MsiController(MsiFlavour.Single, 32);
        msi.WriteEnableWord(0, 1, 1);
        msi.Raise(0);
        msi.TryTakeMessage(false, 1, out _).Should().BeFalse();
        msi.TryTakeMessage(true, 1, out _).Should().BeTrue("the request stays pending until MSI is enabled in config space");
    }

    [Test]
    public void Multi_vector_sends_each_event_as_its_own_message_and_clears_its_bit()
    {
        // The port is always ready: an event's bit is sent (and cleared) within a cycle or two, so events at different
        // times are separate messages in their order (the RTL's lowest-first only orders events of one cycle).
        var msi = new MsiController(MsiFlavour.MultiVector, 32);
        msi.WriteEnableWord(0, 1, 0xFF);
        msi.Raise(5);
        msi.Raise(2);
        msi.Raise(5);
        msi.Pending.Should().Be(0b100100UL);
        var vectors = new List<int>();
        while (msi.TryTakeMessage(true, 8, out var m))
        {
            vectors.Add(m.Vector);
        }

        vectors.Should().Equal([5, 2, 5]);
        msi.Pending.Should().Be(0UL);
    }

    [Test]
    public void Msix_sends_table_address_and_data_drops_masked_entries_and_commits_on_the_fourth_word()
    {
        var msi = new MsiController(MsiFlavour.MsiX, 32);
        msi.WriteEnableWord(0, 1, 0xFFFF_FFFF);
        // Entry 3: stage three words, check nothing changed, commit with the 4th (unmask).
        msi.WriteTable(12, 0xFEE0_1000);
        msi.WriteTable(13, 0);
        msi.WriteTable(14, 0x4321);
        msi.ReadTable(14).Should().Be(0u, "words 0..2 are staged until word 3 is written");
        msi.WriteTable(15, 0);
        msi.ReadTable(14).Should().Be(0x4321u);

        msi.Raise(3);
        msi.Raise(4); // entry 4 still masked (reset)
        msi.Pending.Should().Be(0b11000UL, "PBA shows both pending");
        msi.TryTakeMessage(true, 0, out var m).Should().BeTrue();
        m.Should().Be(new MsiMessage(3, 0xFEE0_1000, 0x4321));
        msi.TryTakeMessage(true, 0, out _).Should().BeFalse("entry 4 is masked: its pending bit is dropped without a message");
        msi.Pending.Should().Be(0UL);
    }

    [Test]
    public void The_hard_ip_sends_an_msi_only_with_msi_enabled_and_otherwise_drops_it()
    {
        using var board = SimBoards.Manual();
        SimBoards.Enumerate(board);
        var sink = new RecordingSink();
        board.InterruptSink = sink;
        var csr = board.CsrBus;
        var dma0 = board.Map.Layout.DmaChannels[0];
        var tx = board.Memory.Allocate(512, "tx");
        csr.Write(board.Map.Layout.Msi.Enable, 1u << dma0.ReaderInterrupt);
        csr.Write(dma0.LoopbackEnable!, 1);
        csr.Write(dma0.Reader.TableValue, ((ulong)((1u << 25) | 256) << 32) | (uint)tx.BusAddressOf(0));
        csr.Write(dma0.Reader.TableWe, 0);
        csr.Write(dma0.Reader.Enable, 1);
        board.WriteConfig(0x04, 2, 6);
        board.Settle();
        sink.Messages.Should().BeEmpty("MSI is not enabled in config space: the hard IP completes the handshake and sends nothing");
        board.GetStatistics().MsiBlocked.Should().Be(1);

        var cs = LitePcie.Hil.Pci.PciConfigSpace.Parse(board.ReadConfigSpace()).Find<LitePcie.Hil.Pci.MsiCapability>()!;
        board.WriteConfig(cs.Offset + 4, 4, 0xFEE0_0000);
        board.WriteConfig(cs.Offset + 12, 2, 0x41);
        board.WriteConfig(cs.Offset + 2, 2, 1);
        board.Settle();
        sink.Messages.Should().BeEmpty("nothing was held for later (conformance scenario 'MSI raised while MSI is disabled in config space')");

        csr.Write(dma0.Reader.TableValue, ((ulong)((1u << 25) | 256) << 32) | (uint)tx.BusAddressOf(256));
        csr.Write(dma0.Reader.TableWe, 0);
        board.Settle();
        sink.Messages.Should().ContainSingle().Which.Should().Be(new MsiMessage(0, 0xFEE0_0000, 0x41), "posted to the OS-programmed address/data");
    }

    [Test]
    public void Msix_table_survives_a_soc_reset_but_not_a_fresh_configuration()
    {
        var msi = new MsiController(MsiFlavour.MsiX, 32);
        msi.WriteTable(0, 0xFEE0_0000);
        msi.WriteTable(2, 0x40);
        msi.WriteTable(3, 0);
        msi.WriteEnableWord(0, 1, 1);
        msi.Reset();
        msi.Enable.Should().Be(0UL, "pcie_msi_enable returns to 0 on ctrl_reset");
        (msi.ReadTable(0), msi.ReadTable(2), msi.ReadTable(3)).Should().Be((0xFEE0_0000u, 0x40u, 0u),
            "the MSI-X table is block RAM without reset logic: the OS's programming survives ctrl_reset");
        msi.Reset(powerOn: true);
        msi.ReadTable(3).Should().Be(1u, "a fresh FPGA configuration masks every entry");
    }

    private sealed class RecordingSink : IMsiSink
    {
        public List<MsiMessage> Messages { get; } = [];

        public void OnMessage(MsiMessage message, long timestamp) => Messages.Add(message);
    }
}
