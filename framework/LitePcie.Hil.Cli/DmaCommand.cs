using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace LitePcie.Hil.Cli;

/// <summary>One row of the live table (dma_test's line, with both directions' rates).</summary>
/// <remarks>
/// A direction the mode does not use has no figures: writer-only moves nothing host → board, reader-only returns
/// nothing, and DIFF (TX − RX, the ring in flight) only means something in loopback. Those cells read "-", never
/// 0.00 Gb/s or a negative DIFF.
/// </remarks>
internal sealed record DmaRow(StreamMode Mode, double Seconds, double TxGbps, double RxGbps, long TxBuffers, long RxBuffers, long Errors)
{
    /// <summary>TX buffers handed to the reader minus RX buffers verified (≈ the ring in steady loopback).</summary>
    public long? Diff => Mode == StreamMode.Loopback ? TxBuffers - RxBuffers : null;

    public bool HasTx => Mode != StreamMode.WriterOnly;

    public bool HasRx => Mode != StreamMode.ReaderOnly;

    public const string Header = "ELAPSED(s)  TX(Gb/s)  RX(Gb/s)  TX_BUFFERS  RX_BUFFERS     DIFF  ERRORS";

    public string Plain() => string.Create(CultureInfo.InvariantCulture,
        $"{Seconds,10:0.0}  {Cell(HasTx, TxGbps, "0.00"),8}  {Cell(HasRx, RxGbps, "0.00"),8}  {Cell(HasTx, TxBuffers, "0"),10}  {Cell(HasRx, RxBuffers, "0"),10}  {Diff?.ToString(CultureInfo.InvariantCulture) ?? "-",7}  {Errors,6}");

    /// <summary>The cells of the live table, in column order.</summary>
    public string[] Cells() =>
    [
        Text.F(Seconds, "0.0"), Cell(HasTx, TxGbps, "0.00"), Cell(HasRx, RxGbps, "0.00"), Cell(HasTx, TxBuffers, "0"), Cell(HasRx, RxBuffers, "0"),
        Diff?.ToString(CultureInfo.InvariantCulture) ?? "-",
    ];

    private static string Cell(bool present, double value, string format) => present ? value.ToString(format, CultureInfo.InvariantCulture) : "-";
}

/// <summary>What a DMA run did, from the streamer's report or (after Ctrl+C) from the counters so far.</summary>
internal sealed record DmaSummary(StreamMode Mode, double Seconds, long TxBytes, long RxBytes, double CpuCores, long Errors,
    IReadOnlyList<string> FirstErrors, string? Stall, long LostWriter, long LostReader, bool Interrupted)
{
    public double TxGbps => Seconds > 0 ? TxBytes * 8 / Seconds / 1e9 : 0;

    public double RxGbps => Seconds > 0 ? RxBytes * 8 / Seconds / 1e9 : 0;

    /// <summary>Nothing moved in the measured direction (a stream shorter than the stall bound can still be dead).</summary>
    public bool Idle => (Mode == StreamMode.ReaderOnly ? TxBytes : RxBytes) == 0;

    public bool Clean => Errors == 0 && Stall is null && LostWriter == 0 && LostReader == 0 && !Idle;
}

/// <summary>
/// <c>litepcie-hil dma</c>: dma_test on every backend. Streams a channel zero-copy (loopback, writer-only or
/// reader-only) with the framework's verifiable sequence pattern, shows a live table every 200 ms (elapsed, Gb/s per
/// direction, buffers, DIFF, errors), then a summary with bytes, rates, CPU cores and the first errors. Exit 1 on
/// data errors, lost buffers or a stall; 3 when the device fails.
/// </summary>
internal static class DmaCommand
{
    private const int LiveRows = 15;
    private const int PlainErrorLines = 10;

    private static readonly Option<string> Mode = CliOptions.Choice("--mode", "Engines: reader → loopback → writer, writer only (board → host) or reader only (host → board)",
        "loopback", "loopback", "writer", "reader");

    private static readonly Option<double> Seconds = CliOptions.Number("--seconds", "How long to stream", 5, 0.1, 86400, "seconds");
    private static readonly Option<int> Channel = CliOptions.Integer("--channel", "DMA channel (pcie_dmaN)", 0, 0, 15, "");
    private static readonly Option<int> IrqEvery = CliOptions.Integer("--irq-every", "One interrupt per this many buffers (at most half the ring)", 32, 1, 4096, "buffers");

