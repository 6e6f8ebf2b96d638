using System.Globalization;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Measurement;

namespace LitePcie.Hil.Reporting.Charts;

/// <summary>The charts the suites attach: throughput over time, latency histograms, per-cycle samples.</summary>
public static class ReportCharts
{
    /// <summary>RX and TX Gb/s per sample interval of a stream.</summary>
    public static string Throughput(StreamReport report, string title, double? thresholdGbps = null, string? thresholdName = null)
    {
        var rx = new List<(double, double)>();
        var tx = new List<(double, double)>();
        ThroughputSample previous = default;
        foreach (var s in report.Samples)
        {
            double dt = (s.At - previous.At).TotalSeconds;
            if (dt > 0)
            {
                rx.Add((s.At.TotalSeconds, (s.RxBytes - previous.RxBytes) * 8 / dt / 1e9));
                tx.Add((s.At.TotalSeconds, (s.TxBytes - previous.TxBytes) * 8 / dt / 1e9));
            }

            previous = s;
        }

        var series = new List<ChartSeries>();
        if (report.Mode != StreamMode.ReaderOnly)
        {
            series.Add(new ChartSeries("RX (writer, verified)", rx));
        }

        if (report.Mode != StreamMode.WriterOnly)
        {
            series.Add(new ChartSeries("TX (reader, filled)", tx));
        }

        if (thresholdGbps is { } min)
        {
            // Measured against the verdict's threshold, always: a flat line across the run.
            double end = Math.Max(report.Elapsed.TotalSeconds, report.Samples.Count > 0 ? report.Samples[^1].At.TotalSeconds : 0);
            series.Add(new ChartSeries($"{thresholdName ?? "threshold"} {min.ToString("0.##", CultureInfo.InvariantCulture)} Gb/s", [(0, min), (end, min)]));
        }

        return SvgChart.Line(title, "time (s)", "Gb/s", series);
    }

    /// <summary>A latency histogram in power-of-two microsecond buckets.</summary>
    public static string Latency(LatencySamples samples, string title) =>
        SvgChart.Bars(title, "latency (µs, upper bound of each power-of-two bucket)", "samples",
            [.. samples.Histogram().Select(b => new ChartBar("≤" + b.UpperUs.ToString(b.UpperUs < 1 ? "0.###" : "0", CultureInfo.InvariantCulture), b.Count))]);

    /// <summary>One value per cycle (restart time, resident memory, handles…).</summary>
    public static string PerCycle(string title, string yLabel, params ChartSeries[] series) =>
        SvgChart.Line(title, "cycle", yLabel, series);
}
