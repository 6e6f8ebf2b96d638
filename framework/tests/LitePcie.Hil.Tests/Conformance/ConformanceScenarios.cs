using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.Tests.Conformance;

/// <summary>A register-level scenario run with identical stimuli on both engines.</summary>
/// <param name="Name">Scenario name (declared differences refer to it).</param>
/// <param name="Item">What it covers: a divergence item of issue 12 ("1".."13") or "agrees".</param>
/// <param name="AppliesTo">Whether the scenario makes sense on a board (null = every board).</param>
/// <param name="Run">The stimulus and observations.</param>
internal sealed record ConformanceScenario(string Name, string Item, Func<BoardProfile, bool>? AppliesTo, Action<ConformanceRig> Run)
{
    public override string ToString() => Name;
}

/// <summary>
/// The conformance scenarios: at least one per divergence item found between the model and the RTL (issue 12, items 1–13)
/// and one per behaviour that agrees. Stimuli are register accesses and host memory; observations are timing-free
/// (loop_status, levels, enable/idle bits, interrupt messages, host memory, bus_errors, IOMMU faults, request counts).
/// </summary>
internal static class ConformanceScenarios
{
    private const int Buffer = 4096;

    private static bool Loopback(BoardProfile p) => p.CsrMap.Layout.DmaChannels[0].LoopbackEnable is not null;

    private static bool UserSource(BoardProfile p) => p.WriterSource == UserWriterSource.SequencePattern;

