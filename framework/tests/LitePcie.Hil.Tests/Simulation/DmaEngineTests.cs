using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Driver;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Simulation;

/// <summary>DMA table and engine behaviour (docs/gateware.md#dma-engines, #invariants-the-model-keeps;
/// docs/linux-driver.md#start-and-stop-sequences), stepped descriptor by descriptor.</summary>
[TestFixture]
public sealed class DmaEngineTests
{
    private const uint LastDisable = 1u << 25;
    private const uint IrqDisable = 1u << 24;

    private SimulatedBoard _board = null!;
    private ICsrBus _csr = null!;
    private DmaChannelLayout _dma0 = null!;

    [SetUp]
    public void SetUp()
    {
        _board = SimBoards.Manual();
        SimBoards.EnumerateWithBusMaster(_board);
        _csr = _board.CsrBus;
        _dma0 = _board.Map.Layout.DmaChannels[0];
    }

    [TearDown]
    public void TearDown() => _board.Dispose();

    private void Program(DmaEngineLayout e, HostAllocation ring, int count, int size, bool loop, uint flags = LastDisable)
    {
        _csr.Write(e.Enable, 0);
        _csr.Write(e.TableReset, 1);
        _csr.Write(e.LoopProgN, 0);
        for (int i = 0; i < count; i++)
        {
            ulong bus = ring.BusAddressOf((long)i * size);
            _csr.Write(e.TableValue, ((ulong)(flags | (uint)size) << 32) | (uint)bus);
            _csr.Write(e.TableWe, bus >> 32);
        }

        if (loop)
        {
            _csr.Write(e.LoopProgN, 1);
        }
    }

    private LoopStatus Status(DmaEngineLayout e) => LoopStatus.FromRaw(_csr.Read32(e.LoopStatus));

    [Test]
    public void Loop_mode_status_of_a_4_entry_ring_follows_the_verified_trace()
    {
        var tx = _board.Memory.Allocate(4 * 256, "tx");
        var rx = _board.Memory.Allocate(4 * 256, "rx");
        Program(_dma0.Reader, tx, 4, 256, loop: true);
        Program(_dma0.Writer, rx, 4, 256, loop: true);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Writer.Enable, 1);
        _csr.Write(_dma0.Reader.Enable, 1);

