using System.Diagnostics;
using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Measurement;
using LitePcie.Hil.Options;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Reporting.Charts;
using LitePcie.Hil.Suites.Common;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.Msi;

/// <summary>
/// MSI delivery (HIL-07 in docs/checklist.md, pci_endpoint_test's per-vector identity): which source fired, how many messages a known
/// transfer raises against what the hardware says it completed, the enable mask, silence when idle, liveness while
/// streaming (P1, docs/checklist.md#p1), and the delivery latency distribution. Interrupts are raised by DMA on channel 0: internal
/// loopback where the design has it (the other direction's source masked to isolate one), else the board's
/// user-logic streams (writer-only from its generator, reader-only into its sink).
/// </summary>
[TestFixtureSource(typeof(BoardSource), nameof(BoardSource.Targets))]
[Category("Msi")]
[Feature("MSI delivery")]
[Severity(AllureSeverity.Critical)]
public sealed class MsiSuite(BoardTarget target) : DeviceSuite(target)
{
    private IDmaChannel Channel => Context.Session.Channels[0];

    private bool HasLoopback => Channel.Layout.LoopbackEnable is not null;

    [Test]
    public async Task Interrupt_source_identity_reader_and_writer_bits_are_distinct()
    {
        RequireDriver(new DmaStartOptions(32, InterruptsMasked: true), perSourceCounts: true);
        var ch = Channel;
        var sources = Sources();
        foreach (var live in sources)
        {
            var masked = live.Opposite();
            // Per source since the session opened: a direction that is not restarted keeps its count from earlier streams.
            var before = Context.Session.GetInterruptStatistics().PerSource;
            IReadOnlyDictionary<int, long> after = before;
            // Within one ring: a masked direction's driver count never moves, so the client cannot report progress on it
            // beyond one ring (the dext refuses software counts past that).
            await Context.StepAsync($"stream with only the {live.Describe()} interrupt enabled", () =>
                Stream(ch, live, buffers: ch.Geometry.BufferCount - 32, irqEvery: 32, settle: () =>
                {
                    after = Context.Session.GetInterruptStatistics().PerSource;
                    return Task.CompletedTask;
                }));
            // A started direction's count restarts at 0; the other one (no loopback: not started) counts on from before.
            long liveIrqs = after[ch.Layout.Interrupt(live)];
            long maskedIrqs = after[ch.Layout.Interrupt(masked)] - (HasLoopback ? 0 : before[ch.Layout.Interrupt(masked)]);
            Context.Log($"{live.Describe()} bit {ch.Layout.Interrupt(live)}: {liveIrqs} interrupts; {masked.Describe()} bit {ch.Layout.Interrupt(masked)} ({(HasLoopback ? "masked" : "idle")}): {maskedIrqs}");
            liveIrqs.Should().BeGreaterThan(0, $"pcie_dma0 {live.Describe()} (MSI bit {ch.Layout.Interrupt(live)}) raised interrupts while streaming");
            maskedIrqs.Should().Be(0, $"pcie_dma0 {masked.Describe()} (MSI bit {ch.Layout.Interrupt(masked)}) did not fire: no interrupt may be attributed to it");
        }

        if (sources.Count == 1)
        {
            Context.Log($"{Context.Profile.Name}: only the {sources[0].Describe()} can raise interrupts (no loopback, userLogic gives no stream for the other direction)");
        }
    }

