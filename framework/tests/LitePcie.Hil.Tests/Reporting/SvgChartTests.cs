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

    [TestCase(2)]
    [TestCase(12)]
    public void The_legend_sits_above_the_plot_and_never_over_a_line(int count)
    {
        // Resource-growth charts carry a dozen series with long names; a legend inside the plot covered their lines.
        var series = Enumerable.Range(0, count)
            .Select(i => new ChartSeries($"driver.resource_with_a_long_name_{i}", [(0, 0), (50, i * 10.0), (100, 1000)])).ToArray();
        var doc = XDocument.Parse(SvgChart.Line("growth since the first sample", "cycle", "objects", series));

        var plot = doc.Descendants(Svg + "rect").Single(r => (string?)r.Attribute("class") == "plot");
        double plotTop = (double)plot.Attribute("y")!;
        var legend = doc.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "legend").ToList();
        legend.Should().HaveCount(count, "one legend entry per series");
        var boxes = legend.Select(g => (
            Top: g.Elements().Min(e => (double?)e.Attribute("y1") ?? ((double)e.Attribute("y")! - 10)),
            Bottom: g.Elements().Max(e => (double?)e.Attribute("y2") ?? (double)e.Attribute("y")!),
            Left: (double)g.Element(Svg + "line")!.Attribute("x1")!,
            Right: (double)g.Element(Svg + "text")!.Attribute("x")! + (g.Element(Svg + "text")!.Value.Length * 6.6))).ToList();
        boxes.Should().OnlyContain(b => b.Bottom < plotTop, "every entry is in the band above the plot");
        boxes.Should().OnlyContain(b => b.Right <= 760, "and inside the chart's width");
        for (int i = 0; i < boxes.Count; i++)
        {
            for (int j = i + 1; j < boxes.Count; j++)
            {
                bool apart = boxes[i].Right <= boxes[j].Left || boxes[j].Right <= boxes[i].Left || boxes[i].Bottom < boxes[j].Top || boxes[j].Bottom < boxes[i].Top;
                apart.Should().BeTrue($"legend entries {i} and {j} do not overlap each other");
            }
        }
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
