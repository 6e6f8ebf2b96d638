using System.Diagnostics;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;

namespace LitePcie.Hil.Measurement;

/// <summary>How to run <see cref="RingCounterLatency"/>.</summary>
public sealed record RingCounterLatencyOptions
{
    /// <summary>Buffers to time.</summary>
    public int Samples { get; init; } = 1000;

    /// <summary>Bound on the whole measurement.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Buffers let through before the first one timed (the loopback pipeline filling).</summary>
    public int Warmup { get; init; } = 8;
}

/// <summary>What <see cref="RingCounterLatency"/> measured.</summary>
/// <param name="Samples">Per-buffer transit times in Stopwatch ticks.</param>
/// <param name="Summary">Their percentiles.</param>
/// <param name="PollPeriodUs">Median time of one poll of both <c>loop_status</c> registers: the resolution of every sample.</param>
/// <param name="Polls">Polls made.</param>
public sealed record RingCounterLatencyResult(IReadOnlyList<long> Samples, LatencySummary Summary, double PollPeriodUs, long Polls);

/// <summary>
/// DMA transit latency without an interrupt per buffer (which litepcie.ko cannot give: DMA_BUFFER_PER_IRQ is 32): the
/// channel runs in internal loopback with both engines started as the driver starts them, and the host polls the two
/// tables' <c>loop_status</c> registers back to back through the register path. Buffer n's transit time is from the
/// first poll that sees the reader's count reach n (the reader pops a descriptor when it requests the buffer) to the
/// first poll that sees the writer's count reach n (the writer pops it when the buffer is stored in host memory). The
/// engines free-run in loop mode, so the figure includes queueing in the loopback FIFO; its resolution is one poll,
/// reported as <see cref="RingCounterLatencyResult.PollPeriodUs"/>.
/// </summary>
public static class RingCounterLatency
{
    /// <summary>Runs the measurement on <paramref name="channel"/>; the directions it starts are stopped again.</summary>
    public static Task<RingCounterLatencyResult> MeasureAsync(IDeviceSession session, IDmaChannel channel, RingCounterLatencyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Samples, 1);
        if (channel.Layout.LoopbackEnable is null)
        {
            throw new DeviceCapabilityException(session.Info.Device.Address, $"pcie_dma{channel.Index} ring-counter latency",
                "the design has no loopback_enable: the transit of a buffer from reader to writer needs the internal loopback");
        }

        return Task.Run(() => Measure(session, channel, options, cancellationToken), cancellationToken);
    }

    private static RingCounterLatencyResult Measure(IDeviceSession session, IDmaChannel channel, RingCounterLatencyOptions options, CancellationToken cancellationToken)
    {
        var readerStatus = channel.Layout.Reader.LoopStatus;
        var writerStatus = channel.Layout.Writer.LoopStatus;
        int ring = channel.Geometry.BufferCount;
        var reader = new HwCounter(ring);
        var writer = new HwCounter(ring);
        long first = options.Warmup, last = options.Warmup + options.Samples; // buffers timed: [first, last)
        var fetched = new long[options.Samples];
        var samples = new List<long>(options.Samples);
        var periods = new List<long>();
        long polls = 0, readerCount = 0, writerCount = 0;
#pragma warning disable RS0030 // measures latency on the wall clock (a measurement, not a wait bound)
        var clock = Stopwatch.StartNew();
#pragma warning restore RS0030
        channel.SetLoopback(true);
        try
        {
            channel.Start(DmaDirection.Writer, DmaStartOptions.Default);
            channel.Start(DmaDirection.Reader, DmaStartOptions.Default);
            long previous = Stopwatch.GetTimestamp();
            while (writerCount < last)
            {
                if ((polls & 255) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (clock.Elapsed > options.Timeout)
                    {
                        throw new DeviceTimeoutException(session.Info.Device.Address,
                            $"pcie_dma{channel.Index} loopback transit of buffers {first}..{last - 1} (reader at {readerCount}, writer at {writerCount})", options.Timeout);
                    }
                }

                // One poll: both registers, then one timestamp for what they show.
                long r = reader.Update(session.Read32(readerStatus));
                long w = writer.Update(session.Read32(writerStatus));
                long now = Stopwatch.GetTimestamp();
                polls++;
                if (periods.Count < 4096)
                {
                    periods.Add(now - previous);
                }

                previous = now;
                for (long n = Math.Max(readerCount, first); n < Math.Min(r, last); n++)
                {
                    fetched[n - first] = now;
                }

                readerCount = Math.Max(readerCount, r);
                for (long n = Math.Max(writerCount, first); n < Math.Min(w, last); n++)
                {
                    // The writer cannot store a buffer the reader has not fetched; a zero means both moved within this poll.
                    samples.Add(fetched[n - first] == 0 ? 0 : now - fetched[n - first]);
                }

                writerCount = Math.Max(writerCount, w);
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

        var latency = new LatencySamples(samples.Count);
        foreach (long t in samples)
        {
            latency.Add(t);
        }

        periods.Sort();
        double period = periods.Count == 0 ? 0 : periods[periods.Count / 2] * 1e6 / Stopwatch.Frequency;
        return new RingCounterLatencyResult(samples, latency.Summarize(), period, polls);
    }
}