    /// <summary>
    /// Every interrupt the hardware raised arrives: the expected count of each source comes from its engine's own
    /// <c>loop_status</c> (descriptors completed, and which of them carry an interrupt at this irqEvery), not from the
    /// interrupt handler. The driver counts messages as they arrive (a coalesced delivery by its count) and attributes
    /// them to the sources pending. At irqEvery 1 every buffer is an interrupt, so a lost message of any kind shows.
    /// </summary>
    [Test]
    public async Task Interrupt_count_equals_what_the_hardware_completed()
    {
        RequireDriver(new DmaStartOptions(1), perSourceCounts: true);
        if (Context.Options.Target.Backend == BackendKind.Sim && Context.Options.Sim.SimEngine == LitePcie.Hil.Simulation.Gateware.SimEngine.Rtl)
        {
            Assert.Ignore("not judged on the real RTL: its engines never wait for software, so loop_status moves while the counts are compared " +
                "(and with single MSI a message whose event an earlier handler run served counts as spurious); judging messages against " +
                "loop_status here needs the driver's count at MSI-off (open: docs/rtl.md#open-problems)");
        }

        var ch = Channel;
        const int irqEvery = 1;
        int buffers = Context.Options.Msi.MsiTransferBuffers;
        var sources = Sources();
        var running = HasLoopback ? sources : [sources[0]];
        // Single MSI with both sources live cannot show a lost message: one message may stand for both (events in the same
        // cycle), and the next message of either source finds the lost one's sticky vector bit, so the handler credits it
        // after all (msi-drop=0.001 went undetected on sim-ac701-2ch: 16,875 messages for 16,896 events, every source's
        // count equal to its loop_status). Each source is then counted alone, the other masked: one message per event. A
        // masked direction's driver count never moves, so such a stream stays within one ring: streams of ring - 32 buffers
        // until each source has sent as many messages as the one stream would have.
        bool shared = Context.Map.Layout.Msi.Flavour == MsiFlavour.Single;
        bool alone = shared && running.Count > 1;
        List<List<DmaDirection>> groups = alone ? [.. running.Select(d => new List<DmaDirection> { d })] : [running];
        int chunk = alone ? ch.Geometry.BufferCount - 32 : buffers;
        foreach (var group in groups)
        {
            string what = $"{string.Join(" + ", group.Select(d => d.RegisterPrefix()))}{(alone ? $", {group[0].Opposite().RegisterPrefix()} masked" : "")}";
            await Context.StepAsync($"{buffers} buffers at irqEvery {irqEvery} ({what}{(alone ? $", in streams of {chunk}" : "")}): messages against loop_status", async () =>
            {
                for (int moved = 0; moved < buffers; moved += chunk)
                {
                    Context.Session.Read32(Context.Map.Layout.Ctrl.Scratch); // the previous stream's messages are in by its completion
                    var before = Context.Session.GetInterruptStatistics();
                    string? verdict = null;
                    await Stream(ch, group[0], Math.Min(chunk, buffers - moved), irqEvery, bothSources: !alone,
                        settle: async () => verdict = await MessagesMatchHardware(ch, group, irqEvery, before));
                    if (verdict is not null)
                    {
                        throw alone ? Verdict.At(verdict, $"stream from buffer {moved} of {buffers} ({what})") : new AssertionException(verdict);
                    }
                }
            });
        }
    }

