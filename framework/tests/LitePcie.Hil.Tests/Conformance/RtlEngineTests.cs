using System.Diagnostics;
using System.Globalization;
using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.DeviceServer;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Gateware;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Conformance;

/// <summary>
/// The RTL engine's root complex: 4-DW request headers, completions split at the read completion boundary and
/// tag-matched, UR and CA for what the IOMMU refuses, and the engine's rate (cycles/s, MB/s, printed for docs/rtl.md).
/// </summary>
[TestFixture]
[Category("Conformance")]
[NonParallelizable]
public sealed class RtlEngineTests
{
    private static ConformanceRig Rig(string board)
    {
        if (RtlEngine.Unavailable(BoardCatalog.Load(board)) is { } why)
        {
            RtlTools.Unavailable(why);
        }

        return new ConformanceRig(board, SimEngine.Rtl);
    }

    [Test]
    public void Reads_complete_in_read_completion_boundary_pieces_and_64_bit_addresses_use_4_dw_headers()
    {
        using var r = Rig("sim-xcu1525-msix");
        var src = r.Source(16 * 1024);
        var dst = r.Alloc(16 * 1024);
        r.W(r.Ch.LoopbackEnable!, 1);
        r.Push(r.Writer, dst.BusAddressOf(0), 16 * 1024, irqDisable: true, lastDisable: true);
        r.Push(r.Reader, src.BusAddressOf(0), 16 * 1024, irqDisable: true);
        r.Enable(r.Writer);
        r.Enable(r.Reader);
        r.Settle();

        r.Same(dst, 0, src, 0, 16 * 1024).Should().Be("yes", "the buffers are above 4 GiB: only 64-bit addresses reach them");
        var s = r.Board.RtlStatistics()!.Value;
        dst.BusAddressOf(0).Should().BeGreaterThan(uint.MaxValue, "the 64-bit board's IOVAs are above 4 GiB");
        s.FourDwRequests.Should().Be(s.ReadRequests + s.WriteRequests, "every request carries a 64-bit address");
        s.ReadRequests.Should().Be(16 * 1024 / 512, "max read request 512 B");
        s.Completions.Should().Be(16 * 1024 / 64, "the root complex completes at every 64-byte boundary");
        s.UnexpectedTlps.Should().Be(0);
        s.MalformedTlps.Should().Be(0);
    }

    [Test]
    public void Reads_the_IOMMU_refuses_complete_with_UR_or_CA_and_are_recorded()
    {
        using var r = Rig(BoardCatalog.DefaultBoard);
        var src = r.Source(4096);
        r.W(r.Ch.LoopbackEnable!, 1);
        r.Push(r.Reader, 0x0BAD_0000, 512, irqDisable: true);                      // nothing mapped there: UR
        r.Push(r.Reader, src.BusAddressOf(4096 - 256), 512, irqDisable: true);     // runs past the end of the mapping: CA
        r.Enable(r.Reader);
        r.Settle();

        var s = r.Board.RtlStatistics()!.Value;
        s.UrCompletions.Should().Be(1);
        s.CaCompletions.Should().Be(1);
        r.Board.Memory.Faults.Select(f => f.BusAddress).Should().Contain([0x0BAD_0000UL, src.BusAddressOf(4096 - 256)]);
        r.R(r.Reader.Level).Should().Be(0u, "error completions retire their tags: the reader is not left waiting");
    }

    [Test]
    public void Requests_without_bus_mastering_are_counted()
    {
        using var r = Rig(BoardCatalog.DefaultBoard);
        r.Board.WriteConfig(0x04, 2, 2);
        var src = r.Source(4096);
        r.W(r.Ch.LoopbackEnable!, 1);
        r.Push(r.Reader, src.BusAddressOf(0), 4096, irqDisable: true);
        r.Enable(r.Reader);
        r.Settle();
        r.Board.RtlStatistics()!.Value.BusMasterViolations.Should().Be(8, "the RTL has no bus-master input; the root complex counts what it sent anyway");
    }

