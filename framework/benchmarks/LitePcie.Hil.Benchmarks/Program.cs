using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Sil;

namespace LitePcie.Hil.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project framework/benchmarks/LitePcie.Hil.Benchmarks -- --filter '*'</c> runs every
/// benchmark (BenchmarkDotNet arguments apply); <c>-- paced [seconds]</c> checks the SIL's paced link model against
/// each built-in board's payload rate with the DMA suite's throughput meter.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "paced")
        {
            double seconds = args.Length > 1 && double.TryParse(args[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s is > 0 and <= 3600
                ? s
                : args.Length > 1 ? throw new ArgumentException($"paced: seconds '{args[1]}' must be a number in (0, 3600]") : 3;
            return await PacedCheckAsync(seconds);
        }

        var config = DefaultConfig.Instance
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance))
            .AddColumn(new ThroughputColumn(), new CoresColumn(), new PerCoreColumn())
            .WithOptions(ConfigOptions.JoinSummary);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }

    /// <summary>
    /// The paced link model reproduces each board's configured payload rate in each direction: a verified loopback
    /// stream (both directions at once) where the design has loopback, and writer-only (from the board's generator) and
    /// reader-only (into its sink) streams where its user logic provides them — each measured by <see cref="DmaStreamer"/>'s
    /// own meter (the DMA suite's) and compared with the trained link's payload rate (±2%), after a warm-up stream (JIT
    /// tiers) in the same process. A rate faster than 80% of what the SIL moves unpaced on this machine in that mode
    /// cannot be paced to here, and is reported so.
    /// </summary>
    private static async Task<int> PacedCheckAsync(double seconds)
    {
        int failures = 0;
        Console.WriteLine("| Board | Mode | Link | Configured payload | Measured (DMA suite meter) | Deviation | CPU |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (string board in BoardCatalog.BuiltInNames())
        {
            BoardProfile profile;
            try
            {
                profile = BoardCatalog.Load(board);
            }
            catch (BoardMapUnavailableException e)
            {
                Console.WriteLine($"| {board} | - | - | - | - | not available here: {e.Reason} | - |");
                continue;
            }

            foreach (var mode in new[] { StreamMode.Loopback, StreamMode.WriterOnly, StreamMode.ReaderOnly })
            {
                if (Unsupported(profile, mode) is { } why)
                {
                    Console.WriteLine($"| {board} | {mode} | - | - | - | {why} | - |");
                    continue;
                }

                var unpaced = await StreamAsync(board, mode, paced: false, seconds: Math.Min(seconds, 1), warmUp: true);
                var paced = await StreamAsync(board, mode, paced: true, seconds, warmUp: false);
                var link = paced.Link;
                double configured = link.PayloadGigabitsPerSecond;
                double deviation = (paced.Gbps - configured) / configured;
                bool checkable = configured < 0.8 * unpaced.Gbps;
                bool ok = !checkable || Math.Abs(deviation) <= 0.02;
                failures += ok ? 0 : 1;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {board} | {mode} | {link.Speed.Describe()} x{link.Width}, MPS {link.MaxPayloadSize} | {configured:0.00} Gb/s | {paced.Gbps:0.00} Gb/s | {deviation * 100:+0.00;-0.00} %" +
                    $"{(checkable ? ok ? "" : " **out of ±2%**" : $" (not judged: the link is above 80% of the {unpaced.Gbps:0.0} Gb/s the SIL moves unpaced here)")} | {paced.Cores:0.00} cores |"));
            }
        }

        return failures == 0 ? 0 : 1;
    }

    /// <summary>Why a board cannot stream in a mode (null when it can).</summary>
    private static string? Unsupported(BoardProfile profile, StreamMode mode) => mode switch
    {
        StreamMode.Loopback when profile.CsrMap.Layout.DmaChannels[0].LoopbackEnable is null => "no loopback in this design",
        StreamMode.WriterOnly when profile.WriterSource != UserWriterSource.SequencePattern => "no user-side writer source",
        StreamMode.ReaderOnly when profile.ReaderSink == UserReaderSink.None => "no user-side reader sink",
        _ => null,
    };

    /// <summary>What a verified stream on a fresh backend measured, on which link.</summary>
    private sealed record StreamResult(double Gbps, double Cores, LinkModel Link);

    /// <summary>A stream in <paramref name="mode"/> on a fresh backend (the synchronizer released for user-side streams).</summary>
    private static async Task<StreamResult> StreamAsync(string board, StreamMode mode, bool paced, double seconds, bool warmUp)
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = [board], Paced = paced });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        var ch = session.Channels[0];
        if (mode != StreamMode.Loopback && ch.Layout.Synchronizer is { } sync)
        {
            session.Write(sync.Bypass, 1); // P15: user streams pass only with the synchronizer bypassed
        }

        var pattern = new SequencePattern(ch.Geometry.BufferSize);
        if (warmUp)
        {
            await DmaStreamer.RunAsync(ch, pattern, new StreamOptions { Mode = mode, Duration = TimeSpan.FromSeconds(0.5) });
        }

        var report = await DmaStreamer.RunAsync(ch, pattern, new StreamOptions { Mode = mode, Duration = TimeSpan.FromSeconds(seconds) });
        return report.Clean
            ? new StreamResult(report.Gbps, report.CpuCores, backend.Slots[0].Board.Link)
            : throw new InvalidOperationException($"{board}: the {(paced ? "paced" : "unpaced")} {mode} stream was not clean:\n{report.Summary()}");
    }
}