    /// <summary>
    /// Waits (bounded) until, for every running source, the interrupts attributed to it equal those its engine raised,
    /// and the messages that arrived account for them (one each with a vector per source; single MSI may carry several
    /// sources in one message). Counts are read before <c>loop_status</c>: a message always follows its completion, so
    /// this order never over-counts. Returns null when they agree, else the verdict in device terms.
    /// </summary>
    private async Task<string?> MessagesMatchHardware(IDmaChannel ch, List<DmaDirection> running, int irqEvery, InterruptStatistics before)
    {
        var counters = running.ToDictionary(d => d, _ => new HwCounter(ch.Geometry.BufferCount));
        var bound = TimeSpan.FromMilliseconds(Context.Options.Dma.DmaStallTimeoutMs);
        bool shared = Context.Map.Layout.Msi.Flavour == MsiFlavour.Single;
        long start = Context.Time.GetTimestamp();
        long messages;
        var lines = new List<string>();
        bool agree, over;
        do
        {
            messages = Context.Session.GetInterruptStatistics().Messages - before.Messages;
            var attributed = running.ToDictionary(d => d, d => ch.GetCounters(d).Interrupts);
            lines.Clear();
            agree = true;
            over = false;
            long events = 0, most = 0;
            foreach (var d in running)
            {
                var reg = ch.Layout.Engine(d).LoopStatus;
                uint raw = Context.Session.Read32(reg);
                long e = IrqEvents(counters[d].Update(raw), ch.Geometry.BufferCount, irqEvery);
                events += e;
                most = Math.Max(most, e);
                agree &= attributed[d] == e;
                over |= attributed[d] > e;
                lines.Add($"{d.RegisterPrefix()} (bit {ch.Layout.Interrupt(d)}): {reg.Name} {LoopStatus.FromRaw(raw)} = {e} interrupt(s) raised, {attributed[d]} received" +
                          (attributed[d] < e ? $", {e - attributed[d]} lost" : attributed[d] > e ? $", {attributed[d] - e} extra" : ""));
            }

            bool mayMerge = shared && running.Count > 1;
            // One source of a single-MSI loopback design, streamed with the other masked in several short streams: a message
            // of the stream before may still land in this one's count, so the verdict is the source's attributed count
            // (a lost message leaves it short for good: with one source live, no other message finds its vector bit).
            bool carried = shared && running.Count == 1 && HasLoopback;
            agree &= mayMerge ? messages >= most && messages <= events : carried || messages == events;
            over |= !carried && messages > events;
            lines.Add($"{messages} MSI message(s) arrived for {events} interrupt(s) ({(mayMerge ? "single MSI: one message may carry both sources" : carried ? "single MSI, this source alone: judged by its attributed count" : "one message per interrupt")})");
            if (agree)
            {
                Context.Log($"pcie_dma0 at irqEvery {irqEvery}: " + string.Join("; ", lines));
                return null;
            }

            if (over)
            {
                break;
            }

            // A message follows its completion within the interrupt latency: wait for the driver's next one (bounded).
            var d0 = running[0];
            try
            {
                await ch.WaitAsync(d0, ch.GetCounters(d0).HwCount + 1, TimeSpan.FromMilliseconds(10), Context.Cancellation);
            }
            catch (DeviceTimeoutException)
            {
                // nothing new: look again until the bound
            }
        }
        while (Context.Time.GetElapsedTime(start) < bound);

        // First line: the kind (lost, or more than raised); the counts follow.
        return (over ? "MSI interrupts extra: more interrupts arrived than the hardware raised" : DmaState.LostInterrupts) + "\n" +
               $"pcie_dma0 at irqEvery {irqEvery}, interrupts against what the hardware completed" +
               (over ? "" : $" (waited {bound.TotalMilliseconds:0} ms)") + ": " + string.Join("; ", lines);
    }

    /// <summary>
    /// Interrupts raised by the first descriptors up to absolute index <paramref name="lastIndex"/> (as <c>loop_status</c> counts):
    /// the driver flags ring slot i when i mod irqEvery is 0 (litepcie.ko's DMA_BUFFER_PER_IRQ rule).
    /// </summary>
    internal static long IrqEvents(long lastIndex, int ringSize, int irqEvery)
    {
        long completed = lastIndex + 1;
        long perRing = (ringSize + irqEvery - 1) / irqEvery;
        long rest = completed % ringSize;
        return completed / ringSize * perRing + (rest + irqEvery - 1) / irqEvery;
    }

    [Test]
    public async Task Enable_mask_suppresses_interrupts_while_the_hardware_runs()
    {
        var ch = Channel;
        var masked = new DmaStartOptions(32, InterruptsMasked: true);
        RequireDriver(masked);
        var live = Sources()[0];
        var statusReg = ch.Layout.Engine(live).LoopStatus;
        // A read first: messages an earlier test's engines posted are in by its completion, so the window counts this test's only.
        Context.Session.Read32(Context.Map.Layout.Ctrl.Scratch);
        var before = Context.Session.GetInterruptStatistics();
        uint status = 0;
        await VerifiedIo.WithUserStreamsReleasedIf(HasLoopback ? StreamMode.Loopback : StreamMode.WriterOnly, Context.Session, ch, async () =>
        {
            StartMasked(ch, live, masked);
            try
            {
                if (live == DmaDirection.Reader || HasLoopback)
                {
                    FillTx(ch, 0, ch.Geometry.BufferCount);
                }

                // The hardware's own progress, polled (bounded): no interrupt will tell us.
                await DeviceWaits.UntilAsync(() => (status = Context.Session.Read32(statusReg)) >= 32, TimeSpan.FromMilliseconds(Context.Options.Dma.DmaStallTimeoutMs),
                    Target.Address, $"{statusReg.Name} to pass 32 buffers with interrupts masked", null, Context.Cancellation);
            }
            finally
            {
                StopBoth(ch);
            }

            return true;
        });
        Context.Log($"{statusReg.Name} = {LoopStatus.FromRaw(status)} with interrupts masked");
        // Stopped: the stop sequence leaves no source enabled, so whatever arrived came while masked.
        Context.Session.Read32(Context.Map.Layout.Ctrl.Scratch); // a read flushes every message the device posted before it (PCIe ordering)
        var after = Context.Session.GetInterruptStatistics();
        (after.Messages - before.Messages).Should().Be(0,
            $"no MSI may arrive while every DMA source is masked in pcie_msi_enable ({after.Spurious - before.Spurious} of them found no enabled source pending)");
        ch.GetCounters(live).HwCount.Should().Be(0, "the driver's count only moves on interrupts");
    }

