using System.Globalization;
using System.Security;
using System.Text;

namespace LitePcie.Hil.Reporting.Charts;

/// <summary>One line of a line chart.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Points">(x, y) points; non-finite values are skipped.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>One bar of a bar chart (a histogram bucket).</summary>
public sealed record ChartBar(string Label, double Value);

/// <summary>
/// A small, dependency-free SVG chart writer for report attachments: line charts (throughput over time,
/// per-cycle resource samples) and bar charts (latency histograms). Output is self-contained SVG 1.1 that
/// browsers and Allure render inline; every number is written with the invariant culture.
/// </summary>
public static class SvgChart
{
    private const int Width = 760;
    private const int PlotHeight = 284;
    private const int Left = 72;
    private const int Right = 20;
    private const int TitleBand = 40;
    private const int Bottom = 56;
    private const int LegendRow = 18;

    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    /// <summary>
    /// A line chart; an empty or all-non-finite input gives a chart that says "no data". The legend sits in a band of
    /// its own between the title and the plot, wrapped into rows, so it never covers a line.
    /// </summary>
    public static string Line(string title, string xLabel, string yLabel, IReadOnlyList<ChartSeries> series)
    {
        var clean = series.Select(s => s with { Points = [.. s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y))] }).ToList();
        var all = clean.SelectMany(s => s.Points).ToList();
        var legend = LegendLayout(clean.Select(s => s.Name).ToList());
        var f = new Frame(TitleBand + (legend.Count == 0 ? 0 : (legend.Max(l => l.Row) + 1) * LegendRow + 6));
        var svg = Begin(f, title, xLabel, yLabel);
        if (all.Count == 0)
        {
            return NoData(f, svg);
        }

        var (x0, x1, xTicks) = Axis(all.Min(p => p.X), all.Max(p => p.X));
        var (y0, y1, yTicks) = Axis(Math.Min(0, all.Min(p => p.Y)), all.Max(p => p.Y));
        Grid(f, svg, x0, x1, xTicks, y0, y1, yTicks);
        for (int i = 0; i < clean.Count; i++)
        {
            string color = Palette[i % Palette.Length];
            var pts = clean[i].Points;

            // Later series are dashed so that coinciding lines (RX = TX in loopback) stay visible.
            string dash = i == 0 ? "" : $" stroke-dasharray=\"{6 + (2 * i)},4\"";
            var (lx, row) = (legend[i].X, legend[i].Row);
            int ly = TitleBand + (row * LegendRow) + 4;
            svg.Append($"<g class=\"legend\"><line x1=\"{lx}\" y1=\"{ly + 6}\" x2=\"{lx + 18}\" y2=\"{ly + 6}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>");
            svg.Append($"<text x=\"{lx + 22}\" y=\"{ly + 10}\" font-size=\"11\">{Xml(clean[i].Name)}</text></g>\n");
            if (pts.Count == 0)
            {
                continue;
            }

            svg.Append($"<polyline class=\"series\" data-series=\"{Xml(clean[i].Name)}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"");
            svg.AppendJoin(' ', pts.Select(p => $"{F(Px(p.X, x0, x1))},{F(f.Py(p.Y, y0, y1))}"));
            svg.Append("\"/>\n");
            if (pts.Count == 1)
            {
                svg.Append($"<circle cx=\"{F(Px(pts[0].X, x0, x1))}\" cy=\"{F(f.Py(pts[0].Y, y0, y1))}\" r=\"3\" fill=\"{color}\"/>\n");
            }
        }

        return End(svg);
    }

    /// <summary>Legend entries left to right, wrapping to a new row when the next one would pass the plot's right edge.</summary>
    private static List<(int X, int Row)> LegendLayout(IReadOnlyList<string> names)
    {
        var placed = new List<(int X, int Row)>();
        int x = Left, row = 0;
        foreach (string name in names)
        {
            int width = 22 + (int)Math.Ceiling(name.Length * 6.6) + 18; // swatch, text at 11 px (≈ 0.6 em per glyph), gap
            if (x > Left && x + width > Width - Right)
            {
                (x, row) = (Left, row + 1);
            }

            placed.Add((x, row));
            x += width;
        }

        return placed;
    }

    /// <summary>A bar chart (histogram); bars keep their order, labels are written under them.</summary>
    public static string Bars(string title, string xLabel, string yLabel, IReadOnlyList<ChartBar> bars)
    {
        var clean = bars.Where(b => double.IsFinite(b.Value)).ToList();
        var f = new Frame(TitleBand);
        var svg = Begin(f, title, xLabel, yLabel);
        if (clean.Count == 0)
        {
            return NoData(f, svg);
        }

        var (y0, y1, yTicks) = Axis(0, Math.Max(clean.Max(b => b.Value), 1));
        Grid(f, svg, 0, 1, [], y0, y1, yTicks);
        double plotW = Width - Left - Right;
        double slot = plotW / clean.Count;
        double barW = Math.Max(1, slot * 0.8);
        int labelEvery = Math.Max(1, (int)Math.Ceiling(clean.Count * 42 / plotW));
        for (int i = 0; i < clean.Count; i++)
        {
            double x = Left + (i * slot) + ((slot - barW) / 2);
            double y = f.Py(clean[i].Value, y0, y1);
            svg.Append($"<rect class=\"bar\" x=\"{F(x)}\" y=\"{F(y)}\" width=\"{F(barW)}\" height=\"{F(f.PlotBottom - y)}\" fill=\"{Palette[0]}\">");
            svg.Append($"<title>{Xml(clean[i].Label)}: {F(clean[i].Value)}</title></rect>\n");
            if (i % labelEvery == 0)
            {
                svg.Append($"<text x=\"{F(x + (barW / 2))}\" y=\"{f.PlotBottom + 14}\" font-size=\"10\" text-anchor=\"middle\">{Xml(clean[i].Label)}</text>\n");
            }
        }

        return End(svg);
    }

    /// <summary>Round axis bounds and 4–8 ticks covering [min, max].</summary>
    internal static (double Min, double Max, double[] Ticks) Axis(double min, double max)
    {
        if (max <= min)
        {
            double pad = min == 0 ? 1 : Math.Abs(min) * 0.1;
            (min, max) = (min - pad, max + pad);
        }

        double raw = (max - min) / 6;
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * mag).First(s => s >= raw);
        double lo = Math.Floor(min / step) * step;
        double hi = Math.Ceiling(max / step) * step;
        int n = (int)Math.Round((hi - lo) / step);
        return (lo, hi, [.. Enumerable.Range(0, n + 1).Select(i => lo + (i * step))]);
    }

    /// <summary>Vertical layout of one chart: the plot starts below the title and legend bands.</summary>
    private readonly record struct Frame(int Top)
    {
        public int PlotBottom => Top + PlotHeight;

        public int Height => PlotBottom + Bottom;

        public double Py(double y, double y0, double y1) => PlotBottom - ((y - y0) / (y1 - y0) * PlotHeight);
    }

    private static StringBuilder Begin(Frame f, string title, string xLabel, string yLabel)
    {
        var svg = new StringBuilder();
        int midY = f.Top + (PlotHeight / 2);
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{Width}\" height=\"{f.Height}\" viewBox=\"0 0 {Width} {f.Height}\" font-family=\"sans-serif\">\n");
        svg.Append($"<title>{Xml(title)}</title>\n");
        svg.Append($"<rect width=\"{Width}\" height=\"{f.Height}\" fill=\"white\"/>\n");
        svg.Append($"<text x=\"{Width / 2}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\" font-weight=\"bold\">{Xml(title)}</text>\n");
        svg.Append($"<text x=\"{Left + ((Width - Left - Right) / 2)}\" y=\"{f.Height - 12}\" font-size=\"12\" text-anchor=\"middle\">{Xml(xLabel)}</text>\n");
        svg.Append($"<text x=\"16\" y=\"{midY}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 {midY})\">{Xml(yLabel)}</text>\n");
        return svg;
    }

    private static void Grid(Frame f, StringBuilder svg, double x0, double x1, double[] xTicks, double y0, double y1, double[] yTicks)
    {
        foreach (double t in yTicks)
        {
            double y = f.Py(t, y0, y1);
            svg.Append($"<line x1=\"{Left}\" y1=\"{F(y)}\" x2=\"{Width - Right}\" y2=\"{F(y)}\" stroke=\"#e0e0e0\"/>");
            svg.Append($"<text x=\"{Left - 6}\" y=\"{F(y + 4)}\" font-size=\"11\" text-anchor=\"end\">{Tick(t)}</text>\n");
        }

        foreach (double t in xTicks)
        {
            double x = Px(t, x0, x1);
            svg.Append($"<line x1=\"{F(x)}\" y1=\"{f.Top}\" x2=\"{F(x)}\" y2=\"{f.PlotBottom}\" stroke=\"#f0f0f0\"/>");
            svg.Append($"<text x=\"{F(x)}\" y=\"{f.PlotBottom + 16}\" font-size=\"11\" text-anchor=\"middle\">{Tick(t)}</text>\n");
        }

        svg.Append($"<rect class=\"plot\" x=\"{Left}\" y=\"{f.Top}\" width=\"{Width - Left - Right}\" height=\"{PlotHeight}\" fill=\"none\" stroke=\"#808080\"/>\n");
    }

    private static string NoData(Frame f, StringBuilder svg)
    {
        svg.Append($"<text x=\"{Width / 2}\" y=\"{f.Top + (PlotHeight / 2)}\" font-size=\"14\" text-anchor=\"middle\" fill=\"#808080\">no data</text>\n");
        return End(svg);
    }

    private static string End(StringBuilder svg) => svg.Append("</svg>\n").ToString();

    private static double Px(double x, double x0, double x1) => Left + ((x - x0) / (x1 - x0) * (Width - Left - Right));


    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Tick(double v)
    {
        double a = Math.Abs(v);
        return a >= 1e9 ? F(v / 1e9) + "G" : a >= 1e6 ? F(v / 1e6) + "M" : a >= 1e4 ? F(v / 1e3) + "k" : v.ToString("0.###", CultureInfo.InvariantCulture);
    }

    private static string Xml(string text) => SecurityElement.Escape(text) ?? "";
}