        (int Index, int Count)[] expected = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1), (2, 1), (3, 1), (0, 2), (1, 2)];
        for (int pop = 1; pop <= expected.Length; pop++)
        {
            _board.Step().Should().BeTrue($"pop {pop} moves a descriptor");
            var s = Status(_dma0.Writer);
            ((int)s.Index, (int)s.Count).Should().Be(expected[pop - 1], $"writer loop_status after pop {pop} ({s})");
            ((long)s.Count * 4 + s.Index).Should().Be(pop - 1, "count·N + index = k − 1");
        }

        _csr.Read32(_dma0.Writer.Level).Should().Be(4u, "loop mode re-pushes every popped descriptor");
    }

    [Test]
    public void Prog_mode_pops_each_descriptor_once_then_idles()
    {
        var tx = _board.Memory.Allocate(3 * 256, "tx");
        var rx = _board.Memory.Allocate(3 * 256, "rx");
        Program(_dma0.Reader, tx, 3, 256, loop: false);
        Program(_dma0.Writer, rx, 3, 256, loop: false);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Reader.Enable, 1);
        _csr.Write(_dma0.Writer.Enable, 1);

        for (int pop = 1; pop <= 3; pop++)
        {
            _board.Step();
            Status(_dma0.Writer).Should().Be(new LoopStatus((ushort)pop, 0), $"prog mode after pop {pop}: index = k");
        }

        _board.Step().Should().BeFalse("the table is empty");
        _csr.Read32(_dma0.Writer.Level).Should().Be(0u);
        (_csr.Read32(_dma0.Writer.Enable) & 2).Should().Be(2u, "writer_enable bit1 (idle) reads 1 with an empty table");
    }

    [Test]
    public void Pushes_into_a_full_table_or_in_loop_mode_are_dropped()
    {
        var ring = _board.Memory.Allocate(300 * 64, "ring");
        Program(_dma0.Writer, ring, 300, 64, loop: false);
        _csr.Read32(_dma0.Writer.Level).Should().Be(256u, "depth 256: the 44 extra pushes are silently dropped");

        _csr.Write(_dma0.Writer.TableReset, 1);
        Program(_dma0.Writer, ring, 2, 64, loop: true);
        _csr.Write(_dma0.Writer.TableWe, 0);
        _csr.Read32(_dma0.Writer.Level).Should().Be(2u, "table_we is ignored in loop mode");
    }

    [Test]
    public void Linux_start_sequence_leaves_256_descriptors_in_loop_mode_and_stop_empties_the_table()
    {
        using var driver = new KernelDriverModel(_board);
        driver.Start(0, DmaDirection.Writer);

        _csr.Read32(_dma0.Writer.Level).Should().Be(256u, "writer_table_level after start");
        _csr.Read32(_dma0.Writer.LoopProgN).Should().Be(1u, "writer_table_loop_prog_n after start");
        (_csr.Read32(_dma0.Writer.Enable) & 1).Should().Be(1u, "writer_enable bit0 after start");
        (_csr.Read32(_board.Map.Layout.Msi.Enable) & (1u << _dma0.WriterInterrupt)).Should().NotBe(0u, "MSI enable bit of the writer");

        driver.Stop(0, DmaDirection.Writer);
        _csr.Read32(_dma0.Writer.Level).Should().Be(0u, "writer_table_level after stop");
        _csr.Read32(_dma0.Writer.Enable).Should().Be(2u, "writer_enable after stop: bit0 clear, bit1 (idle) set");
        _csr.Read32(_board.Map.Layout.Msi.Enable).Should().Be(0u, "MSI enable bit cleared first");
    }

    [Test]
    public void Table_reset_clears_loop_status()
    {
        var tx = _board.Memory.Allocate(4 * 256, "tx");
        Program(_dma0.Reader, tx, 4, 256, loop: true);
        _csr.Write(_dma0.LoopbackEnable!, 1); // the disabled writer drops the looped data
        _csr.Write(_dma0.Reader.Enable, 1);
        for (int i = 0; i < 6; i++)
        {
            _board.Step();
        }

        Status(_dma0.Reader).Should().Be(new LoopStatus(1, 1));
        _csr.Write(_dma0.Reader.TableReset, 1);
        Status(_dma0.Reader).Should().Be(new LoopStatus(0, 0));
        _csr.Read32(_dma0.Reader.Level).Should().Be(0u);
    }

    [Test]
    public void Bus_mastering_off_does_not_hold_the_engines()
    {
        // The RTL has no bus-master input: its engines issue requests whatever the command register says (conformance
        // scenario 'interrupt with bus mastering off'); keeping bus mastering off until the rings exist is the driver's job.
        _board.WriteConfig(0x04, 2, 2); // memory space only
        var tx = _board.Memory.Allocate(4 * 256, "tx");
        Program(_dma0.Reader, tx, 4, 256, loop: true);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Reader.Enable, 1);
        _board.Step().Should().BeTrue("the reader runs without bus mastering, as the RTL does");
    }

    [Test]
    public void A_disabled_writer_accepts_and_drops_the_looped_stream()
    {
        var tx = _board.Memory.Allocate(8 * 256, "tx");
        var rx = _board.Memory.Allocate(8 * 256, "rx");
        tx.Span(0, 8 * 256).Fill(0x5A);
        Program(_dma0.Reader, tx, 8, 256, loop: true);
        Program(_dma0.Writer, rx, 8, 256, loop: true);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Reader.Enable, 1);
        for (int i = 0; i < 100; i++)
        {
            _board.Step();
        }

        Status(_dma0.Reader).Count.Should().BeGreaterThan(10, "the reader never stalls behind a disabled writer");
        rx.Span(0, 8 * 256).ToArray().Should().OnlyContain(b => b == 0, "nothing reached the writer's buffers");
    }

    [Test]
    public void A_reader_descriptor_of_length_0_reads_4_KiB_and_completes()
    {
        // Its request's 0-DW length field means 1,024 DWs (conformance scenario 'reader descriptor of length 0').
        var tx = _board.Memory.Allocate(4096, "tx");
        var rx = _board.Memory.Allocate(4096, "rx");
        tx.Span(0, 4096).Fill(0x3C);
        Program(_dma0.Writer, rx, 1, 4096, loop: false);
        _csr.Write(_dma0.Reader.TableValue, (ulong)LastDisable << 32 | (uint)tx.BusAddressOf(0));
        _csr.Write(_dma0.Reader.TableWe, 0);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Writer.Enable, 1);
        _csr.Write(_dma0.Reader.Enable, 1);
        _board.Settle();
        _csr.Read32(_dma0.Reader.Level).Should().Be(0u, "the descriptor completed");
        rx.Span(0, 4096).ToArray().Should().OnlyContain(b => b == 0x3C, "4 KiB went round the loopback");
        _board.Memory.Faults.Should().BeEmpty();
    }

    [Test]
    public void A_writer_descriptor_of_length_0_holds_the_link_and_is_recorded()
    {
        // One endless TLP: register reads time out (all-ones) until the engine is disabled.
        var rx = _board.Memory.Allocate(4096, "rx");
        _csr.Write(_dma0.Writer.TableValue, (ulong)LastDisable << 32 | (uint)rx.BusAddressOf(0));
        _csr.Write(_dma0.Writer.TableWe, 0);
        _csr.Write(_dma0.Writer.Enable, 1);
        _board.Settle();
        _csr.Read32(_board.Map.Layout.Ctrl.Scratch).Should().Be(uint.MaxValue, "the completion cannot leave the device");
        _board.Memory.Faults.Should().ContainSingle().Which.Problem.Should().Contain("length 0");
        _csr.Write(_dma0.Writer.Enable, 0);
        _csr.Read32(_board.Map.Layout.Ctrl.Scratch).Should().Be(0x12345678u, "disabling the writer ends the TLP");
    }

    [Test]
    public void Dma_to_an_unmapped_bus_address_is_recorded_and_never_dereferenced()
    {
        _csr.Write(_dma0.Reader.TableValue, ((ulong)(LastDisable | 256) << 32) | 0x0BAD_0000);
        _csr.Write(_dma0.Reader.TableWe, 0);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Reader.Enable, 1);
        _board.Step().Should().BeTrue("the request is issued");
        var fault = _board.Memory.Faults.Should().ContainSingle().Which;
        fault.BusAddress.Should().Be(0x0BAD_0000UL);
        fault.Problem.Should().Contain("IOMMU");
    }

    [Test]
    public void Interrupts_fire_only_for_descriptors_without_irq_disable()
    {
        var tx = _board.Memory.Allocate(8 * 256, "tx");
        _csr.Write(_dma0.Reader.TableReset, 1);
        for (int i = 0; i < 8; i++)
        {
            uint flags = LastDisable | (i % 4 == 0 ? 0 : IrqDisable);
            ulong bus = tx.BusAddressOf(i * 256);
            _csr.Write(_dma0.Reader.TableValue, ((ulong)(flags | 256) << 32) | (uint)bus);
            _csr.Write(_dma0.Reader.TableWe, 0);
        }

        _csr.Write(_board.Map.Layout.Msi.Enable, 1u << _dma0.ReaderInterrupt);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Reader.Enable, 1);
        var pending = new List<ulong>();
        for (int i = 0; i < 8; i++)
        {
            _board.Step();
            pending.Add(_csr.Read(_board.Map.Layout.Msi.Vector!));
            _csr.Write(_board.Map.Layout.Msi.Clear!, 0xFFFF_FFFF);
        }

        pending.Should().Equal([1, 0, 0, 0, 1, 0, 0, 0], "descriptors 0 and 4 have IRQ enabled (reader interrupt is bit 0)");
    }

    [Test]
    public void The_loopback_stream_never_ends_a_writer_descriptor_early()
    {
        // The reader's stream carries no end-of-packet (conformance scenario 'reader stream has no last').
        var tx = _board.Memory.Allocate(8192, "tx");
        var rx = _board.Memory.Allocate(8192, "rx");
        tx.Span(0, 4096).Fill(0x11);
        tx.Span(4096, 4096).Fill(0x22);
        Program(_dma0.Reader, tx, 2, 4096, loop: false);
        Program(_dma0.Writer, rx, 1, 8192, loop: false, flags: 0); // last_disable = 0
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _csr.Write(_dma0.Reader.Enable, 1);
        _csr.Write(_dma0.Writer.Enable, 1);
        _board.Settle();

        Status(_dma0.Writer).Index.Should().Be(1, "one writer descriptor completed");
        rx.Span(0, 4096).ToArray().Should().OnlyContain(b => b == 0x11);
        rx.Span(4096, 4096).ToArray().Should().OnlyContain(b => b == 0x22, "the second reader buffer went on into the same writer buffer");
    }

    [Test]
    public void A_user_side_end_of_packet_ends_the_writer_descriptor_and_leaves_the_rest_untouched()
    {
        using var board = SimBoards.Manual("sim-kcu105-noloop");
        SimBoards.EnumerateWithBusMaster(board);
        var ch = board.Map.Layout.DmaChannels[0];
        int size = board.Profile.DmaGeometry.BufferSize;
        var rx = board.Memory.Allocate(2 * size, "rx");
        rx.Span(0, 2 * size).Fill(0xEE);
        board.CsrBus.Write(ch.Writer.TableValue, ((ulong)(uint)(2 * size) << 32) | (uint)rx.BusAddressOf(0)); // last_disable = 0
        board.CsrBus.Write(ch.Writer.TableWe, 0);
        board.CsrBus.Write(ch.Writer.Enable, 1);
        board.Settle();

        LoopStatus.FromRaw(board.CsrBus.Read32(ch.Writer.LoopStatus)).Index.Should().Be(1, "the descriptor ended with the user's packet");
        new SequencePattern(size).Matches(rx.Span(0, size), 0).Should().BeTrue("user buffer 0 landed");
        rx.Span(size, size).ToArray().Should().OnlyContain(b => b == 0xEE, "the rest of the descriptor's buffer is untouched");
    }

    [Test]
    public void A_64_bit_design_reaches_buffers_above_4_GiB()
    {
        using var board = SimBoards.Manual("sim-xcu1525-msix");
        SimBoards.EnumerateWithBusMaster(board);
        using var driver = new KernelDriverModel(board, lossless: true);
        var w = driver.State(0, DmaDirection.Writer);
        w.Ring.BusAddressOf(0).Should().BeGreaterThan(uint.MaxValue, "64-bit designs get IOVAs above 4 GiB");
        for (int i = 0; i < 64; i++)
        {
            driver.Buffer(0, DmaDirection.Reader, i).Fill((byte)i);
        }

        driver.SetLoopback(0, true);
        driver.Start(0, DmaDirection.Writer);
        driver.Start(0, DmaDirection.Reader);
        driver.UpdateSwCount(0, DmaDirection.Reader, 64);
        driver.WaitHwCount(0, DmaDirection.Writer, 32, TimeSpan.FromSeconds(10)).Should().BeTrue("writer hw_count reaches 32");
        for (int i = 0; i < 32; i++)
        {
            driver.Buffer(0, DmaDirection.Writer, i).ToArray().Should().OnlyContain(b => b == (byte)i, $"RX buffer {i}");
        }
    }

    [Test]
    public void Synchronizer_blocks_user_side_streams_until_bypassed_but_not_loopback()
    {
        var tx = _board.Memory.Allocate(4 * 256, "tx");
        Program(_dma0.Reader, tx, 4, 256, loop: true);
        _csr.Write(_dma0.Reader.Enable, 1);
        // As the RTL: the held stream backs up into the reader's data FIFO; the reader requests while the FIFO has room.
        StepsUntilIdle(_board, 1000).Should().BeInRange(1, 999,
            "P15: with synchronizer bypass 0 and mode 0 the reader's user-side output is held: the reader stops once its data FIFO is full");
        ulong held = _csr.Read(_dma0.Reader.LoopStatus);
        _board.Step().Should().BeFalse("held");
        _csr.Write(_dma0.Synchronizer!.Bypass, 1);
        _board.Step().Should().BeTrue("bypass releases the user-side streams");
        _csr.Read(_dma0.Reader.LoopStatus).Should().NotBe(held, "released, the reader moves on");
        _csr.Write(_dma0.Synchronizer.Bypass, 0);
        _csr.Write(_dma0.LoopbackEnable!, 1);
        _board.Step().Should().BeTrue("internal loopback is inside the synchronizer and still flows");
    }

    [Test]
    public void Writing_0x40_of_a_design_without_loopback_stalls_its_reader()
    {
        using var board = SimBoards.Manual("sim-kcu105-noloop");
        SimBoards.EnumerateWithBusMaster(board);
        var csr = board.CsrBus;
        var dma = board.Map.Layout.DmaChannels[0];
        var tx = board.Memory.Allocate(4 * 256, "tx");
        csr.Write(dma.Reader.TableReset, 1);
        for (int i = 0; i < 4; i++)
        {
            csr.Write(dma.Reader.TableValue, ((ulong)(LastDisable | 256) << 32) | (uint)tx.BusAddressOf(i * 256));
            csr.Write(dma.Reader.TableWe, 0);
        }

        csr.Write(dma.Reader.LoopProgN, 1);
        csr.Write(dma.Reader.Enable, 1);
        StepsUntilIdle(board, 200).Should().Be(-1, "the reader streams to the user side (loop mode: it never runs dry)");

        // What LITEPCIE_IOCTL_DMA(loopback=1) does on this design: write 1 to base + 0x40 (P14, docs/checklist.md#p14).
        board.WriteBar(0, board.Map.ToBarOffset(dma.BaseAddress + 0x40), 1);
        board.Map.RegisterAt(dma.BaseAddress + 0x40)!.Name.Should().Be("pcie_dma0_buffering_reader_fifo_control");
        StepsUntilIdle(board, 1000).Should().BeInRange(1, 999,
            "the reader FIFO depth limit is now below one stream word: the reader stalls once its data FIFO is full");
        board.Step().Should().BeFalse("stalled");
    }

    /// <summary>Steps until the hardware has nothing to do; the number of steps that moved something, or -1 past <paramref name="max"/>.</summary>
    private static int StepsUntilIdle(SimulatedBoard board, int max)
    {
        for (int i = 0; i < max; i++)
        {
            if (!board.Step())
            {
                return i;
            }
        }

        return -1;
    }
}