    [Test]
    public async Task No_spurious_interrupts_when_idle()
    {
        // Every source is disabled between tests (the fixture checks it); a read of the device flushes any message it
        // posted before (a completion never passes a posted write), so the window below starts with nothing in flight.
        Context.Session.Read(Context.Map.Layout.Msi.Enable).Should().Be(0UL, "no MSI source is enabled while idle");
        var before = Context.Session.GetInterruptStatistics();
        await Context.StepAsync($"stay idle {Context.Options.Msi.MsiIdleMs} ms", () => Task.Delay(TimeSpan.FromMilliseconds(Context.Options.Msi.MsiIdleMs), Context.Time, Context.Cancellation));
        var after = Context.Session.GetInterruptStatistics();
        long arrived = after.Messages - before.Messages;
        long spurious = after.Spurious - before.Spurious;
        Context.Log($"idle {Context.Options.Msi.MsiIdleMs} ms: {arrived} MSI message(s), {spurious} spurious");
        arrived.Should().Be(0, $"spurious interrupts: {arrived} MSI message(s) arrived in {Context.Options.Msi.MsiIdleMs} ms with no DMA running ({spurious} had no source pending)");
    }

    [Test]
    [Spec("P1")]
    [Spec("HIL-07")]
    [Issue("enjoy-digital/litepcie", 119)]
    public async Task Interrupts_stay_alive_while_streaming()
    {
        var ch = Channel;
        var live = Sources()[0];
        int livenessMs = Context.Options.Msi.MsiLivenessMs;
        var statusReg = ch.Layout.Engine(live).LoopStatus;
        var worstLag = TimeSpan.Zero;
        long worstBuffers = 0;
        var problems = new List<string>();
        var sampler = new CancellationTokenSource();
        // P1 (docs/checklist.md#p1): watch the hardware's loop_status against the driver's interrupt-fed count; the hardware advancing
        // while the driver count is frozen longer than the bound means interrupts stopped arriving.
        var watch = Task.Run(async () =>
        {
            var counter = new HwCounter(ch.Geometry.BufferCount);
            long frozenSince = 0;
            long lastDriver = -1;
            while (!sampler.IsCancellationRequested)
            {
                long hw = counter.Update(Context.Session.Read32(statusReg));
                long driver = ch.GetCounters(live).HwCount;
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

                await Task.Delay(TimeSpan.FromMilliseconds(2), Context.Time).ConfigureAwait(false); // the sampling period of the watch, not a synchronisation
            }
        });
        try
        {
            await Stream(ch, live, Context.Options.Msi.MsiTransferBuffers, 32, allowStall: true, bothSources: true);
        }
        finally
        {
            await sampler.CancelAsync();
            await watch;
            sampler.Dispose();
        }

        Context.Log($"worst driver lag behind loop_status: {worstBuffers} buffers for {worstLag.TotalMilliseconds:0.0} ms");
        if (problems.Count > 0)
        {
            throw Verdict.Fail(DmaState.LostInterrupts, "HIL-07/P1: the hardware must not run ahead of the interrupt-fed driver count for longer than MsiLivenessMs: " +
                string.Join("; ", problems));
        }
    }