    /// <summary>
    /// The device server's guest coupling (<c>--lead</c>, <see cref="GuestPacing"/>) on the RTL engine: the free-running
    /// hardware thread stops the clock once an engine is <c>lead</c> buffers ahead of the driver's last loop_status read,
    /// and runs on when the driver looks again. Without it the RTL laps its ring while a TCG guest is descheduled (the
    /// "Reading too late" losses of issue 13's long RTL guest run).
    /// </summary>
    [Test]
    public void A_guest_coupling_stops_the_clock_at_the_lead_until_the_driver_looks()
    {
        using var r = Rig(BoardCatalog.DefaultBoard);
        const int slots = 8, lead = 3, buffer = 8192;
        var src = r.Source(slots * buffer);
        var dst = r.Alloc(slots * buffer);
        var pacing = new GuestPacing(r.Board.Map, lead, maxHold: TimeSpan.FromHours(1));
        r.Board.FlowControl = pacing;
        r.W(r.Ch.LoopbackEnable!, 1);
        foreach (var (e, ring) in new[] { (r.Writer, dst), (r.Reader, src) })
        {
            r.W(e.TableReset, 1);
            r.W(e.LoopProgN, 0);
            for (int i = 0; i < slots; i++)
            {
                r.Push(e, ring.BusAddressOf(i * buffer), buffer, irqDisable: true, lastDisable: e == r.Writer);
            }

            r.W(e.LoopProgN, 1);
        }

        r.Enable(r.Writer);
        r.Enable(r.Reader);
        long Done(DmaEngineLayout e) => new HwCounter(slots).Update(r.R(e.LoopStatus));
        int RunUntilHeld()
        {
            int steps = 0;
            while (steps < 400 && r.Board.Step())
            {
                steps++;
            }

            return steps;
        }

        RunUntilHeld().Should().BeLessThan(400, "the engines reach their lead and the clock stops");
        ulong cycles = r.Board.RtlStatistics()!.Value.Cycles; // (the board's statistics read bus_errors: a register read runs the clock)
        r.Board.Step().Should().BeFalse("held: the driver has not looked");
        r.Board.Step().Should().BeFalse();
        r.Board.RtlStatistics()!.Value.Cycles.Should().Be(cycles, "a hold gates the clock: not one cycle runs");
        long writer = Done(r.Writer);
        writer.Should().BeInRange(lead - 1, lead + 1, $"the writer stops about {lead} descriptors ahead of a driver that never looked (ring of {slots})");
        Done(r.Reader).Should().BeInRange(lead - 1, lead + 1);

        pacing.OnCsrRead(r.Board.Map.BarOffsetOf(r.Writer.LoopStatus));
        pacing.OnCsrRead(r.Board.Map.BarOffsetOf(r.Reader.LoopStatus));
        RunUntilHeld().Should().BePositive("the driver looked: the engines run on");
        Done(r.Writer).Should().BeInRange(writer + lead - 1, writer + lead + 1, "another lead, then held again");
        pacing.Holds.Should().BePositive();
        r.Board.Memory.Faults.Should().BeEmpty();
    }

    /// <summary>The engine's rate on each board: loopback of 4 MiB at register level (figures for docs/rtl.md).</summary>
    [TestCase("sim-ac701-2ch")]
    [TestCase("sim-kcu105-noloop")]
    [TestCase("sim-xcu1525-msix")]
    public void Rate_of_the_engine(string board)
    {
        using var r = Rig(board);
        const int size = 4 << 20;
        var src = r.Source(size);
        var dst = r.Alloc(size);
        bool loopback = r.Ch.LoopbackEnable is not null;
        if (loopback)
        {
            r.W(r.Ch.LoopbackEnable!, 1);
            r.Push(r.Writer, dst.BusAddressOf(0), size & 0xFF_FFFF, irqDisable: true, lastDisable: true);
            r.Enable(r.Writer);
        }

        r.Push(r.Reader, src.BusAddressOf(0), size & 0xFF_FFFF, irqDisable: true);
        long cycles0 = r.Board.GetStatistics().Cycles;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        r.Enable(r.Reader);
        r.Settle(64 << 20);
        clock.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        long cycles = r.Board.GetStatistics().Cycles - cycles0;
        if (loopback)
        {
            r.Same(dst, 0, src, 0, size).Should().Be("yes");
        }

        double s = clock.Elapsed.TotalSeconds;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{board}: {size >> 20} MiB {(loopback ? "loopback (read + write)" : "read")} in {cycles} cycles, {s:0.00} s: " +
            $"{cycles / s / 1e6:0.00} M cycles/s, {size / s / 1e6:0.0} MB/s per direction, {(double)size / cycles:0.0} B/cycle, CPU {cpu.TotalSeconds / s:0.00} cores");
        TestContext.Out.WriteLine(line);
        cycles.Should().BePositive();
    }
}