    public static IReadOnlyList<ConformanceScenario> All { get; } =
    [
        // ---- item 1: ctrl_reset ---------------------------------------------------------------------------------
        new("ctrl_reset", "1", p => p.CsrMap.Layout.Ctrl.Reset is not null, r =>
        {
            r.W(r.L.Ctrl.Scratch, 0xA5A5_0001);
            r.EnableAllMsi();
            if (r.Ch.LoopbackEnable is { } lb)
            {
                r.W(lb, 1);
            }

            r.Push(r.Writer, 0x1000, Buffer);
            r.W(r.L.Ctrl.Reset!, 1);
            r.Settle();
            r.See("ctrl_reset reads", r.R(r.L.Ctrl.Reset!));
            r.See("scratch", r.R(r.L.Ctrl.Scratch));
            r.See("MSI enable", r.R64(r.L.Msi.Enable));
            r.See("loopback_enable", r.Ch.LoopbackEnable is { } l ? r.R(l) : 0u);
            r.SeeEngine("writer", r.Writer);
            r.SeeBusErrors();
        }),

        // ---- item 2: the reader's stream never carries 'last' -------------------------------------------------
        new("reader stream has no last", "2", Loopback, r =>
        {
            var src = r.Source(2 * Buffer);
            var dst = r.Alloc(2 * Buffer);
            r.EnableAllMsi();
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), 2 * Buffer); // last_disable = 0: a 'last' in the stream would end it early
            r.Push(r.Reader, src.BusAddressOf(0), Buffer);
            r.Push(r.Reader, src.BusAddressOf(Buffer), Buffer);
            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.Settle();
            r.See("writer buffer holds both reader buffers", r.Same(dst, 0, src, 0, 2 * Buffer));
            r.SeeMemory("writer buffer", dst);
            r.SeeEngine("writer", r.Writer);
            r.SeeEngine("reader", r.Reader);
            r.SeeMessages();
        }),

        // ---- item 3: a writer descriptor larger than any FIFO, fed by smaller reader descriptors ---------------
        new("writer descriptor larger than the loopback FIFO", "3", Loopback, r =>
        {
            const int big = 32 * 1024;
            var src = r.Source(big);
            var dst = r.Alloc(big);
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), big, lastDisable: true);
            for (int i = 0; i < big / (8 * 1024); i++)
            {
                r.Push(r.Reader, src.BusAddressOf(i * 8 * 1024), 8 * 1024, irqDisable: true);
            }

            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.Settle();
            r.See("writer buffer intact", r.Same(dst, 0, src, 0, big));
            r.SeeEngine("writer", r.Writer);
            r.SeeEngine("reader", r.Reader);
        }),

        // ---- item 4: a table reset does not stop the descriptor in flight ---------------------------------------
        new("table reset with a descriptor in flight", "4", Loopback, r =>
        {
            const int size = 64 * 1024;
            var src = r.Source(size);
            var dst = r.Alloc(size);
            r.EnableAllMsi();
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), size, lastDisable: true);
            r.Push(r.Reader, src.BusAddressOf(0), size);
            r.Enable(r.Writer);
            r.Enable(r.Reader);
            // The driver's stop sequence right away (its flush delay is the settle inside DriverStop).
            r.W(r.Writer.LoopProgN, 0);
            r.W(r.Writer.TableReset, 1);
            r.W(r.Reader.LoopProgN, 0);
            r.W(r.Reader.TableReset, 1);
            r.Settle();
            r.Enable(r.Writer, false);
            r.W(r.Writer.TableReset, 1);
            r.Enable(r.Reader, false);
            r.W(r.Reader.TableReset, 1);
            r.Settle();
            r.See("writer buffer written after the stop", r.Same(dst, 0, src, 0, size));
            r.SeeMemory("writer buffer", dst);
            r.SeeEngine("writer", r.Writer);
            r.SeeEngine("reader", r.Reader);
            r.SeeMessages();
        }),

        new("table reset then reprogram while a descriptor is in flight", "4", Loopback, r =>
        {
            const int size = 32 * 1024;
            var src = r.Source(size);
            var dst = r.Alloc(2 * size);
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), size, lastDisable: true);
            r.Enable(r.Writer);
            r.W(r.Writer.TableReset, 1);              // the first descriptor is in flight, the table empty
            r.Push(r.Writer, dst.BusAddressOf(size), size, lastDisable: true);
            r.See("writer level after the reprogram", r.R(r.Writer.Level));
            r.Push(r.Reader, src.BusAddressOf(0), size, irqDisable: true);
            r.Push(r.Reader, src.BusAddressOf(0), size, irqDisable: true);
            r.Enable(r.Reader);
            r.Settle();
            r.See("first writer buffer written", r.Same(dst, 0, src, 0, size));
            r.See("second writer buffer written", r.Same(dst, size, src, 0, size));
            r.SeeEngine("writer", r.Writer);
            r.SeeEngine("reader", r.Reader);
        }),

        // ---- item 5: disabling mid-descriptor restarts it from its start ---------------------------------------
        new("disable mid-descriptor restarts it", "5", Loopback, r =>
        {
            const int size = 64 * 1024;
            var src = r.Source(size);
            var dst = r.Alloc(size);
            r.EnableAllMsi();
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Enable(r.Writer);                        // no writer descriptor: the loopback path fills and holds the reader
            r.Push(r.Reader, src.BusAddressOf(0), size);
            r.Enable(r.Reader);
            r.Settle();
            r.SeeEngine("reader while held", r.Reader);
            r.SeeMessages("MSI messages while held");
            r.Enable(r.Reader, false);                 // mid-descriptor
            r.Enable(r.Writer, false);                 // drops what the loopback path held
            r.SeeEngine("reader disabled", r.Reader);
            r.Push(r.Writer, dst.BusAddressOf(0), size, lastDisable: true);
            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.Settle();
            r.See("writer buffer is the descriptor from its start", r.Same(dst, 0, src, 0, size));
            r.SeeEngine("reader", r.Reader);
            r.SeeEngine("writer", r.Writer);
            r.SeeMessages();
        }),

        // ---- item 6: the MSI logic has no MSI-enable, function-mask or bus-master input -------------------------
        new("MSI-X with MSI-X disabled in config space", "6", p => p.CsrMap.Layout.Msi.Flavour == MsiFlavour.MsiX && Loopback(p), r =>
        {
            var cs = LitePcie.Hil.Pci.PciConfigSpace.Parse(r.Board.ReadConfigSpace());
            var msix = cs.Find<LitePcie.Hil.Pci.MsiXCapability>()!;
            r.Board.WriteConfig(msix.Offset + 2, 2, 0x0000);         // MSI-X off in config space
            ReaderOnlyBuffer(r);
            r.SeeMessages("messages with MSI-X disabled");
            r.Board.WriteConfig(msix.Offset + 2, 2, 0xC000);         // enabled, function-masked
            ReaderOnlyBuffer(r);
            r.SeeMessages("messages with the function masked");
        }),

        new("MSI raised while MSI is disabled in config space", "6", p => p.CsrMap.Layout.Msi.Flavour != MsiFlavour.MsiX, r =>
        {
            var cs = LitePcie.Hil.Pci.PciConfigSpace.Parse(r.Board.ReadConfigSpace());
            var msi = cs.Find<LitePcie.Hil.Pci.MsiCapability>()!;
            uint control = r.Board.ReadConfig(msi.Offset + 2, 2);
            r.Board.WriteConfig(msi.Offset + 2, 2, control & ~1u);  // MSI off in config space
            ReaderOnlyBuffer(r);
            r.SeeMessages("messages while disabled");
            r.Board.WriteConfig(msi.Offset + 2, 2, control);        // back on: nothing was held for later
            r.Settle();
            r.SeeMessages("messages after enabling");
            r.See("MSI vector", r.L.Msi.Vector is { } v ? r.R(v) : 0u);
        }),

        new("interrupt with bus mastering off", "6", p => Loopback(p) || p.ReaderSink == UserReaderSink.Discard, r =>
        {
            r.Board.WriteConfig(0x04, 2, (uint)LitePcie.Hil.Pci.PciCommand.MemorySpace); // bus master off
            ReaderOnlyBuffer(r, seeData: true);
            r.SeeMessages("messages with bus mastering off");
            r.SeeEngine("reader", r.Reader);
        }),

        // ---- item 7: loop_first -----------------------------------------------------------------------------------
        new("loop_first after power-on", "7", Loopback, r => LoopModeWriter(r, tableReset: false, progPopsFirst: 0)),
        new("loop_first after a table reset", "7", Loopback, r => LoopModeWriter(r, tableReset: true, progPopsFirst: 0)),
        new("loop_first survives prog-mode pops", "7", Loopback, r => LoopModeWriter(r, tableReset: true, progPopsFirst: 2)),

        // ---- item 8: degenerate lengths ----------------------------------------------------------------------------
        new("reader descriptor of length 0", "8", Loopback, r =>
        {
            var src = r.Source(2 * Buffer);
            var dst = r.Alloc(2 * Buffer);
            r.EnableAllMsi();
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), Buffer, lastDisable: true);
            r.Push(r.Reader, src.BusAddressOf(0), 0);
            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.Settle();
            r.See("writer got 4 KiB from the reader's address", r.Same(dst, 0, src, 0, Buffer));
            r.SeeEngine("reader", r.Reader);
            r.SeeEngine("writer", r.Writer);
            r.SeeMessages();
            r.SeeDmaFaults();
        }),

        new("writer descriptor of length 0", "8", Loopback, r =>
        {
            var src = r.Source(Buffer);
            var dst = r.Alloc(64 * 1024);
            r.EnableAllMsi();
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), 0);
            r.Push(r.Reader, src.BusAddressOf(0), Buffer, irqDisable: true);
            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.RunCycles(200_000);
            r.SeeMemory("writer buffer", dst);
            r.SeeEngine("writer", r.Writer);
            r.SeeEngine("reader", r.Reader);
            r.SeeMessages();
        }),

        // ---- item 9: synchronizer without PPS --------------------------------------------------------------------
        new("synchronizer mode without PPS", "9", p => p.CsrMap.Layout.DmaChannels[0].Synchronizer is not null && UserSource(p), r =>
        {
            var dst = r.Alloc(2 * r.Profile.DmaGeometry.BufferSize);
            var sync = r.Ch.Synchronizer!;
            if (r.Ch.LoopbackEnable is { } lb)
            {
                r.W(lb, 0);
            }

            r.W(sync.Bypass, 0);
            r.W(sync.Enable, 1);                                   // mode 1: release on PPS (never, standalone)
            r.Push(r.Writer, dst.BusAddressOf(0), r.Profile.DmaGeometry.BufferSize, lastDisable: true);
            r.Enable(r.Writer);
            r.RunCycles(100_000);
            r.SeeEngine("writer while synchronizing", r.Writer);
            r.W(sync.Bypass, 1);
            r.Settle(1 << 20);
            r.SeeEngine("writer after bypass", r.Writer);
            var pattern = new LitePcie.Hil.Dma.SequencePattern(r.Profile.DmaGeometry.BufferSize);
            r.See("first buffer after the release is sequence 0", pattern.Matches(dst.Span(0, r.Profile.DmaGeometry.BufferSize), 0) ? "yes" : "no");
        }),

        // ---- item 10: buffering status and control -------------------------------------------------------------
        new("buffering status and control", "10", p => p.CsrMap.Layout.DmaChannels[0].Buffering is not null, r =>
        {
            var b = r.Ch.Buffering!;
            r.See("reader fifo_control at reset", r.R(b.ReaderFifoControl));
            r.See("writer fifo_control at reset", r.R(b.WriterFifoControl));
            r.See("reader fifo_status at reset", r.R(b.ReaderFifoStatus));
            r.See("writer fifo_status at reset", r.R(b.WriterFifoStatus));
            r.W(b.ReaderFifoControl, 1u << 31);                    // level mode: minimum since clear
            r.W(b.WriterFifoControl, 1u << 31);                    // level mode: maximum since clear
            r.See("reader fifo_status, min mode", r.R(b.ReaderFifoStatus));
            r.See("writer fifo_status, max mode", r.R(b.WriterFifoStatus));
            r.See("reader fifo_control readback", r.R(b.ReaderFifoControl));
        }),

        new("buffering level with the user source held", "10", p => p.CsrMap.Layout.DmaChannels[0].Buffering is not null && UserSource(p), r =>
        {
            var b = r.Ch.Buffering!;
            if (r.Ch.LoopbackEnable is { } lb)
            {
                r.W(lb, 0);
            }

            if (r.Ch.Synchronizer is { } sync)
            {
                r.W(sync.Bypass, 1);
            }

            r.Enable(r.Writer);                                    // no descriptor: the user source fills the writer's FIFOs
            r.RunCycles(50_000);
            r.See("writer fifo_status, instantaneous", r.R(b.WriterFifoStatus));
            r.W(b.WriterFifoControl, (1u << 31) | r.R(b.WriterFifoControl));
            r.See("writer fifo_status, max mode", r.R(b.WriterFifoStatus));
            r.Enable(r.Writer, false);
            r.See("writer fifo_status with the writer disabled", r.R(b.WriterFifoStatus));
            r.See("writer fifo_status, max mode, after disable", r.R(b.WriterFifoStatus));
        }),

        // ---- item 11: TLP splitting counts from the descriptor start -------------------------------------------
        new("TLP splitting from an unaligned descriptor", "11", Loopback, r =>
        {
            var src = r.Source(3 * Buffer);
            var dst = r.Alloc(3 * Buffer);
            r.W(r.Ch.LoopbackEnable!, 1);
            // Starts 256 B before a 4 KiB boundary: requests split from the start cross it.
            r.Push(r.Writer, dst.BusAddressOf(Buffer - 256), 2 * Buffer, irqDisable: true, lastDisable: true);
            r.Push(r.Reader, src.BusAddressOf(Buffer - 256), 2 * Buffer, irqDisable: true);
            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.Settle();
            r.See("writer buffer intact", r.Same(dst, Buffer - 256, src, Buffer - 256, 2 * Buffer));
            var s = r.Board.GetStatistics();
            r.See("read requests", s.ReadRequests);
            r.See("write requests", s.WriteRequests);
            r.See("requests crossing a 4 KiB boundary", s.Requests4KCrossing);
        }),

        // ---- item 12: an access outside every Wishbone slave -----------------------------------------------------
        new("unmapped BAR read", "12", null, r =>
        {
            uint hole = 0xF000;                                     // inside BAR0, outside every CSR page and window
            long before = r.Board.GetStatistics().Cycles;
            uint v = r.Board.ReadBar(r.Profile.CsrBar.Index, hole);
            long cycles = r.Board.GetStatistics().Cycles - before;
            r.See("value", v);
            r.See("cycles until the completion", r.Board.Engine == SimEngine.Rtl ? (cycles >= 1_000_000 ? "1,000,000 or more" : cycles.ToString(System.Globalization.CultureInfo.InvariantCulture)) : "0 (no clock)");
            r.SeeBusErrors();
            r.See("scratch right after", r.R(r.L.Ctrl.Scratch));
        }),

        // ---- item 13: flow control --------------------------------------------------------------------------------
        new("lossy loop mode", "13", Loopback, r =>
        {
            // The writer loops over 2 slots while the reader supplies 5 buffers: nobody consumes, the writer overwrites.
            var (src, dst) = TwoSlotLoopFedFiveBuffers(r);
            r.See("slot 0 holds buffer 4", r.Same(dst, 0, src, 4 * Buffer, Buffer));
            r.See("slot 1 holds buffer 3", r.Same(dst, Buffer, src, 3 * Buffer, Buffer));
            r.SeeEngine("writer", r.Writer);
        }),

        new("host flow control holds the writer", "13", Loopback, r =>
        {
            // What SimFlowControl=true does (the SIL's default): the client never consumed, so the writer may not pass the ring.
            r.Board.FlowControl = new HoldAfter(2);
            var (src, dst) = TwoSlotLoopFedFiveBuffers(r);
            r.See("slot 0 holds buffer 0", r.Same(dst, 0, src, 0, Buffer));
            r.SeeEngine("writer", r.Writer);
        }),

        // ---- what agrees ----------------------------------------------------------------------------------------
        new("descriptor write protocol", "agrees", Loopback, r =>
        {
            var src = r.Source(Buffer);
            var dst = r.Alloc(Buffer);
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), Buffer);
            r.Push(r.Reader, src.BusAddressOf(0), Buffer);
            r.See("table_value readback", r.R64(r.Reader.TableValue));
            r.See("table_we readback", r.R(r.Reader.TableWe));
            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.Settle();
            r.See($"data at bus 0x{dst.BusAddressOf(0):X}", r.Same(dst, 0, src, 0, Buffer));
            r.SeeEngine("writer", r.Writer);
        }),

        new("we only in prog mode", "agrees", null, r =>
        {
            r.W(r.Writer.TableReset, 1);
            r.Push(r.Writer, 0x10000, Buffer);
            r.W(r.Writer.LoopProgN, 1);
            r.Push(r.Writer, 0x20000, Buffer);
            r.See("level after a push in loop mode", r.R(r.Writer.Level));
            r.W(r.Writer.LoopProgN, 0);
            r.Push(r.Writer, 0x30000, Buffer);
            r.See("level after a push in prog mode", r.R(r.Writer.Level));
        }),

        new("table full drops the push", "agrees", null, r =>
        {
            r.W(r.Reader.TableReset, 1);
            for (int i = 0; i < 258; i++)
            {
                r.Push(r.Reader, 0x10000 + (ulong)i * 0x1000, Buffer);
            }

            r.See("level", r.R(r.Reader.Level));
            r.SeeEngine("reader", r.Reader);
        }),

        new("loop_status in the driver's flow", "agrees", Loopback, r =>
        {
            // The driver's start: table reset, prog mode, push the ring, loop mode, enable. 7 buffers through a 4-slot ring.
            var src = r.Source(Buffer);
            var dst = r.Alloc(4 * Buffer);
            r.W(r.Ch.LoopbackEnable!, 1);
            r.W(r.Writer.Enable, 0);
            r.W(r.Writer.TableReset, 1);
            r.W(r.Writer.LoopProgN, 0);
            for (int i = 0; i < 4; i++)
            {
                r.Push(r.Writer, dst.BusAddressOf(i * Buffer), Buffer, irqDisable: true, lastDisable: true);
            }

            r.W(r.Writer.LoopProgN, 1);
            r.Enable(r.Writer);
            for (int i = 0; i < 7; i++)
            {
                r.Push(r.Reader, src.BusAddressOf(0), Buffer, irqDisable: true);
            }

            r.Enable(r.Reader);
            r.Settle();
            r.SeeEngine("writer", r.Writer);
            r.SeeEngine("reader", r.Reader);
        }),

        new("enable reads 2 at reset", "agrees", null, r =>
        {
            r.See("writer enable", r.R(r.Writer.Enable));
            r.See("reader enable", r.R(r.Reader.Enable));
            r.See("writer loop_status", r.R(r.Writer.LoopStatus));
            r.See("reader level", r.R(r.Reader.Level));
        }),

        new("MSI vector, clear and enable", "agrees", p => p.CsrMap.Layout.Msi.Flavour != MsiFlavour.MsiX && (Loopback(p) || p.ReaderSink == UserReaderSink.Discard), r =>
        {
            r.W(r.L.Msi.Enable, 0);
            ReaderOnlyBuffer(r, enableMsi: false);
            r.SeeMessages("messages with the source disabled");
            r.See("vector with the source disabled", r.L.Msi.Vector is { } v0 ? r.R(v0) : 0u);
            r.W(r.L.Msi.Enable, 1u << r.Ch.ReaderInterrupt);
            ReaderOnlyBuffer(r, enableMsi: false);
            r.SeeMessages("messages with the source enabled");
            r.See("vector after the interrupt", r.L.Msi.Vector is { } v1 ? r.R(v1) : 0u);
            if (r.L.Msi.Clear is { } clear)
            {
                r.W(clear, 1u << r.Ch.ReaderInterrupt);
                r.See("vector after clear", r.R(r.L.Msi.Vector!));
            }
        }),

        new("MSI order across engines", "agrees", Loopback, r =>
        {
            var src = r.Source(Buffer);
            var dst = r.Alloc(Buffer);
            r.EnableAllMsi();
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Reader, src.BusAddressOf(0), Buffer);          // the reader's interrupt first...
            r.Enable(r.Reader);
            r.Enable(r.Writer);
            r.Settle();                                             // (the writer, enabled with an empty table, holds the data)
            r.Push(r.Writer, dst.BusAddressOf(0), Buffer);          // ...then the writer's
            r.Settle();
            r.SeeMessages();
            if (r.L.Msi.Flavour == MsiFlavour.MsiX && r.L.Msi.Pba is { } pba)
            {
                r.See("PBA", r.R64(pba));
            }
        }),

        new("MSI-X table layout and mask bits", "agrees", p => p.CsrMap.Layout.Msi.Flavour == MsiFlavour.MsiX && Loopback(p), r =>
        {
            uint table = r.Board.Map.ToBarOffset(r.L.Msi.TableBaseAddress!.Value);
            int entry = r.Ch.ReaderInterrupt;
            uint at = table + (uint)entry * 16;
            for (int w = 0; w < 4; w++)
            {
                r.See($"entry {entry} word {w} as the host programmed it", r.Board.ReadBar(0, at + (uint)w * 4));
            }

            r.See("an unprogrammed entry's vector control", r.Board.ReadBar(0, table + 31 * 16 + 12));
            r.Board.WriteBar(0, at + 12, 1);                        // mask the reader's entry
            ReaderOnlyBuffer(r);
            r.SeeMessages("messages with the entry masked");
            r.See("PBA with the entry masked", r.L.Msi.Pba is { } p ? r.R64(p) : 0UL);
            r.Board.WriteBar(0, at + 12, 0);
            r.Settle();
            r.SeeMessages("messages after unmasking");
        }),

        new("identifier ROM", "agrees", null, r =>
        {
            r.See("identifier", r.Csr.ReadIdentifier());
            r.See("ROM beyond the string", r.Board.ReadBar(0, r.Board.Map.ToBarOffset(r.L.Identifier.BaseAddress) + 0x7FC));
        }),

        new("scratch reset value", "agrees", null, r =>
        {
            r.See("scratch at reset", r.R(r.L.Ctrl.Scratch));
            r.W(r.L.Ctrl.Scratch, 0x0BAD_F00D);
            r.See("scratch written", r.R(r.L.Ctrl.Scratch));
            r.SeeBusErrors();
        }),
    ];

    /// <summary>One reader buffer moved and dropped (loopback to a disabled writer, or the user sink), raising the reader's interrupt.</summary>
    private static void ReaderOnlyBuffer(ConformanceRig r, bool enableMsi = true, bool seeData = false)
    {
        var src = r.Source(Buffer);
        if (enableMsi)
        {
            r.EnableAllMsi();
        }

        if (r.Ch.LoopbackEnable is { } lb)
        {
            r.W(lb, 1);
        }

        r.Enable(r.Writer, false);
        r.Push(r.Reader, src.BusAddressOf(0), Buffer);
        r.Enable(r.Reader);
        r.Settle();
        if (seeData)
        {
            r.See("reader completions", r.R(r.Reader.LoopStatus) & 0xFFFF);
        }
    }

    /// <summary>
    /// Writer in loop mode over a 2-slot table fed by 5 reader buffers: 5 writer pops whose loop_status depends on
    /// loop_first. Optionally without the table reset the driver does (power-on state), or after prog-mode pops.
    /// </summary>
    private static void LoopModeWriter(ConformanceRig r, bool tableReset, int progPopsFirst)
    {
        var src = r.Source(Buffer);
        var dst = r.Alloc(2 * Buffer);
        r.W(r.Ch.LoopbackEnable!, 1);
        if (tableReset)
        {
            r.W(r.Writer.TableReset, 1);
        }

        if (progPopsFirst > 0)
        {
            for (int i = 0; i < progPopsFirst; i++)
            {
                r.Push(r.Writer, dst.BusAddressOf(0), Buffer, irqDisable: true, lastDisable: true);
                r.Push(r.Reader, src.BusAddressOf(0), Buffer, irqDisable: true);
            }

            r.Enable(r.Writer);
            r.Enable(r.Reader);
            r.Settle();
            r.SeeEngine("writer after prog-mode pops", r.Writer);
            r.Enable(r.Writer, false);
            r.Enable(r.Reader, false);
        }

        r.Push(r.Writer, dst.BusAddressOf(0), Buffer, irqDisable: true, lastDisable: true);
        r.Push(r.Writer, dst.BusAddressOf(Buffer), Buffer, irqDisable: true, lastDisable: true);
        r.W(r.Writer.LoopProgN, 1);
        for (int i = 0; i < 5; i++)
        {
            r.Push(r.Reader, src.BusAddressOf(0), Buffer, irqDisable: true);
        }

        r.Enable(r.Writer);
        r.Enable(r.Reader);
        r.Settle();
        r.SeeEngine("writer", r.Writer);
        r.SeeEngine("reader", r.Reader);
    }

    /// <summary>The writer in loop mode over 2 slots of one buffer each, fed 5 different reader buffers through the loopback.</summary>
    private static (HostAllocation Source, HostAllocation Slots) TwoSlotLoopFedFiveBuffers(ConformanceRig r)
    {
        var src = r.Source(5 * Buffer);
        var dst = r.Alloc(2 * Buffer);
        r.W(r.Ch.LoopbackEnable!, 1);
        r.W(r.Writer.TableReset, 1);
        r.Push(r.Writer, dst.BusAddressOf(0), Buffer, irqDisable: true, lastDisable: true);
        r.Push(r.Writer, dst.BusAddressOf(Buffer), Buffer, irqDisable: true, lastDisable: true);
        r.W(r.Writer.LoopProgN, 1);
        for (int i = 0; i < 5; i++)
        {
            r.Push(r.Reader, src.BusAddressOf(i * Buffer), Buffer, irqDisable: true);
        }

        r.Enable(r.Writer);
        r.Enable(r.Reader);
        r.Settle();
        return (src, dst);
    }

    /// <summary>A host flow control that lets an engine complete <paramref name="limit"/> descriptors and holds it there.</summary>
    private sealed class HoldAfter(long limit) : IHostFlowControl
    {
        public bool MayProcess(int channel, DmaDirection direction, long completed) => direction == DmaDirection.Reader || completed < limit;
    }
}
