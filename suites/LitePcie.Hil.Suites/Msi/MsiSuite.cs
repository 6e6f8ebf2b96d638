using System.Diagnostics;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Reporting.Charts;
using LitePcie.Hil.Measurement;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.Msi;

/// <summary>
/// MSI delivery (HIL-07, pci_endpoint_test's per-vector identity): which source fired, how many interrupts a
/// known transfer raises, the enable mask, silence when idle, liveness while streaming (P1), and the
/// delivery latency distribution. Interrupts are raised by internal loopback DMA on channel 0.
/// </summary>
[TestFixtureSource(typeof(BoardSource), nameof(BoardSource.Targets))]
[Category("Msi")]
[Feature("MSI delivery")]
[Severity(AllureSeverity.Critical)]
public sealed class MsiSuite(BoardTarget target) : DeviceSuite(target)
{
    private IDmaChannel Channel => Context.Session.Channels[0];

    [Test]
    public async Task Interrupt_source_identity_reader_and_writer_bits_are_distinct()
    {
        RequireLoopback();
        RequireDriver(new DmaStartOptions(32, InterruptsMasked: true), perSourceCounts: true);
        var ch = Channel;
        foreach (var masked in DmaDirectionExtensions.All)
        {
            var live = masked == DmaDirection.Writer ? DmaDirection.Reader : DmaDirection.Writer;
            Dictionary<DmaDirection, DmaCounters> counters = [];
            // Within one ring: the masked direction's driver count never moves, so the client cannot report
            // progress on it beyond one ring (the dext refuses software counts past that).
            await Context.StepAsync($"stream with only the {live.Describe()} interrupt enabled", () =>
                Stream(ch, buffers: ch.Geometry.BufferCount - 32, irqEvery: 32, maskedDirection: masked, check: c => counters = c));
            long liveIrqs = counters[live].Interrupts;
            long maskedIrqs = counters[masked].Interrupts;
            Context.Log($"{live.Describe()} bit {ch.Layout.Interrupt(live)}: {liveIrqs} interrupts; {masked.Describe()} bit {ch.Layout.Interrupt(masked)} (masked): {maskedIrqs}");
            liveIrqs.Should().BeGreaterThan(0, $"pcie_dma0 {live.Describe()} (MSI bit {ch.Layout.Interrupt(live)}) raised interrupts while streaming");
            maskedIrqs.Should().Be(0, $"pcie_dma0 {masked.Describe()} (MSI bit {ch.Layout.Interrupt(masked)}) was masked: no interrupt may be attributed to it");
        }
    }

    [Test]
    public async Task Interrupt_count_equals_completed_buffers_over_irqEvery()
    {
        RequireLoopback();
        RequireDriver(perSourceCounts: true);
        var ch = Channel;
        const int irqEvery = 32;
        int buffers = Context.Options.MsiTransferBuffers;
        await Stream(ch, buffers, irqEvery, maskedDirection: null, check: counters =>
        {
            foreach (var d in DmaDirectionExtensions.All)
            {
                var c = counters[d];
                // hw_count only moves in the ISR, to (k − 1) at an IRQ descriptor: one interrupt per irqEvery buffers,
                // plus the one at the first descriptor (spec §4.3, §6.4).
                long expected = c.HwCount / irqEvery + 1;
                Context.Log($"pcie_dma0 {d.Describe()}: hardware count {c.HwCount}, interrupts {c.Interrupts}, expected {expected}");
                c.Interrupts.Should().Be(expected,
                    $"pcie_dma0 {d.Describe()}: {c.HwCount} buffers at irqEvery {irqEvery} must raise {expected} interrupts; {expected - c.Interrupts} lost");
            }
        });
    }