    [Test]
    [Severity(AllureSeverity.Normal)]
    public async Task Delivery_latency_percentiles_are_recorded_and_bounded()
    {
        RequireDriver(new DmaStartOptions(IrqEvery: 1), perSourceCounts: true);
        var ch = Channel;
        var samples = new LatencySamples();
        // One buffer at a time, the client releasing the next only after the interrupt of the last: loopback through the
        // TX ring, reader-only into the board's sink, or writer-only by consuming one RX buffer at a time.
        var live = HasLoopback ? DmaDirection.Writer : Sources()[^1];
        var mode = HasLoopback ? StreamMode.Loopback : live == DmaDirection.Writer ? StreamMode.WriterOnly : StreamMode.ReaderOnly;
        var start = new DmaStartOptions(IrqEvery: 1);
        var pattern = new SequencePattern(ch.Geometry.BufferSize);
        await VerifiedIo.WithUserStreamsReleasedIf(mode, Context.Session, ch, async () =>
        {
            if (HasLoopback)
            {
                ch.SetLoopback(true);
            }

            if (mode != StreamMode.ReaderOnly)
            {
                ch.Start(DmaDirection.Writer, start);
            }

            if (mode != StreamMode.WriterOnly)
            {
                ch.Start(DmaDirection.Reader, start);
            }

            try
            {
                var tx = mode == StreamMode.WriterOnly ? null : ch.Ring(DmaDirection.Reader);
                long sent = 0;
                if (tx is not null)
                {
                    pattern.Fill(tx.Write(sent), sent);
                    sent++;
                }

                for (int i = 0; i < 4000 && samples.Count < 1000; i++)
                {
                    // The target is taken before the next buffer is released: released, it may complete at once.
                    long target = ch.GetCounters(live).HwCount + 1;
                    if (tx is not null)
                    {
                        pattern.Fill(tx.Write(sent), sent);
                        sent++;
                        ch.UpdateSwCount(DmaDirection.Reader, sent);
                    }

                    bool pending = ch.GetCounters(live).HwCount < target;
                    DmaCounters c;
                    try
                    {
                        c = await ch.WaitAsync(live, target, TimeSpan.FromMilliseconds(Context.Options.Dma.DmaStallTimeoutMs), Context.Cancellation);
                    }
                    catch (DeviceTimeoutException e)
                    {
                        // The buffer's interrupt never came: if the hardware completed it, the interrupt was lost (a failed check), else the
                        // engine stalled (the timeout stands).
                        throw DmaState.LostInterruptsVerdict(Context.Session, ch, 1, $"sample {samples.Count + 1}, waiting for buffer {target} ({e.Message})") ?? (Exception)e;
                    }

                    long woke = Stopwatch.GetTimestamp();
                    if (pending && c.LastInterruptTimestamp > 0 && woke >= c.LastInterruptTimestamp)
                    {
                        samples.Add(woke - c.LastInterruptTimestamp); // only waits that actually slept: interrupt → wake
                    }

                    if (mode != StreamMode.ReaderOnly)
                    {
                        ch.UpdateSwCount(DmaDirection.Writer, c.HwCount);
                    }
                }
            }
            finally
            {
                StopBoth(ch);
            }

            return true;
        });

        var s = samples.Summarize();
        Context.Log($"interrupt → client wake latency ({mode}, {live.Describe()} interrupt): {s}");
        Context.AttachText("MSI delivery latency", s.ToString());
        Context.AttachSvg("MSI delivery latency histogram", ReportCharts.Latency(samples, $"MSI → client wake latency, {Target} ({s.Count} interrupts)"));
        Context.AttachCsv("MSI delivery latency samples", samples.ToCsv());
        samples.Count.Should().BeGreaterThan(100, "interrupt timestamps were recorded by the driver for waits that slept");
        s.P99Us.Should().BeLessThanOrEqualTo(Context.Options.Msi.MsiMaxLatencyUs, $"p99 delivery latency bound MsiMaxLatencyUs ({s})");
    }

