using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Measurement;
using LitePcie.Hil.Options;

namespace LitePcie.Hil.Cli;

/// <summary>A latency distribution with the percentiles a bench engineer reads (p90 added to the framework's summary).</summary>
internal sealed record LatencyResult(string What, LatencySummary Summary, double P90Us, IReadOnlyList<(double UpperUs, int Count)> Histogram)
{
    public static LatencyResult Of(string what, IReadOnlyList<long> ticks)
    {
        var samples = new LatencySamples(ticks.Count);
        foreach (long t in ticks)
        {
            samples.Add(t);
        }

        var sorted = ticks.Order().ToArray();
        double p90 = sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(0.9 * sorted.Length) - 1, 0, sorted.Length - 1)] * 1e6 / Stopwatch.Frequency;
        return new LatencyResult(what, samples.Summarize(), p90, samples.Histogram());
    }

    public JsonObject ToJson() => new()
    {
        ["what"] = What,
        ["count"] = Summary.Count,
        ["minUs"] = Math.Round(Summary.MinUs, 4),
        ["p50Us"] = Math.Round(Summary.P50Us, 4),
        ["p90Us"] = Math.Round(P90Us, 4),
        ["p99Us"] = Math.Round(Summary.P99Us, 4),
        ["p999Us"] = Math.Round(Summary.P999Us, 4),
        ["maxUs"] = Math.Round(Summary.MaxUs, 4),
        ["meanUs"] = Math.Round(Summary.MeanUs, 4),
        ["histogram"] = new JsonArray([.. Histogram.Select(h => (JsonNode)new JsonObject { ["upToUs"] = h.UpperUs, ["count"] = h.Count })]),
    };
}

/// <summary>
/// <c>litepcie-hil latency</c>: the register read round trip (ctrl_scratch through the backend's CSR path: SIL call,
/// ioctl or IOKit method) and the DMA round trip of one buffer (host fills a TX buffer, the reader fetches it, the
/// loopback returns it, the writer stores it and interrupts: the client's wait returns), as log2 histograms with
/// p50/p90/p99/p99.9/max.
/// </summary>
internal static class LatencyCommand
{
    private static readonly Option<int> Samples = CliOptions.Declared<int>(nameof(RegisterOptions.LatencySamples), "Register reads to time", "samples");
    private static readonly Option<int> DmaSamples = CliOptions.Integer("--dma-samples", "One-buffer DMA round trips to time (0 = skip)", 1000, 0, 1_000_000, "samples");
    private static readonly Option<int> Channel = CliOptions.Integer("--channel", "DMA channel for the round trips", 0, 0, 15, "");

    public static Command Create(CliIo io) =>
        DeviceCommand.Create("latency", "Register read and one-buffer DMA round-trip latency histograms (p50/p90/p99/p99.9/max)", io,
            [Samples, DmaSamples, Channel], RunAsync);

