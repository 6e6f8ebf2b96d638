using System.Diagnostics;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Reporting;

namespace LitePcie.Hil.Dma;

/// <summary>Which engines a stream uses.</summary>
public enum StreamMode
{
    /// <summary>Reader → internal loopback → writer; TX filled and RX verified by the host.</summary>
    Loopback,

    /// <summary>Writer only: the board's user logic produces the stream; RX verified by the host.</summary>
    WriterOnly,

    /// <summary>Reader only: TX filled by the host, consumed by the board's user logic (not verifiable here).</summary>
    ReaderOnly,
}

/// <summary>How to run a stream.</summary>
public sealed record StreamOptions
{
    /// <summary>Which engines run.</summary>
    public StreamMode Mode { get; init; } = StreamMode.Loopback;

    /// <summary>Stop after this many bytes received (sent, in reader-only mode); 0 = use <see cref="Duration"/>.</summary>
    public long Bytes { get; init; }

    /// <summary>Stop after this long (used when <see cref="Bytes"/> is 0).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Interrupt coalescing for both directions.</summary>
    public int IrqEvery { get; init; } = 32;

    /// <summary>Longest time without any RX progress before the stream is declared stalled.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many errors to keep in detail.</summary>
    public int MaxErrorDetails { get; init; } = 16;

    /// <summary>Sample interval of the throughput series.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Leave the channel's loopback setting as it is (the caller arranged the data path).</summary>
    public bool KeepLoopbackSetting { get; init; }

    /// <summary>
    /// Sequence number of the first buffer. Null (the default): loopback and reader-only streams take a base no other
    /// stream of this process uses (<see cref="DmaStreamer.NextSequenceBase"/>), so no buffer an earlier stream left in
    /// the RX ring can pass as this stream's; writer-only streams start at 0, as the board's user-logic generator does
    /// at every writer enable (the dext fills the writer ring with all-ones before each start for the same reason).
    /// </summary>
    public long? SequenceBase { get; init; }

    /// <summary>
    /// Sink for stream events (one line each: errors as they are found, the stall) so a caller can show them
    /// live; null = keep them in the report only.
    /// </summary>
    public Action<string>? Events { get; init; }

    /// <summary>Receives the stages of the stream as steps (program and start, stream and verify, stop); null = none.</summary>
    public IStepReporter? Steps { get; init; }

    /// <summary>
    /// Called on the streaming thread with every throughput sample (each <see cref="SampleInterval"/>) and the
    /// running error count, so a caller can show a live table (as dma_test does); keep it short.
    /// </summary>
    public Action<ThroughputSample, long>? Progress { get; init; }

    /// <summary>
    /// Called when the stream stalls, before the engines are stopped (a stop clears <c>loop_status</c>): the caller's
    /// diagnosis of why (e.g. the hardware ran ahead of the driver's interrupt-fed count: lost interrupts), or null.
    /// </summary>
    public Func<string?>? DiagnoseStall { get; init; }
}

/// <summary>Kind of a stream error.</summary>
public enum StreamErrorKind
{
    /// <summary>Buffers missing: the next buffer carries a later sequence number.</summary>
    Lost,

    /// <summary>A buffer arrived again.</summary>
    Duplicated,

    /// <summary>An older buffer arrived out of order.</summary>
    Reordered,

    /// <summary>Words differ from every intact buffer.</summary>
    Corrupted,

    /// <summary>An intact buffer of another stream: the hardware completed this buffer without writing it.</summary>
    Stale,
}

/// <summary>One error seen by the streamer.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="RxIndex">Index of the RX buffer (ring slot = index mod ring size).</param>
/// <param name="Check">The pattern check of that buffer.</param>
/// <param name="SequenceBase">The stream's first sequence number; numbers in the text are relative to it (buffer n of the stream).</param>
public sealed record StreamError(StreamErrorKind Kind, long RxIndex, BufferCheck Check, long SequenceBase = 0)
{
    private long Expected => Check.Expected - SequenceBase;

