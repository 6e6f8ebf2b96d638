using System.Xml.Linq;
using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Measurement;
using LitePcie.Hil.Reporting.Charts;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Reporting;

/// <summary>The SVG chart writer: well-formed, one line per series, honest about missing data.</summary>
[TestFixture]
public sealed class SvgChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Test]
    public void A_line_chart_is_well_formed_svg_with_one_polyline_per_series_and_a_legend()
    {
        string svg = SvgChart.Line("throughput <pcie_dma0> & co", "time (s)", "Gb/s",
        [
            new ChartSeries("RX", [(0, 1), (1, 9.5), (2, 10)]),
            new ChartSeries("TX", [(0, 1), (1, double.NaN), (2, double.PositiveInfinity), (3, 10)]),
        ]);
        var doc = XDocument.Parse(svg);
        doc.Root!.Name.Should().Be(Svg + "svg");
        var lines = doc.Descendants(Svg + "polyline").ToList();
        lines.Select(l => (string)l.Attribute("data-series")!).Should().Equal("RX", "TX");
        ((string)lines[0].Attribute("points")!).Split(' ').Should().HaveCount(3);
        ((string)lines[1].Attribute("points")!).Split(' ').Should().HaveCount(2, "non-finite samples are left out, never drawn as zero");
        lines[1].Attribute("stroke-dasharray").Should().NotBeNull("a second series is dashed so coinciding lines stay visible");
        doc.Descendants(Svg + "title").First().Value.Should().Be("throughput <pcie_dma0> & co", "text is escaped, not dropped");
    }

    [Test]
    public void No_data_says_so()
    {
        XDocument.Parse(SvgChart.Line("t", "x", "y", [new ChartSeries("a", [])])).Descendants(Svg + "text").Select(t => t.Value).Should().Contain("no data");
        XDocument.Parse(SvgChart.Bars("t", "x", "y", [])).Descendants(Svg + "text").Select(t => t.Value).Should().Contain("no data");
    }

    [Test]
    public void A_latency_histogram_keeps_empty_buckets_between_the_extremes()
    {
        var samples = new LatencySamples();
        long ticksPerUs = System.Diagnostics.Stopwatch.Frequency / 1_000_000;
        samples.Add(3 * ticksPerUs);
        samples.Add(3 * ticksPerUs);
        samples.Add(100 * ticksPerUs);
        var buckets = samples.Histogram();
        buckets.Select(b => b.UpperUs).Should().Equal(4, 8, 16, 32, 64, 128);
        buckets.Select(b => b.Count).Should().Equal(2, 0, 0, 0, 0, 1);

        var doc = XDocument.Parse(ReportCharts.Latency(samples, "MSI latency"));
        doc.Descendants(Svg + "rect").Count(r => (string?)r.Attribute("class") == "bar").Should().Be(6);
    }

    [Test]
    public void The_throughput_chart_differentiates_cumulative_samples_into_gbps()
    {
        var report = new StreamReport(StreamMode.Loopback, 0, 0, 0, TimeSpan.FromSeconds(1), TimeSpan.Zero, 0, 0, 0, [],
            [new ThroughputSample(TimeSpan.FromSeconds(0.5), 625_000_000, 625_000_000), new ThroughputSample(TimeSpan.FromSeconds(1), 1_250_000_000, 1_250_000_000)], null);
        var points = XDocument.Parse(ReportCharts.Throughput(report, "t")).Descendants(Svg + "polyline").ToList();
        points.Should().HaveCount(2, "RX and TX");
        points.Select(p => ((string)p.Attribute("points")!).Split(' ').Length).Should().Equal(2, 2);
    }

    [FsCheck.NUnit.Property(MaxTest = 300)]
    public Property Axis_ticks_cover_the_range_evenly_with_round_steps() =>
        Prop.ForAll(Arb.From(Gen.Choose(-1_000_000, 1_000_000)), Arb.From(Gen.Choose(0, 2_000_000)), (lo, span) =>
        {
            double min = lo / 100.0, max = (lo + span) / 100.0;
            var (a0, a1, ticks) = SvgChart.Axis(min, max);
            double step = ticks[1] - ticks[0];
            double mantissa = step / Math.Pow(10, Math.Floor(Math.Log10(step)));
            return a0 <= min && a1 >= max && ticks.Length is >= 2 and <= 14 && ticks[0] == a0 && Math.Abs(ticks[^1] - a1) < step * 1e-9 &&
                   new[] { 1, 2, 2.5, 5, 10 }.Any(m => Math.Abs(m - mantissa) < 1e-9);
        });
}
