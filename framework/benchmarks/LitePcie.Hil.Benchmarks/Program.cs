using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Pci;
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
    /// The paced link model reproduces each board's configured payload rate: a verified loopback stream measured
    /// by <see cref="DmaStreamer"/>'s own meter, compared with <c>LinkModel.PayloadBytesPerSecond</c> (±2%).
    /// </summary>
    private static async Task<int> PacedCheckAsync(double seconds)
    {
        int failures = 0;
        Console.WriteLine("| Board | Link | Configured payload | Measured (DMA suite meter) | Deviation | CPU |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (string board in BoardCatalog.BuiltInNames())
        {
            await using var backend = new SilBackend(new SilBackendOptions { Boards = [board], Paced = true });
            var device = (await backend.EnumerateAsync())[0];
            await using var session = await backend.OpenAsync(device);
            var ch = session.Channels[0];
            if (ch.Layout.LoopbackEnable is null)
            {
                Console.WriteLine($"| {board} | - | - | - | no loopback in this design | - |");
                continue;
            }

            var link = backend.Slots[0].Board.Link;
            var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize), new StreamOptions { Duration = TimeSpan.FromSeconds(seconds) });
            double configured = link.PayloadGigabitsPerSecond;
            double deviation = (report.Gbps - configured) / configured;
            bool ok = report.Clean && Math.Abs(deviation) <= 0.02;
            failures += ok ? 0 : 1;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {board} | {link.Speed.Describe()} x{link.Width}, MPS {link.MaxPayloadSize} | {configured:0.00} Gb/s | {report.Gbps:0.00} Gb/s | {deviation * 100:+0.00;-0.00} %{(ok ? "" : " **out of ±2%**")} | {report.CpuCores:0.00} cores |"));
        }

        return failures == 0 ? 0 : 1;
    }
}