    [Test]
    public async Task Enable_mask_suppresses_interrupts_while_the_hardware_runs()
    {
        RequireLoopback();
        var ch = Channel;
        var before = Context.Session.GetInterruptStatistics();
        ch.SetLoopback(true);
        var masked = new DmaStartOptions(32, InterruptsMasked: true);
        RequireDriver(masked);
        ch.Start(DmaDirection.Writer, masked);
        ch.Start(DmaDirection.Reader, masked);
        try
        {
            var tx = ch.Ring(DmaDirection.Reader);
            var pattern = new SequencePattern(ch.Geometry.BufferSize);
            for (int i = 0; i < ch.Geometry.BufferCount; i++)
            {
                pattern.Fill(tx.Write(i), i);
            }

            ch.UpdateSwCount(DmaDirection.Reader, ch.Geometry.BufferCount);
            var statusReg = ch.Layout.Writer.LoopStatus;
            uint status = 0;
            var clock = Stopwatch.StartNew();
            while (clock.ElapsedMilliseconds < 2000 && (status = Context.Session.Read32(statusReg)) < 32)
            {
                await Task.Delay(1, Context.Cancellation);
            }

            Context.Log($"{statusReg.Name} = {LoopStatus.FromRaw(status)} with interrupts masked");
            status.Should().BeGreaterThanOrEqualTo(32u, $"{statusReg.Name}: the writer ran with its interrupt masked");
            await Task.Delay(20, Context.Cancellation);
            var after = Context.Session.GetInterruptStatistics();
            (after.Messages - before.Messages).Should().Be(0, "no MSI may arrive while every DMA source is masked in pcie_msi_enable");
            ch.GetCounters(DmaDirection.Writer).HwCount.Should().Be(0, "the driver's count only moves on interrupts");
        }
        finally
        {
            ch.Stop(DmaDirection.Reader);
            ch.Stop(DmaDirection.Writer);
        }
    }

    [Test]
    public async Task No_spurious_interrupts_when_idle()
    {
        // A message posted just before the previous DMA stopped may still be in flight: let it land first.
        await Task.Delay(50, Context.Cancellation);
        var before = Context.Session.GetInterruptStatistics();
        await Context.StepAsync($"stay idle {Context.Options.MsiIdleMs} ms", () => Task.Delay(Context.Options.MsiIdleMs, Context.Cancellation));
        var after = Context.Session.GetInterruptStatistics();
        long arrived = after.Messages - before.Messages;
        long spurious = after.Spurious - before.Spurious;
        Context.Log($"idle {Context.Options.MsiIdleMs} ms: {arrived} MSI message(s), {spurious} spurious");
        arrived.Should().Be(0, $"spurious interrupts: {arrived} MSI message(s) arrived in {Context.Options.MsiIdleMs} ms with no DMA running ({spurious} had no source pending)");
    }

    [Test]
    [Spec("P1")]
    [Spec("HIL-07")]
    [Issue("enjoy-digital/litepcie", 119)]
    public async Task Interrupts_stay_alive_while_streaming()
    {
        RequireLoopback();
        var ch = Channel;
        int livenessMs = Context.Options.MsiLivenessMs;
        var statusReg = ch.Layout.Writer.LoopStatus;
        var worstLag = TimeSpan.Zero;
        long worstBuffers = 0;
        var problems = new List<string>();
        var sampler = new CancellationTokenSource();
        // P1: watch the hardware's loop_status against the driver's interrupt-fed count; the hardware advancing
        // while the driver count is frozen longer than the bound means interrupts stopped arriving.
        var watch = Task.Run(async () =>
        {
            var counter = new HwCounter(ch.Geometry.BufferCount);
            long frozenSince = 0;
            long lastDriver = -1;
            while (!sampler.IsCancellationRequested)
            {
                long hw = counter.Update(Context.Session.Read32(statusReg));
                long driver = ch.GetCounters(DmaDirection.Writer).HwCount;
                long now = Stopwatch.GetTimestamp();
                if (driver != lastDriver)
                {
                    lastDriver = driver;
                    frozenSince = now;
                }
                else if (hw - driver > 2L * 32)
                {
                    var lag = Stopwatch.GetElapsedTime(frozenSince, now);
                    if (lag > worstLag)
                    {
                        worstLag = lag;
                        worstBuffers = hw - driver;
                    }

                    if (lag.TotalMilliseconds > livenessMs && problems.Count == 0)
                    {
                        problems.Add($"interrupt liveness lost: {statusReg.Name} advanced to buffer {hw} while the driver's count stayed at {driver} for {lag.TotalMilliseconds:0} ms (bound {livenessMs} ms)");
                    }
                }

                await Task.Delay(2).ConfigureAwait(false);
            }
        });
        try
        {
            await Stream(ch, Context.Options.MsiTransferBuffers, 32, null, allowStall: true);
        }
        finally
        {
            await sampler.CancelAsync();
            await watch;
            sampler.Dispose();
        }

        Context.Log($"worst driver lag behind loop_status: {worstBuffers} buffers for {worstLag.TotalMilliseconds:0.0} ms");
        problems.Should().BeEmpty("HIL-07/P1: the hardware must not run ahead of the interrupt-fed driver count for longer than MsiLivenessMs");
    }