    /// <summary>Skips (with the driver's reason) a test the driver cannot run: options it cannot start with, or per-source counts it does not keep.</summary>
    private void RequireDriver(DmaStartOptions? options = null, bool perSourceCounts = false)
    {
        if (options is not null && Channel.Capabilities.Unsupported(options) is { } why)
        {
            Assert.Ignore(why);
        }

        if (perSourceCounts && !Channel.Capabilities.CountsInterruptsPerSource)
        {
            Assert.Ignore($"{Context.Session.Info.Driver} does not count interrupts per source (nor time-stamp them): this check needs the dext");
        }
    }

    /// <summary>
    /// The directions whose interrupt this board can raise on its own: both with loopback; without it, the writer when the
    /// board's generator feeds it and the reader when its sink drains it. None: a skip naming why.
    /// </summary>
    private List<DmaDirection> Sources()
    {
        if (HasLoopback)
        {
            return [DmaDirection.Writer, DmaDirection.Reader];
        }

        var sources = new List<DmaDirection>();
        if (Context.Profile.WriterSource == UserWriterSource.SequencePattern)
        {
            sources.Add(DmaDirection.Writer);
        }

        if (Context.Profile.ReaderSink != UserReaderSink.None)
        {
            sources.Add(DmaDirection.Reader);
        }

        return sources.Count > 0
            ? sources
            : throw new IgnoreException($"{Context.Profile.Name} has no DMA loopback and its userLogic declares no writer source or reader sink: nothing raises DMA interrupts");
    }

    private void StartMasked(IDmaChannel ch, DmaDirection live, DmaStartOptions masked)
    {
        if (HasLoopback)
        {
            ch.SetLoopback(true);
            ch.Start(DmaDirection.Writer, masked);
            ch.Start(DmaDirection.Reader, masked);
        }
        else
        {
            ch.Start(live, masked);
        }
    }

    private static void StopBoth(IDmaChannel ch)
    {
        foreach (var d in new[] { DmaDirection.Reader, DmaDirection.Writer })
        {
            if (ch.GetCounters(d).Running)
            {
                ch.Stop(d);
            }
        }
    }

    private static void FillTx(IDmaChannel ch, long from, long to)
    {
        var tx = ch.Ring(DmaDirection.Reader);
        var pattern = new SequencePattern(ch.Geometry.BufferSize);
        for (long i = from; i < to; i++)
        {
            pattern.Fill(tx.Write(i), i);
        }

        ch.UpdateSwCount(DmaDirection.Reader, to);
    }

    /// <summary>
    /// Streams <paramref name="buffers"/> buffers with <paramref name="live"/>'s interrupt the only one enabled (with loopback,
    /// the other direction runs masked; without, it does not run), unless <paramref name="bothSources"/>; then runs
    /// <paramref name="settle"/> while the engines are still started, stops, and gives <paramref name="check"/> both
    /// directions' counters taken before the stop.
    /// </summary>
    private async Task Stream(IDmaChannel ch, DmaDirection live, int buffers, int irqEvery,
        Action<Dictionary<DmaDirection, DmaCounters>>? check = null, bool allowStall = false, Func<Task>? settle = null, bool bothSources = false)
    {
        var masked = live.Opposite();
        bool runWriter = HasLoopback || live == DmaDirection.Writer;
        bool runReader = HasLoopback || live == DmaDirection.Reader;
        bool maskOther = HasLoopback && !bothSources;
        var mode = HasLoopback ? StreamMode.Loopback : live == DmaDirection.Writer ? StreamMode.WriterOnly : StreamMode.ReaderOnly;
        var counters = new Dictionary<DmaDirection, DmaCounters>();
        await VerifiedIo.WithUserStreamsReleasedIf(mode, Context.Session, ch, async () =>
        {
            if (HasLoopback)
            {
                ch.SetLoopback(true);
            }

            if (runWriter)
            {
                ch.Start(DmaDirection.Writer, new DmaStartOptions(irqEvery, maskOther && masked == DmaDirection.Writer));
            }

            if (runReader)
            {
                ch.Start(DmaDirection.Reader, new DmaStartOptions(irqEvery, maskOther && masked == DmaDirection.Reader));
            }

            try
            {
                await Move(ch, buffers, irqEvery, runWriter, runReader, maskOther ? masked : null, allowStall);
                if (settle is not null)
                {
                    await settle();
                }

                foreach (var d in DmaDirectionExtensions.All)
                {
                    counters[d] = ch.GetCounters(d);
                }
            }
            finally
            {
                StopBoth(ch);
            }

            return true;
        });
        check?.Invoke(counters);
    }

