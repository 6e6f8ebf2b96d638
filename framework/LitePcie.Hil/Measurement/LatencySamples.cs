using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LitePcie.Hil.Measurement;

/// <summary>Summary of a latency distribution in microseconds.</summary>
public readonly record struct LatencySummary(int Count, double MinUs, double P50Us, double P99Us, double P999Us, double MaxUs, double MeanUs)
{
    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"n={Count} min {MinUs:0.###} µs, p50 {P50Us:0.###} µs, p99 {P99Us:0.###} µs, p99.9 {P999Us:0.###} µs, max {MaxUs:0.###} µs, mean {MeanUs:0.###} µs");
}

/// <summary>Collects latency samples (Stopwatch ticks) and summarises them with exact percentiles.</summary>
public sealed class LatencySamples(int capacity = 1024)
{
    private readonly List<long> _ticks = new(capacity);

    /// <summary>Number of samples.</summary>
    public int Count => _ticks.Count;

    /// <summary>Adds a sample measured in Stopwatch ticks.</summary>
    public void Add(long ticks) => _ticks.Add(ticks);

    /// <summary>Adds a sample from a start timestamp to now.</summary>
    public void AddSince(long startTimestamp) => _ticks.Add(Stopwatch.GetTimestamp() - startTimestamp);

    /// <summary>Percentiles by nearest rank on the sorted samples.</summary>
    public LatencySummary Summarize()
    {
        if (_ticks.Count == 0)
        {
            return default;
        }

        var sorted = _ticks.ToArray();
        Array.Sort(sorted);
        double Us(long t) => t * 1e6 / Stopwatch.Frequency;
        double P(double q) => Us(sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)]);
        return new LatencySummary(sorted.Length, Us(sorted[0]), P(0.50), P(0.99), P(0.999), Us(sorted[^1]), sorted.Average(t => Us(t)));
    }

    /// <summary>Histogram buckets (log2 of microseconds) for charts: (upper bound µs, count); empty buckets between the first and last are kept.</summary>
    public IReadOnlyList<(double UpperUs, int Count)> Histogram()
    {
        var buckets = new SortedDictionary<int, int>();
        foreach (long t in _ticks)
        {
            double us = Math.Max(t * 1e6 / Stopwatch.Frequency, 0.001);
            int b = (int)Math.Ceiling(Math.Log2(us));
            buckets[b] = buckets.GetValueOrDefault(b) + 1;
        }

        if (buckets.Count == 0)
        {
            return [];
        }

        int first = buckets.Keys.First(), last = buckets.Keys.Last();
        return [.. Enumerable.Range(first, last - first + 1).Select(b => (Math.Pow(2, b), buckets.GetValueOrDefault(b)))];
    }

    /// <summary>The samples in microseconds as CSV (one per line).</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder("latency_us\n");
        foreach (long t in _ticks)
        {
            sb.Append((t * 1e6 / Stopwatch.Frequency).ToString("0.###", CultureInfo.InvariantCulture)).Append('\n');
        }

        return sb.ToString();
    }
}