    [Test]
    [Severity(AllureSeverity.Normal)]
    public async Task Delivery_latency_percentiles_are_recorded_and_bounded()
    {
        RequireLoopback();
        RequireDriver(new DmaStartOptions(IrqEvery: 1), perSourceCounts: true);
        var ch = Channel;
        var samples = new LatencySamples();
        ch.SetLoopback(true);
        var start = new DmaStartOptions(IrqEvery: 1);
        var pattern = new SequencePattern(ch.Geometry.BufferSize);
        var tx = ch.Ring(DmaDirection.Reader);
        ch.Start(DmaDirection.Writer, start);
        ch.Start(DmaDirection.Reader, start);
        try
        {
            // One buffer at a time: the driver's count is (completed − 1), so keep one buffer more in flight than
            // the count awaited; each round adds one buffer, waits for the writer's interrupt and times the wake-up.
            long sent = 0;
            for (; sent < 1; sent++)
            {
                pattern.Fill(tx.Write(sent), sent);
            }

            for (int i = 0; i < 4000 && samples.Count < 1000; i++)
            {
                // The target is taken before the buffer is released: released, it may complete at once.
                long target = ch.GetCounters(DmaDirection.Writer).HwCount + 1;
                pattern.Fill(tx.Write(sent), sent);
                sent++;
                ch.UpdateSwCount(DmaDirection.Reader, sent);
                bool pending = ch.GetCounters(DmaDirection.Writer).HwCount < target;
                var c = await ch.WaitAsync(DmaDirection.Writer, target, TimeSpan.FromSeconds(5), Context.Cancellation);
                long woke = Stopwatch.GetTimestamp();
                if (pending && c.LastInterruptTimestamp > 0 && woke >= c.LastInterruptTimestamp)
                {
                    samples.Add(woke - c.LastInterruptTimestamp); // only waits that actually slept: interrupt → wake
                }

                ch.UpdateSwCount(DmaDirection.Writer, c.HwCount);
            }
        }
        finally
        {
            ch.Stop(DmaDirection.Reader);
            ch.Stop(DmaDirection.Writer);
        }

        var s = samples.Summarize();
        Context.Log($"interrupt → client wake latency: {s}");
        Context.AttachText("MSI delivery latency", s.ToString());
        Context.AttachSvg("MSI delivery latency histogram", ReportCharts.Latency(samples, $"MSI → client wake latency, {Target} ({s.Count} interrupts)"));
        Context.AttachCsv("MSI delivery latency samples", samples.ToCsv());
        samples.Count.Should().BeGreaterThan(100, "interrupt timestamps were recorded by the driver");
        s.P99Us.Should().BeLessThanOrEqualTo(Context.Options.MsiMaxLatencyUs, $"p99 delivery latency bound MsiMaxLatencyUs ({s})");
    }

    /// <summary>Skips (with the driver's reason) a test the driver cannot run: options it cannot start with, or per-source counts it does not keep.</summary>
    private void RequireDriver(DmaStartOptions? options = null, bool perSourceCounts = false)
    {
        if (options is not null && Channel.Unsupported(options) is { } why)
        {
            Assert.Ignore(why);
        }

        if (perSourceCounts && !Channel.CountsInterruptsPerSource)
        {
            Assert.Ignore($"{Context.Session.Info.Driver} does not count interrupts per source (nor time-stamp them): this check needs the dext");
        }
    }