    private static readonly Option<bool> ZeroCopy = new("--zero-copy")
    {
        Description = "Zero-copy (mmap'd rings; the default and the only mode implemented). --zero-copy false (copy mode through read()/write()) is refused",
        DefaultValueFactory = _ => true,
    };

    public static Command Create(CliIo io) =>
        DeviceCommand.Create("dma", "Stream DMA with data verification and a live throughput table (dma_test)", io, [Mode, Seconds, Channel, IrqEvery, ZeroCopy], RunAsync);

    private static async Task<int> RunAsync(CommandContext ctx)
    {
        if (!ctx.Parse.GetValue(ZeroCopy))
        {
            throw new CliUsageException("--zero-copy false: copy mode (read()/write() through the driver's bounce buffers) is not implemented by litepcie-hil dma; " +
                "the streamer verifies the rings in place (zero-copy) on every backend — omit the option");
        }

        var mode = ctx.Parse.GetValue(Mode) switch { "writer" => StreamMode.WriterOnly, "reader" => StreamMode.ReaderOnly, _ => StreamMode.Loopback };
        var duration = TimeSpan.FromSeconds(ctx.Parse.GetValue(Seconds));
        await using var bench = await Bench.OpenAsync(ctx.Request, ctx.Cancel).ConfigureAwait(false);
        var session = await bench.SessionAsync(ctx.Cancel).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            var channel = PickChannel(session, ctx.Parse.GetValue(Channel));
            int irqEvery = ctx.Parse.GetValue(IrqEvery);
            CheckMode(channel, bench.Profile, mode, ctx.Console);
            CheckIrqEvery(channel, irqEvery);
            var g = channel.Geometry;
            string what = $"{mode} on {session.Info.Device.Backend}:{session.Info.Device.Address} pcie_dma{channel.Index}, {g.BufferCount} × {Text.Size((ulong)g.BufferSize)}, irq every {irqEvery}";
            ctx.Console.Line($"DMA {what}, {Text.F(duration.TotalSeconds, "0.###")} s (Ctrl+C stops early)");

            var live = new LiveDma(ctx.Console, g.BufferSize, mode);
            var options = new StreamOptions
            {
                Mode = mode,
                Duration = duration,
                IrqEvery = irqEvery,
                KeepLoopbackSetting = channel.Layout.LoopbackEnable is null, // never touch a loopback register the design does not have
                Progress = live.Sample,
                Events = live.Event,
            };
            var summary = await live.RunAsync(() => StreamAsync(session, channel, mode, options, ctx.Cancel), channel, mode).ConfigureAwait(false);
            Print(ctx.Console, summary, what, live);
            return summary.Clean ? ExitCodes.Success : ExitCodes.TestFailed;
        }
    }

    private static IDmaChannel PickChannel(IDeviceSession session, int index) =>
        index < session.Channels.Count
            ? session.Channels[index]
            : throw new CliUsageException($"--channel {index} is out of range: this design has {session.Channels.Count} DMA channel(s), accepted 0..{session.Channels.Count - 1}");

    private static void CheckMode(IDmaChannel channel, BoardProfile profile, StreamMode mode, CliConsole console)
    {
        if (mode == StreamMode.Loopback && channel.Layout.LoopbackEnable is null)
        {
            throw new CliUsageException($"--mode loopback: pcie_dma{channel.Index} of this design has no loopback_enable register (built without loopback); " +
                "nothing was written. Use --mode writer (board's pattern source → host) or --mode reader (host → board)");
        }

        if (mode == StreamMode.WriterOnly && profile.WriterSource != UserWriterSource.SequencePattern)
        {
            throw new CliUsageException($"--mode writer: board profile {profile.Name} declares no user-side pattern source (userLogic.writerSource), " +
                "so writer-only data cannot be verified; use --mode loopback");
        }

        if (mode == StreamMode.ReaderOnly && profile.ReaderSink != UserReaderSink.Discard)
        {
            console.Note($"board profile {profile.Name} declares no user-side reader sink (userLogic.readerSink): a reader-only stream may stall");
        }
    }

    private static void CheckIrqEvery(IDmaChannel channel, int irqEvery)
    {
        int max = channel.Geometry.BufferCount / 2;
        if (irqEvery > max)
        {
            throw new CliUsageException($"--irq-every {irqEvery} is out of range for a {channel.Geometry.BufferCount}-buffer ring: accepted 1..{max}");
        }

        if (channel.Capabilities.Unsupported(new DmaStartOptions(irqEvery)) is { } why)
        {
            throw new CliUsageException($"--irq-every {irqEvery}: {why}");
        }
    }

