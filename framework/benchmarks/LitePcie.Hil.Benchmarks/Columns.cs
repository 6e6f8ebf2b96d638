using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace LitePcie.Hil.Benchmarks;

/// <summary>Payload bytes one invocation of the benchmark moves (for the GB/s column).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BytesPerOperationAttribute(long bytes) : Attribute
{
    public long Bytes { get; } = bytes;
}

/// <summary>
/// Process CPU time over wall time while a benchmark case ran (its pilot, warm-up and measured iterations), so
/// every throughput comes with the cores it cost. Benchmarks run in-process: the case's GlobalSetup calls
/// <see cref="Start"/>, its GlobalCleanup <see cref="Stop"/>, and the workload names itself with <see cref="Running"/>.
/// </summary>
public static class CpuMeter
{
    private static readonly Dictionary<string, double> s_cores = [];
    private static TimeSpan s_cpu0;
    private static long s_wall0;
    private static string? s_running;

    /// <summary>Set by the workload (a static store: free next to the work it names).</summary>
    public static void Running(string key) => s_running = key;

    public static void Start()
    {
        s_running = null;
        s_cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        s_wall0 = Stopwatch.GetTimestamp();
    }

    /// <param name="benchmark">The benchmark class (not GetType(): in-process runs use a generated subclass).</param>
    public static void Stop(Type benchmark)
    {
        var wall = Stopwatch.GetElapsedTime(s_wall0);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - s_cpu0;
        if (s_running is not null && wall > TimeSpan.Zero)
        {
            lock (s_cores)
            {
                s_cores[$"{benchmark.Name}.{s_running}"] = cpu / wall;
            }
        }
    }

    public static double? CoresOf(BenchmarkCase c)
    {
        lock (s_cores)
        {
            return s_cores.TryGetValue($"{c.Descriptor.Type.Name}.{c.Descriptor.WorkloadMethod.Name}", out double v) ? v : null;
        }
    }
}

/// <summary>What the three figure columns share: custom, numeric, always shown, computed per case.</summary>
public abstract class FigureColumn(string id, string name, int priority, string legend) : IColumn
{
    public string Id => id;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => priority;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => legend;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        Figure(summary, benchmarkCase)?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    /// <summary>Payload GB/s of a case (bytes per operation / mean ns), when it declares its bytes.</summary>
    protected static double? Throughput(Summary summary, BenchmarkCase c)
    {
        var stats = summary[c]?.ResultStatistics;
        return c.Descriptor.WorkloadMethod.GetCustomAttribute<BytesPerOperationAttribute>()?.Bytes is { } bytes && stats is not null && stats.Mean > 0
            ? bytes / stats.Mean
            : null;
    }

    protected abstract double? Figure(Summary summary, BenchmarkCase benchmarkCase);
}

/// <summary>GB/s = payload bytes per operation / mean time per operation.</summary>
public sealed class ThroughputColumn() : FigureColumn("GBps", "GB/s", 0, "Payload gigabytes per second (10^9 B/s) of one operation")
{
    protected override double? Figure(Summary summary, BenchmarkCase benchmarkCase) => Throughput(summary, benchmarkCase);
}

/// <summary>Cores busy on average (process CPU time / wall time) while the case ran.</summary>
public sealed class CoresColumn() : FigureColumn("Cores", "Cores", 1, "Process CPU time / wall time while the case ran (1.00 = one core busy)")
{
    protected override double? Figure(Summary summary, BenchmarkCase benchmarkCase) => CpuMeter.CoresOf(benchmarkCase);
}

/// <summary>GB/s per core: the throughput divided by the cores it cost.</summary>
public sealed class PerCoreColumn() : FigureColumn("GBpsPerCore", "GB/s/core", 2, "GB/s divided by Cores")
{
    protected override double? Figure(Summary summary, BenchmarkCase benchmarkCase) =>
        Throughput(summary, benchmarkCase) is { } gbps && CpuMeter.CoresOf(benchmarkCase) is { } cores && cores > 0 ? gbps / cores : null;
}