    private void RequireLoopback()
    {
        if (Channel.Layout.LoopbackEnable is null)
        {
            Assert.Ignore($"{Context.Profile.Name} has no DMA loopback: interrupts are raised by looped DMA in this suite");
        }
    }

    /// <summary>
    /// Streams <paramref name="buffers"/> buffers through loopback (optionally with one direction's interrupt
    /// masked), then runs <paramref name="check"/> on both directions' counters taken before the stop.
    /// </summary>
    private async Task Stream(IDmaChannel ch, int buffers, int irqEvery, DmaDirection? maskedDirection,
        Action<Dictionary<DmaDirection, DmaCounters>>? check = null, bool allowStall = false)
    {
        ch.SetLoopback(true);
        ch.Start(DmaDirection.Writer, new DmaStartOptions(irqEvery, maskedDirection == DmaDirection.Writer));
        ch.Start(DmaDirection.Reader, new DmaStartOptions(irqEvery, maskedDirection == DmaDirection.Reader));
        var counters = new Dictionary<DmaDirection, DmaCounters>();
        try
        {
            var tx = ch.Ring(DmaDirection.Reader);
            var pattern = new SequencePattern(ch.Geometry.BufferSize);
            long txSw = 0, rxSw = 0;
            var clock = Stopwatch.StartNew();
            var lastProgress = clock.Elapsed;
            while (rxSw < buffers)
            {
                Context.Cancellation.ThrowIfCancellationRequested();
                bool progress = false;
                // With the reader's interrupt masked its count never moves: feed the writer's progress instead.
                long fetched = maskedDirection == DmaDirection.Reader ? rxSw : ch.GetCounters(DmaDirection.Reader).HwCount;
                long limit = Math.Min(fetched + ch.Geometry.BufferCount, buffers + (long)ch.Geometry.BufferCount);
                if (maskedDirection == DmaDirection.Reader)
                {
                    limit = Math.Min(limit, ch.Geometry.BufferCount); // reader count frozen at 0: at most one ring ahead
                }
                if (limit > txSw)
                {
                    for (; txSw < limit; txSw++)
                    {
                        pattern.Fill(tx.Write(txSw), txSw);
                    }

                    ch.UpdateSwCount(DmaDirection.Reader, txSw);
                    progress = true;
                }

                long hw = maskedDirection == DmaDirection.Writer
                    ? new HwCounter(ch.Geometry.BufferCount).Update(Context.Session.Read32(ch.Layout.Writer.LoopStatus))
                    : ch.GetCounters(DmaDirection.Writer).HwCount;
                if (hw > rxSw)
                {
                    rxSw = hw;
                    if (maskedDirection != DmaDirection.Writer)
                    {
                        ch.UpdateSwCount(DmaDirection.Writer, rxSw);
                    }

                    progress = true;
                }

                if (progress)
                {
                    lastProgress = clock.Elapsed;
                }
                else if (clock.Elapsed - lastProgress > TimeSpan.FromMilliseconds(Context.Options.DmaStallTimeoutMs))
                {
                    if (allowStall)
                    {
                        Context.Log($"stream stalled at RX buffer {rxSw} of {buffers}");
                        break;
                    }

                    throw new AssertionException($"pcie_dma0 stalled at RX buffer {rxSw} of {buffers}: no progress for {Context.Options.DmaStallTimeoutMs} ms (interrupts lost?)\n{Context.DumpDma(0)}");
                }
                else
                {
                    await Task.Delay(1, Context.Cancellation);
                }
            }

            foreach (var d in DmaDirectionExtensions.All)
            {
                counters[d] = ch.GetCounters(d);
            }
        }
        finally
        {
            ch.Stop(DmaDirection.Reader);
            ch.Stop(DmaDirection.Writer);
        }

        check?.Invoke(counters);
    }
}