    /// <summary>
    /// Without loopback the engines talk to user logic, which a synchronizer holds until it is bypassed (P15, docs/checklist.md#p15):
    /// bypassed for writer-only and reader-only streams, restored after.
    /// </summary>
    private static async Task<StreamReport> StreamAsync(IDeviceSession session, IDmaChannel channel, StreamMode mode, StreamOptions options, CancellationToken cancel)
    {
        var pattern = new SequencePattern(channel.Geometry.BufferSize);
        var sync = mode != StreamMode.Loopback ? channel.Layout.Synchronizer : null;
        if (sync is null)
        {
            return await DmaStreamer.RunAsync(channel, pattern, options, cancel).ConfigureAwait(false);
        }

        uint bypass = session.Read32(sync.Bypass);
        session.Write(sync.Bypass, 1);
        try
        {
            return await DmaStreamer.RunAsync(channel, pattern, options, cancel).ConfigureAwait(false);
        }
        finally
        {
            if (!session.IsDeviceGone)
            {
                session.Write(sync.Bypass, bypass);
            }
        }
    }

    private static void Print(CliConsole c, DmaSummary s, string what, LiveDma live)
    {
        c.Line();
        c.Line($"[> DMA summary{(s.Interrupted ? " (interrupted by Ctrl+C: figures so far)" : "")}");
        c.Line($"  mode          {what}");
        c.Line($"  elapsed       {Text.F(s.Seconds, "0.000")} s");
        c.Line(s.Mode == StreamMode.WriterOnly
            ? "  TX            - (writer-only: the reader engine is off, nothing goes host → board)"
            : $"  TX            {Text.BytesExact(s.TxBytes)} fetched by the reader, {Text.F(s.TxGbps, "0.00")} Gb/s");
        c.Line(s.Mode == StreamMode.ReaderOnly
            ? "  RX            - (reader-only: the writer engine is off, nothing comes back)"
            : $"  RX            {Text.BytesExact(s.RxBytes)} verified, {Text.F(s.RxGbps, "0.00")} Gb/s");
        c.Line($"  CPU           {Text.F(s.CpuCores, "0.00")} cores (process CPU time / wall time)");
        c.Line($"  errors        {s.Errors} bad buffer(s)");
        c.Line($"  driver lost   writer {s.LostWriter}, reader {s.LostReader}");
        c.Line($"  stall         {s.Stall ?? (s.Idle ? "no buffer moved" : "none")}");
        foreach (var e in s.FirstErrors)
        {
            c.Line($"  ! {e}");
        }

        c.Verdict(s.Clean, s.Clean ? "dma: PASS (no lost, corrupted or reordered buffers, no stall)" : "dma: FAIL");
        c.Document(new JsonObject
        {
            ["command"] = "dma",
            ["mode"] = s.Mode.ToString(),
            ["passed"] = s.Clean,
            ["interrupted"] = s.Interrupted,
            ["seconds"] = s.Seconds,
            ["txBytes"] = s.Mode == StreamMode.WriterOnly ? null : s.TxBytes,
            ["rxBytes"] = s.Mode == StreamMode.ReaderOnly ? null : s.RxBytes,
            ["txGbps"] = s.Mode == StreamMode.WriterOnly ? null : Math.Round(s.TxGbps, 3),
            ["rxGbps"] = s.Mode == StreamMode.ReaderOnly ? null : Math.Round(s.RxGbps, 3),
            ["cpuCores"] = Math.Round(s.CpuCores, 3),
            ["errors"] = s.Errors,
            ["firstErrors"] = new JsonArray([.. s.FirstErrors.Select(e => (JsonNode)e)]),
            ["stall"] = s.Stall ?? (s.Idle ? "no buffer moved" : null),
            ["driverLostWriter"] = s.LostWriter,
            ["driverLostReader"] = s.LostReader,
            ["samples"] = new JsonArray([.. live.Rows.Select(r => (JsonNode)new JsonObject
            {
                ["seconds"] = Math.Round(r.Seconds, 3),
                ["txGbps"] = r.HasTx ? Math.Round(r.TxGbps, 3) : null,
                ["rxGbps"] = r.HasRx ? Math.Round(r.RxGbps, 3) : null,
                ["txBuffers"] = r.HasTx ? r.TxBuffers : null,
                ["rxBuffers"] = r.HasRx ? r.RxBuffers : null,
                ["diff"] = r.Diff,
                ["errors"] = r.Errors,
            })]),
        });
    }