    /// <summary>
    /// The client side of a stream until <paramref name="buffers"/> went through: fills TX ahead of the reader and consumes
    /// RX behind the writer; a masked direction's count is read from its <c>loop_status</c> (its driver count never moves).
    /// </summary>
    private async Task Move(IDmaChannel ch, int buffers, int irqEvery, bool writer, bool reader, DmaDirection? maskedDirection, bool allowStall)
    {
        var tx = reader ? ch.Ring(DmaDirection.Reader) : null;
        var pattern = new SequencePattern(ch.Geometry.BufferSize);
        var ring = ch.Geometry.BufferCount;
        var writerCounter = new HwCounter(ring);
        var readerCounter = new HwCounter(ring);
        long txSw = 0, rxSw = 0, done = 0;
        // Each turn waits at most 10 ms for an interrupt; a gap of more than 100 ms between turns is this process not running.
        var watch = new StallWatch(TimeSpan.FromMilliseconds(Context.Options.Dma.DmaStallTimeoutMs), TimeSpan.FromMilliseconds(100));
        while (done < buffers)
        {
            Context.Cancellation.ThrowIfCancellationRequested();
            bool progress = false;
            if (tx is not null)
            {
                // With the reader's interrupt masked its count never moves: feed against the writer's progress (at most one ring ahead).
                long fetched = maskedDirection == DmaDirection.Reader
                    ? (writer ? rxSw : readerCounter.Update(Context.Session.Read32(ch.Layout.Reader.LoopStatus)))
                    : ch.GetCounters(DmaDirection.Reader).HwCount;
                long limit = Math.Min(fetched + ring, buffers + (long)ring);
                if (maskedDirection == DmaDirection.Reader)
                {
                    limit = Math.Min(limit, ring); // the driver's reader count stays 0: the dext accepts at most one ring of TX
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
            }

            long hw = writer
                ? maskedDirection == DmaDirection.Writer ? writerCounter.Update(Context.Session.Read32(ch.Layout.Writer.LoopStatus)) : ch.GetCounters(DmaDirection.Writer).HwCount
                : ch.GetCounters(DmaDirection.Reader).HwCount;
            if (hw > done)
            {
                done = hw;
                if (writer && maskedDirection != DmaDirection.Writer && hw > rxSw)
                {
                    rxSw = hw;
                    ch.UpdateSwCount(DmaDirection.Writer, rxSw);
                }
                else if (writer)
                {
                    rxSw = hw;
                }

                progress = true;
            }

            if (progress)
            {
                watch.Progress();
                continue;
            }

            if (watch.Stalled())
            {
                if (allowStall)
                {
                    Context.Log($"stream stalled at buffer {done} of {buffers}");
                    return;
                }

                Context.AttachText("pcie_dma0 register dump", Context.DumpDma(0));
                string where = $"pcie_dma0 stalled at buffer {done} of {buffers}: no progress for {watch.Describe()}";
                throw DmaState.LostInterruptsVerdict(Context.Session, ch, irqEvery, where, maskedDirection)
                      ?? Verdict.Fail("pcie_dma0: stalled (no progress within DmaStallTimeoutMs)", where);
            }

            // Sleep until the next interrupt of an unmasked direction moves its count (bounded), instead of spinning.
            var waitOn = writer && maskedDirection != DmaDirection.Writer ? DmaDirection.Writer : reader && maskedDirection != DmaDirection.Reader ? DmaDirection.Reader : (DmaDirection?)null;
            if (waitOn is { } w)
            {
                try
                {
                    await ch.WaitAsync(w, ch.GetCounters(w).HwCount + 1, TimeSpan.FromMilliseconds(10), Context.Cancellation);
                }
                catch (DeviceTimeoutException)
                {
                    // no interrupt in 10 ms: look at the counters again
                }
            }
            else
            {
                await Task.Yield(); // every source masked: poll loop_status
            }
        }
    }
}