    private long Found => Check.Found - SequenceBase;

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        StreamErrorKind.Lost => $"RX buffer {RxIndex}: {Found - Expected} buffer(s) lost (expected sequence {Expected}, found {Found})",
        StreamErrorKind.Duplicated => $"RX buffer {RxIndex}: duplicate of sequence {Found} (expected {Expected})",
        StreamErrorKind.Reordered => $"RX buffer {RxIndex}: sequence {Found} out of order (expected {Expected})",
        StreamErrorKind.Stale => $"RX buffer {RxIndex} (sequence {Expected}): stale, an intact buffer of another stream (absolute sequence {Check.Found}, " +
                                 $"this stream's start at {SequenceBase}): the hardware completed it without writing it",
        _ => $"RX buffer {RxIndex} (sequence {Expected}): corrupted, first bad word {Check.FirstBadWord} (byte offset {Check.FirstBadWord * 8}): " +
             $"expected 0x{Check.ExpectedWord:X16}, got 0x{Check.ActualWord:X16} ({SequencePattern.DescribeFlips(Check.ExpectedWord, Check.ActualWord)})",
    };
}

/// <summary>Throughput sample: time since start and bytes received so far.</summary>
public readonly record struct ThroughputSample(TimeSpan At, long RxBytes, long TxBytes);

/// <summary>What a stream did.</summary>
public sealed record StreamReport(
    StreamMode Mode,
    long TxBuffers,
    long RxBuffers,
    long RxBytes,
    TimeSpan Elapsed,
    TimeSpan CpuTime,
    long DriverLostWriter,
    long DriverLostReader,
    long Errors,
    IReadOnlyList<StreamError> ErrorDetails,
    IReadOnlyList<ThroughputSample> Samples,
    string? Stall)
{
    /// <summary>Verified RX payload rate in Gb/s (reader-only: the TX rate the hardware fetched).</summary>
    public double Gbps => Elapsed.TotalSeconds > 0 ? (Mode == StreamMode.ReaderOnly ? TxFetchedBytes : RxBytes) * 8 / Elapsed.TotalSeconds / 1e9 : 0;

    /// <summary>Bytes the reader fetched (its hardware count × buffer size).</summary>
    public long TxFetchedBytes { get; init; }

    /// <summary>Why the stream stalled, as the caller's <see cref="StreamOptions.DiagnoseStall"/> saw it before the stop (null: not diagnosed).</summary>
    public string? StallCause { get; init; }

    /// <summary>Sequence number of the stream's first buffer.</summary>
    public long SequenceBase { get; init; }

    /// <summary>Process CPU time per wall time (cores busy on average).</summary>
    public double CpuCores => Elapsed.TotalSeconds > 0 ? CpuTime.TotalSeconds / Elapsed.TotalSeconds : 0;

    /// <summary>True when nothing was lost, corrupted or stalled.</summary>
    public bool Clean => Errors == 0 && Stall is null && DriverLostWriter == 0 && DriverLostReader == 0;

    /// <summary>The kinds of the bad buffers listed, and how many of the total are listed ("2 corrupted, 1 lost; 3 of 3 listed").</summary>
    public string ShownOfTotal =>
        $"{string.Join(", ", ErrorDetails.GroupBy(e => e.Kind).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}"))}; {ErrorDetails.Count} of {Errors} listed";

    /// <summary>The kinds of bad buffers seen, in a fixed order ("corrupted", "lost and duplicated"): a verdict's stable part.</summary>
    public string ErrorKinds =>
        string.Join(" and ", ErrorDetails.Select(e => e.Kind).Distinct().Order().Select(k => k.ToString().ToLowerInvariant())) is { Length: > 0 } k ? k : "bad";

    /// <summary>A multi-line summary for reports: what moved, how fast, at what CPU cost, and every deviation kept.</summary>
    public string Summary()
    {
        var sb = new System.Text.StringBuilder();
        var c = System.Globalization.CultureInfo.InvariantCulture;
        sb.AppendLine(c, $"mode                {Mode}");
        sb.AppendLine(c, $"TX buffers filled   {TxBuffers}");
        sb.AppendLine(c, $"TX bytes fetched    {ByteSize.Format(TxFetchedBytes)}");
        sb.AppendLine(c, $"RX buffers verified {RxBuffers} ({ByteSize.Format(RxBytes)})");
        sb.AppendLine(c, $"elapsed             {Elapsed.TotalSeconds:0.000} s");
        sb.AppendLine(c, $"rate                {Gbps:0.00} Gb/s");
        sb.AppendLine(c, $"CPU                 {CpuTime.TotalSeconds:0.000} s = {CpuCores:0.00} cores");
        sb.AppendLine(c, $"bad buffers         {Errors}{(Errors > 0 ? $" ({ShownOfTotal})" : "")}");
        sb.AppendLine(c, $"driver lost         writer {DriverLostWriter}, reader {DriverLostReader}");
        sb.AppendLine(c, $"stall               {Stall ?? "none"}");
        if (StallCause is not null)
        {
            sb.AppendLine(c, $"stall cause         {StallCause}");
        }

        foreach (var e in ErrorDetails)
        {
            sb.AppendLine(c, $"  {e}");
        }

        return sb.ToString();
    }
}