    /// <summary>
    /// The live view of a stream: rows from the streamer's samples (plain lines off a terminal, a redrawn Spectre
    /// table on one, nothing in JSON mode), the error events, and the summary — also after Ctrl+C.
    /// </summary>
    private sealed class LiveDma(CliConsole console, int bufferSize, StreamMode mode)
    {
        private readonly List<DmaRow> _rows = [];
        private readonly List<string> _events = [];
        private readonly object _gate = new();
        private ThroughputSample _last;
        private LiveDisplayContext? _display;

        public IReadOnlyList<DmaRow> Rows => _rows;

        public void Sample(ThroughputSample s, long errors)
        {
            double dt = (s.At - _last.At).TotalSeconds;
            var row = new DmaRow(mode, s.At.TotalSeconds,
                dt > 0 ? (s.TxBytes - _last.TxBytes) * 8 / dt / 1e9 : 0,
                dt > 0 ? (s.RxBytes - _last.RxBytes) * 8 / dt / 1e9 : 0,
                s.TxBytes / bufferSize, s.RxBytes / bufferSize, errors);
            _last = s;
            lock (_gate)
            {
                _rows.Add(row);
            }

            if (console.Json)
            {
                return;
            }

            if (_display is { } display)
            {
                display.UpdateTarget(View());
            }
            else
            {
                if (_rows.Count == 1)
                {
                    console.Out.WriteLine(DmaRow.Header);
                }

                console.Out.WriteLine(row.Plain());
            }
        }

        public void Event(string line)
        {
            lock (_gate)
            {
                _events.Add(line);
            }

            if (!console.Json && _display is null && _events.Count <= PlainErrorLines)
            {
                console.Out.WriteLine($"! {line}");
            }
        }

        public async Task<DmaSummary> RunAsync(Func<Task<StreamReport>> stream, IDmaChannel channel, StreamMode mode)
        {
#pragma warning disable RS0030 // the bench command times its run on the wall clock (a measurement, not a wait bound)
            var clock = Stopwatch.StartNew();
#pragma warning restore RS0030
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            try
            {
                var report = console.Terminal
                    ? await console.Ansi.Live(View()).AutoClear(false).StartAsync(async ctx =>
                    {
                        _display = ctx;
                        try
                        {
                            return await stream().ConfigureAwait(false);
                        }
                        finally
                        {
                            ctx.UpdateTarget(View());
                            _display = null;
                        }
                    }).ConfigureAwait(false)
                    : await stream().ConfigureAwait(false);
                return new DmaSummary(mode, report.Elapsed.TotalSeconds, report.TxFetchedBytes, report.RxBytes, report.CpuCores, report.Errors,
                    [.. report.ErrorDetails.Select(e => e.ToString())], report.Stall, report.DriverLostWriter, report.DriverLostReader, Interrupted: false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: the streamer has stopped the engines; summarise from the counters so far.
                double seconds = clock.Elapsed.TotalSeconds;
                double cores = seconds > 0 ? (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds / seconds : 0;
                var w = channel.GetCounters(DmaDirection.Writer);
                var r = channel.GetCounters(DmaDirection.Reader);
                List<string> events;
                lock (_gate)
                {
                    events = [.. _events.Take(16)];
                }

                long errors = Math.Max(_rows.Count > 0 ? _rows[^1].Errors : 0, events.Count);
                return new DmaSummary(mode, seconds, r.HwCount * bufferSize, mode == StreamMode.ReaderOnly ? 0 : w.SwCount * bufferSize, cores, errors,
                    events, null, w.Lost, r.Lost, Interrupted: true);
            }
        }

        private IRenderable View()
        {
            // Numbers right-aligned so digits line up as they change; the header says which direction is off.
            var table = new Table().Border(TableBorder.Rounded).Title("litepcie-hil dma");
            foreach (var header in new[] { "ELAPSED (s)", "TX Gb/s", "RX Gb/s", "TX BUFFERS", "RX BUFFERS", "DIFF", "ERRORS" })
            {
                table.AddColumn(new TableColumn(header).RightAligned());
            }

            List<DmaRow> rows;
            List<string> events;
            lock (_gate)
            {
                rows = [.. _rows.TakeLast(LiveRows)];
                events = [.. _events.TakeLast(5)];
            }

            foreach (var r in rows)
            {
                string errors = r.Errors == 0 ? "0" : $"[red]{r.Errors}[/]";
                table.AddRow([.. r.Cells(), errors]);
            }

            return events.Count == 0
                ? table
                : new Rows(table, new Markup(string.Join("\n", events.Select(e => $"[red]! {Markup.Escape(e)}[/]"))));
        }
    }
}