    private static async Task<int> RunAsync(CommandContext ctx)
    {
        await using var bench = await Bench.OpenAsync(ctx.Request, ctx.Cancel).ConfigureAwait(false);
        var session = await bench.SessionAsync(ctx.Cancel).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            var c = ctx.Console;
            var register = RegisterReads(session, ctx.Parse.GetValue(Samples), ctx.Cancel);
            Show(c, register);

            int dmaSamples = ctx.Parse.GetValue(DmaSamples);
            int index = ctx.Parse.GetValue(Channel);
            if (index >= session.Channels.Count)
            {
                throw new CliUsageException($"--channel {index} is out of range: this design has {session.Channels.Count} DMA channel(s), accepted 0..{session.Channels.Count - 1}");
            }

            var channel = session.Channels[index];
            string? skipped = dmaSamples == 0 ? "--dma-samples 0"
                : channel.Layout.LoopbackEnable is null ? $"pcie_dma{index} has no loopback: the one-buffer round trip needs the internal loopback"
                : null;
            LatencyResult? dma = null;
            long badBuffers = 0;
            if (skipped is null)
            {
                if (ctx.Request.Backend != DeviceOptions.Sim)
                {
                    c.Note("on hardware the engines free-run in loop mode (no host flow control): the DMA figure is the per-buffer completion the client waits for, not an isolated round trip");
                }

                if (channel.Capabilities.Unsupported(new DmaStartOptions(IrqEvery: 1)) is { } noIrqPerBuffer)
                {
                    // litepcie.ko interrupts every 32 buffers: time each buffer by polling both tables' loop_status instead.
                    var polled = await RingCounterLatency.MeasureAsync(session, channel, new RingCounterLatencyOptions { Samples = dmaSamples }, ctx.Cancel).ConfigureAwait(false);
                    c.Note($"{noIrqPerBuffer}: DMA transit timed by polling reader and writer loop_status through the register path " +
                           $"(resolution one poll = {Text.Micros(polled.PollPeriodUs)}; includes loopback FIFO queueing; see docs/linux-backend.md)");
                    dma = LatencyResult.Of($"DMA loopback transit by ring-counter polling (pcie_dma{channel.Index}, {channel.Geometry.BufferSize} B, {polled.Samples.Count} samples)", polled.Samples);
                }
                else
                {
                    (dma, badBuffers) = await RoundTripsAsync(channel, dmaSamples, ctx.Cancel).ConfigureAwait(false);
                }
                c.Line();
                Show(c, dma);
                if (badBuffers > 0)
                {
                    c.Line($"  ! {badBuffers} returned buffer(s) did not carry the pattern sent");
                }
            }
            else
            {
                c.Line();
                c.Line($"DMA round trip: skipped ({skipped})");
            }

            bool passed = badBuffers == 0;
            c.Line();
            string checkedText = dma is null
                ? $"{register.Summary.Count} register reads; DMA round trip skipped"
                : $"{register.Summary.Count} register reads, {dma.Summary.Count} DMA round trips";
            c.Verdict(passed, passed
                ? $"latency: PASS ({checkedText}; every returned buffer carried the pattern sent)"
                : $"latency: FAIL ({badBuffers} of {dma!.Summary.Count} returned buffer(s) did not carry the pattern sent)");
            c.Document(new JsonObject
            {
                ["command"] = "latency",
                ["address"] = session.Info.Device.Address,
                ["passed"] = passed,
                ["register"] = register.ToJson(),
                ["dma"] = dma?.ToJson(),
                ["dmaSkipped"] = skipped,
                ["dmaBadBuffers"] = badBuffers,
            });
            return passed ? ExitCodes.Success : ExitCodes.TestFailed;
        }
    }

    private static LatencyResult RegisterReads(IDeviceSession session, int count, CancellationToken cancel)
    {
        uint offset = session.Map.ToBarOffset(session.Map.Layout.Ctrl.Scratch.Address);
        var ticks = new long[count];
        for (int i = 0; i < count; i++)
        {
            if ((i & 1023) == 0)
            {
                cancel.ThrowIfCancellationRequested();
            }

            long t0 = Stopwatch.GetTimestamp();
            session.ReadCsr(offset);
            ticks[i] = Stopwatch.GetTimestamp() - t0;
        }

        return LatencyResult.Of($"register read (ctrl_scratch, {count} samples)", ticks);
    }

    /// <summary>
    /// One buffer at a time through reader → loopback → writer, an interrupt on every buffer; each returned buffer is
    /// verified. The driver's hardware count is "descriptors completed − 1" (docs/gateware.md#loop_status), so buffer 0
    /// primes the pipeline: once the writer's count reaches n − 1, buffers 0..n−1 are home, and the time from handing
    /// buffer n to the reader until the count reaches n is buffer n's round trip alone.
    /// </summary>
    private static async Task<(LatencyResult, long Bad)> RoundTripsAsync(IDmaChannel channel, int count, CancellationToken cancel)
    {
        var pattern = new SequencePattern(channel.Geometry.BufferSize);
        var tx = channel.Ring(DmaDirection.Reader);
        var rx = channel.Ring(DmaDirection.Writer);
        var ticks = new List<long>(count);
        long bad = 0;
        var every = new DmaStartOptions(IrqEvery: 1);
        var bound = TimeSpan.FromSeconds(2);
        channel.SetLoopback(true);
        try
        {
            channel.Start(DmaDirection.Writer, every);
            channel.Start(DmaDirection.Reader, every);
            pattern.Fill(tx.Write(0), 0);
            channel.UpdateSwCount(DmaDirection.Reader, 1);
            for (long n = 1; n <= count; n++)
            {
                cancel.ThrowIfCancellationRequested();
                pattern.Fill(tx.Write(n), n);
                long t0 = Stopwatch.GetTimestamp();
                channel.UpdateSwCount(DmaDirection.Reader, n + 1);
                await channel.WaitAsync(DmaDirection.Writer, n, bound, cancel).ConfigureAwait(false);
                ticks.Add(Stopwatch.GetTimestamp() - t0);
                if (!pattern.Matches(rx.Read(n), n))
                {
                    bad++;
                }

                channel.UpdateSwCount(DmaDirection.Writer, n);
            }
        }
        finally
        {
            foreach (var d in new[] { DmaDirection.Reader, DmaDirection.Writer })
            {
                if (channel.GetCounters(d).Running)
                {
                    channel.Stop(d);
                }
            }

            channel.SetLoopback(false);
        }

        return (LatencyResult.Of($"DMA one-buffer round trip (pcie_dma{channel.Index}, {channel.Geometry.BufferSize} B, {count} samples)", ticks), bad);
    }

    private static void Show(CliConsole c, LatencyResult r)
    {
        var s = r.Summary;
        c.Line(r.What);
        c.Line($"  p50 {Text.Micros(s.P50Us)}   p90 {Text.Micros(r.P90Us)}   p99 {Text.Micros(s.P99Us)}   p99.9 {Text.Micros(s.P999Us)}   max {Text.Micros(s.MaxUs)}   (min {Text.Micros(s.MinUs)}, mean {Text.Micros(s.MeanUs)})");
        int peak = r.Histogram.Count == 0 ? 1 : Math.Max(1, r.Histogram.Max(h => h.Count));
        char bar = c.Terminal ? '█' : '#';
        foreach (var (upper, n) in r.Histogram)
        {
            string label = "≤ " + Text.Micros(upper);
            int width = (int)Math.Round(40.0 * n / peak);
            if (n > 0 && width == 0)
            {
                width = 1;
            }

            c.Line($"  {label,12} |{new string(bar, width),-40}| {n} ({Text.F(100.0 * n / Math.Max(1, s.Count), "0.0")}%)");
        }
    }
}