/// <summary>
/// Streams a channel in zero-copy mode (what liblitepcie's dma_test does, with a verifiable pattern): fills
/// the reader (TX) ring ahead of the hardware, verifies every writer (RX) buffer in place against
/// <see cref="SequencePattern"/>, reports progress to the driver, and classifies every deviation as lost,
/// duplicated, reordered or corrupted. Loopback uses both engines; writer-only and reader-only use one.
/// </summary>
public static class DmaStreamer
{
    /// <summary>Sequence numbers each stream may use before the next stream's base.</summary>
    public const long SequenceWindow = 1L << 32;

    // A random start (per process) and a fresh window per stream: no stream's buffers carry another's numbers.
    private static long s_nextBase = Random.Shared.NextInt64(1, 1L << 20) * SequenceWindow;

    /// <summary>A sequence base no other stream of this process has used (windows of <see cref="SequenceWindow"/>).</summary>
    public static long NextSequenceBase() => Interlocked.Add(ref s_nextBase, SequenceWindow);

    /// <summary>Runs the stream; the directions it uses are started and stopped here.</summary>
    public static async Task<StreamReport> RunAsync(IDmaChannel channel, SequencePattern pattern, StreamOptions options, CancellationToken cancellationToken = default)
    {
        var g = channel.Geometry;
        if (pattern.BufferSize != g.BufferSize)
        {
            throw new ArgumentException($"pattern is for {pattern.BufferSize}-byte buffers, the ring has {g.BufferSize}", nameof(pattern));
        }

        long seqBase = options.SequenceBase ?? (options.Mode == StreamMode.WriterOnly ? 0 : NextSequenceBase());
        bool useReader = options.Mode != StreamMode.WriterOnly;
        bool useWriter = options.Mode != StreamMode.ReaderOnly;
        long targetBuffers = options.Bytes > 0 ? (options.Bytes + g.BufferSize - 1) / g.BufferSize : long.MaxValue;
        var start = new DmaStartOptions(options.IrqEvery);
        var tx = useReader ? channel.Ring(DmaDirection.Reader) : null;
        var rx = useWriter ? channel.Ring(DmaDirection.Writer) : null;
        var steps = options.Steps;
        string engines = options.Mode switch
        {
            StreamMode.Loopback => "writer + reader, internal loopback",
            StreamMode.WriterOnly => "writer only",
            _ => "reader only",
        };
        long txSw = 0;
        try
        {
            steps.Step($"program descriptors and start pcie_dma{channel.Index} ({engines}, {g.BufferCount} × {g.BufferSize} B, irqEvery {options.IrqEvery})", () =>
            {
                // A design without loopback has another register at +0x40 (P14, docs/checklist.md#p14): only a loopback stream asks for it
                // (and is refused by name); single-direction streams switch it off only where it exists.
                if (!options.KeepLoopbackSetting && (options.Mode == StreamMode.Loopback || channel.Layout.LoopbackEnable is not null))
                {
                    channel.SetLoopback(options.Mode == StreamMode.Loopback);
                }

                if (useWriter)
                {
                    channel.Start(DmaDirection.Writer, start);
                }

                if (useReader)
                {
                    // The gateware never waits for software: the reader's first pass fetches the ring as it finds it. Fill
                    // the whole TX ring before it starts (as a client on a board must), so that no buffer is an underrun.
                    for (; txSw < g.BufferCount; txSw++)
                    {
                        pattern.Fill(tx!.Write(txSw), seqBase + txSw);
                    }

                    channel.Start(DmaDirection.Reader, start);
                    channel.UpdateSwCount(DmaDirection.Reader, txSw);
                }
            });
        }
        catch
        {
            StopAll(channel);
            throw;
        }

#pragma warning disable RS0030 // measures a stream's wall-clock duration for throughput (a measurement, not a wait bound)
        var clock = Stopwatch.StartNew();
#pragma warning restore RS0030
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var samples = new List<ThroughputSample>();
        var details = new List<StreamError>();
        long rxSw = 0, expected = seqBase, errors = 0;
        var nextSample = options.SampleInterval;
        // Each turn waits at most 50 ms for an interrupt; a longer gap between turns is this process not running.
        var watch = new StallWatch(options.StallTimeout, TimeSpan.FromMilliseconds(200));
        string? stall = null;
        string? stallCause = null;
        // Progress measure: RX buffers verified, or (reader-only) TX buffers the hardware fetched.
        long Done() => useWriter ? rxSw : channel.GetCounters(DmaDirection.Reader).HwCount;
        steps?.StepStarted(options.Bytes > 0
            ? $"stream and verify {options.Bytes} bytes"
            : $"stream and verify for {options.Duration.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s");
        Exception? failure = null;
        (long ReaderHw, long WriterLost, long ReaderLost) last = default;
        try
        {
            while (Done() < targetBuffers && (options.Bytes > 0 || clock.Elapsed < options.Duration))
            {
                cancellationToken.ThrowIfCancellationRequested();
                bool progress = false;

                if (tx is not null)
                {
                    // TX: the reader has fetched up to its hardware count; never overwrite a slot it has not fetched.
                    long txLimit = channel.GetCounters(DmaDirection.Reader).HwCount + g.BufferCount;
                    if (txLimit > txSw)
                    {
                        for (; txSw < txLimit; txSw++)
                        {
                            pattern.Fill(tx.Write(txSw), seqBase + txSw);
                        }

                        channel.UpdateSwCount(DmaDirection.Reader, txSw);
                        progress = true;
                    }
                }

                if (rx is not null)
                {
                    // RX: buffers [sw, hw) are complete.
                    long hw = channel.GetCounters(DmaDirection.Writer).HwCount;
                    if (hw > rxSw)
                    {
                        for (; rxSw < hw; rxSw++)
                        {
                            var buffer = rx.Read(rxSw);
                            if (pattern.Matches(buffer, expected))
                            {
                                expected++;
                                continue;
                            }

                            var check = pattern.Check(buffer, expected);
                            errors++;
                            bool ofThisStream = check.Found >= seqBase && check.Found - seqBase < SequenceWindow;
                            var kind = check.Verdict == BufferVerdict.Corrupted ? StreamErrorKind.Corrupted
                                : !ofThisStream ? StreamErrorKind.Stale
                                : check.Found > check.Expected ? StreamErrorKind.Lost
                                : check.Found == check.Expected - 1 ? StreamErrorKind.Duplicated
                                : StreamErrorKind.Reordered;
                            var error = new StreamError(kind, rxSw, check, seqBase);
                            if (details.Count < options.MaxErrorDetails)
                            {
                                details.Add(error);
                            }

                            options.Events?.Invoke(error.ToString());

                            // After lost buffers, resynchronise on the later one found; a duplicate leaves the expected one still to come;
                            // a corrupted, stale or out-of-order (older) buffer took the expected one's place.
                            expected = kind switch
                            {
                                StreamErrorKind.Lost => check.Found + 1,
                                StreamErrorKind.Duplicated => expected,
                                _ => expected + 1,
                            };
                        }

                        channel.UpdateSwCount(DmaDirection.Writer, rxSw);
                        progress = true;
                    }
                }

                var now = clock.Elapsed;
                if (now >= nextSample)
                {
                    var sample = new ThroughputSample(now, rxSw * g.BufferSize, txSw * (long)g.BufferSize);
                    samples.Add(sample);
                    options.Progress?.Invoke(sample, errors);
                    nextSample = now + options.SampleInterval;
                }

                if (progress)
                {
                    watch.Progress();
                    continue;
                }

                if (watch.Stalled())
                {
                    var w = channel.GetCounters(DmaDirection.Writer);
                    var r = channel.GetCounters(DmaDirection.Reader);
                    stall = $"no {(useWriter ? "RX" : "TX")} progress for {watch.Describe()} at RX buffer {rxSw}: writer hw {w.HwCount} ({w.Interrupts} irqs, running {w.Running}), " +
                            $"reader hw {r.HwCount} ({r.Interrupts} irqs, running {r.Running}), TX filled {txSw}";
                    options.Events?.Invoke(stall);
                    stallCause = options.DiagnoseStall?.Invoke();
                    break;
                }

                try
                {
                    // Sleep until the next interrupt moves the count (bounded), instead of spinning.
                    var direction = useWriter ? DmaDirection.Writer : DmaDirection.Reader;
                    long target = useWriter ? rxSw + 1 : channel.GetCounters(DmaDirection.Reader).HwCount + 1;
                    await channel.WaitAsync(direction, target, TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
                }
                catch (DeviceTimeoutException)
                {
                    // No interrupt in 50 ms: loop to re-check counters, the TX allowance and the stall bound.
                }
            }
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            steps?.StepFinished(failure);
            // Read before the stop: litepcie.ko's stop zeroes the driver's counts (seen in the guest: every reader-only stream
            // reported 0 bytes fetched, and the CLI's txBytes was always 0).
            last = LastCounts(channel, useWriter, useReader);
            steps.Step($"stop pcie_dma{channel.Index}", () => StopAll(channel));
        }

        var elapsed = clock.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        samples.Add(new ThroughputSample(elapsed, rxSw * g.BufferSize, txSw * (long)g.BufferSize));
        // Overruns and underruns the driver detected, for the directions this stream used (the other's count is stale).
        return new StreamReport(options.Mode, txSw, rxSw, rxSw * g.BufferSize, elapsed, cpu,
            last.WriterLost, last.ReaderLost,
            errors, details, samples, stall)
        {
            TxFetchedBytes = last.ReaderHw * (long)g.BufferSize,
            SequenceBase = seqBase,
            StallCause = stallCause,
        };
    }

    /// <summary>The counts a report needs, read while the engines still run (zeros for a device that is gone).</summary>
    private static (long ReaderHw, long WriterLost, long ReaderLost) LastCounts(IDmaChannel channel, bool useWriter, bool useReader)
    {
        try
        {
            var reader = channel.GetCounters(DmaDirection.Reader);
            return (reader.HwCount, useWriter ? channel.GetCounters(DmaDirection.Writer).Lost : 0, useReader ? reader.Lost : 0);
        }
        catch (DeviceException)
        {
            return (0, 0, 0);
        }
    }

    private static void StopAll(IDmaChannel channel)
    {
        foreach (var d in new[] { DmaDirection.Reader, DmaDirection.Writer })
        {
            if (channel.GetCounters(d).Running)
            {
                channel.Stop(d);
            }
        }
    }
}
