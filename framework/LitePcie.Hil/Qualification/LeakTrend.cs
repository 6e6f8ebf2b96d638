using System.Globalization;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Qualification;

/// <summary>The growth trend of one resource over the sampled cycles.</summary>
/// <param name="Resource">Resource name.</param>
/// <param name="Unit">Bytes or count.</param>
/// <param name="Samples">Samples in the fit.</param>
/// <param name="Slope">Theil–Sen slope (median of pairwise slopes) per cycle: the verdict's measure, robust to a spike.</param>
/// <param name="LeastSquaresSlope">Ordinary least-squares slope per cycle, reported beside it.</param>
/// <param name="First">First sampled value.</param>
/// <param name="Last">Last sampled value.</param>
public sealed record TrendFit(string Resource, ResourceUnit Unit, int Samples, double Slope, double LeastSquaresSlope, double First, double Last)
{
    /// <summary>Cycles between the first and the last sample (what a noise band is spread over).</summary>
    public long SampledCycles { get; init; }

    /// <summary>Slope with its unit, e.g. <c>4096 bytes/cycle</c>.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Resource}: {Slope:0.###} {(Unit == ResourceUnit.Bytes ? "bytes" : "objects")}/cycle (least squares {LeastSquaresSlope:0.###}; {First:0.###} → {Last:0.###} over {Samples} samples)");
}

/// <summary>
/// Fits the per-cycle growth of resource samples. The verdict uses the Theil–Sen estimator (the median of the
/// slopes between every pair of samples): a steady ramp gives its rate exactly, while a garbage-collection
/// spike or one-off allocation — which moves the end value — barely moves it. That is what "fail on the slope,
/// not on the end value" needs.
/// </summary>
public static class LeakTrend
{
    /// <summary>Pairs beyond which samples are thinned evenly before the pairwise fit (bounded cost).</summary>
    public const int MaxPoints = 400;

    /// <summary>Fits one resource's samples (cycle, value); fewer than two samples give a zero slope.</summary>
    public static TrendFit Fit(string resource, ResourceUnit unit, IReadOnlyList<(long Cycle, double Value)> points)
    {
        if (points.Count < 2)
        {
            double v = points.Count == 1 ? points[0].Value : 0;
            return new TrendFit(resource, unit, points.Count, 0, 0, v, v);
        }

        var p = Thin(points);
        var slopes = new List<double>(p.Count * (p.Count - 1) / 2);
        for (int i = 0; i < p.Count; i++)
        {
            for (int j = i + 1; j < p.Count; j++)
            {
                long dx = p[j].Cycle - p[i].Cycle;
                if (dx != 0)
                {
                    slopes.Add((p[j].Value - p[i].Value) / dx);
                }
            }
        }

        return new TrendFit(resource, unit, points.Count, Median(slopes), LeastSquares(points), points[0].Value, points[^1].Value)
        {
            SampledCycles = points[^1].Cycle - points[0].Cycle,
        };
    }

    /// <summary>Ordinary least-squares slope.</summary>
    public static double LeastSquares(IReadOnlyList<(long Cycle, double Value)> points)
    {
        double mx = points.Average(p => (double)p.Cycle);
        double my = points.Average(p => p.Value);
        double sxx = 0, sxy = 0;
        foreach (var (x, y) in points)
        {
            sxx += (x - mx) * (x - mx);
            sxy += (x - mx) * (y - my);
        }

        return sxx == 0 ? 0 : sxy / sxx;
    }

    /// <summary>At most <see cref="MaxPoints"/> samples, evenly spaced, the first and the last always kept.</summary>
    internal static List<(long Cycle, double Value)> Thin(IReadOnlyList<(long Cycle, double Value)> points)
    {
        if (points.Count <= MaxPoints)
        {
            return [.. points];
        }

        double step = (points.Count - 1) / (double)(MaxPoints - 1);
        return [.. Enumerable.Range(0, MaxPoints).Select(i => points[(int)Math.Round(i * step)])];
    }

    /// <summary>The median of <paramref name="values"/> (sorted in place); 0 when empty.</summary>
    internal static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        values.Sort();
        int mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }
}

/// <summary>
/// The highest per-cycle growth each resource may show. Rules are <c>pattern=limit</c> separated by <c>;</c>;
/// a pattern is a resource name or a prefix ending in <c>*</c>, each given once; an exact name wins over any prefix,
/// and the longest matching prefix over shorter ones. A limit may carry a
/// noise band, <c>limit+band</c>: the band (in the resource's unit) is the jitter a clean run shows between samples,
/// spread over the cycles sampled, so the limit is <c>limit + band / cycles sampled</c> — a long run judges tightly, a
/// short one does not read its jitter as a leak (docs/leak-verdicts.md).
/// </summary>
public sealed class LeakLimits
{
    /// <summary>
    /// Defaults, from measured noise (docs/leak-verdicts.md): the driver's and the bus's counters are exact integers, so any
    /// real leak of one object per cycle is a slope of 1 (limit 0.01) and bytes are flat to the byte (16); the test process
    /// gets its measured jitter as a band (managed heap, C heap, and private bytes, a backstop for gross leaks only: the
    /// runtime and glibc move them by tens of MiB under load);
    /// the macOS dext's footprint moves in 16 KiB pages (a band of 4 pages); the Linux kernel's unreclaimable slab is a
    /// system-wide figure (a band of 1 MiB of other activity).
    /// </summary>
    public const string Default = "driver.*=0.01;bus.dma_allocations=0.01;bus.dma_memory_bytes=16;driver.live_dma_bytes=16;driver.shared_bytes=16;" +
        "driver.native_bytes=16;driver.dext_footprint_bytes=64+65536;kernel.slab_unreclaimable_bytes=256+1048576;" +
        "process.managed_bytes=16+98304;process.native_heap_bytes=64+262144;process.private_bytes=4096+100663296;process.handles=0.05;process.threads=0.05";

    private readonly List<(string Pattern, double Limit, double Band)> _rules;
    private readonly LeakLimits? _fallback;

    private LeakLimits(List<(string Pattern, double Limit, double Band)> rules, LeakLimits? fallback = null)
    {
        _rules = rules;
        _fallback = fallback;
    }

    /// <summary>The rules, in the order given.</summary>
    public IReadOnlyList<(string Pattern, double Limit, double Band)> Rules => _rules;

    /// <summary>Parses rules; every malformed entry is reported (with the accepted form) in <paramref name="errors"/>.</summary>
    public static LeakLimits Parse(string text, List<string> errors, string parameter = "LeakMaxSlope")
    {
        var rules = new List<(string, double, double)>();
        foreach (var entry in text.Split([';', ','], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            string pattern = eq < 0 ? "" : entry[..eq].Trim();
            int star = pattern.IndexOf('*', StringComparison.Ordinal);
            string value = eq < 0 ? "" : entry[(eq + 1)..];
            int plus = BandSeparator(value);
            double limit = 0, band = 0;
            bool ok = eq > 0 && pattern.Length > 0 && (star < 0 || star == pattern.Length - 1) &&
                Number(plus < 0 ? value : value[..plus], out limit) && (plus < 0 || Number(value[(plus + 1)..], out band));
            if (!ok)
            {
                errors.Add($"{parameter} entry '{entry}': accepted resource=limit or prefix*=limit with a limit ≥ 0 per cycle and an optional noise band (limit+band, ≥ 0), ';'- or ','-separated");
                continue;
            }

            if (rules.Exists(r => r.Item1 == pattern))
            {
                errors.Add($"{parameter} entry '{entry}': '{pattern}' already has a limit; give each resource or prefix once");
                continue;
            }

            rules.Add((pattern, limit, band));
        }

        return new LeakLimits(rules);
    }

    /// <summary>These rules first; a resource none of them covers is judged by <paramref name="defaults"/>' rules.</summary>
    public LeakLimits Over(LeakLimits defaults) => new(_rules, defaults);

    /// <summary>The per-cycle limit of a resource for a run long enough to ignore its band, or null when no rule covers it (reported, not judged).</summary>
    public double? LimitFor(string resource) => Rule(resource)?.Limit;

    /// <summary>The limit of a resource over <paramref name="sampledCycles"/> cycles: the per-cycle limit plus its band spread over them.</summary>
    public double? LimitFor(string resource, double sampledCycles) =>
        Rule(resource) is { } r ? r.Limit + (r.Band > 0 ? r.Band / Math.Max(1, sampledCycles) : 0) : null;

    private (string Pattern, double Limit, double Band)? Rule(string resource)
    {
        (string Pattern, double Limit, double Band)? best = null;
        foreach (var rule in _rules)
        {
            bool match = rule.Pattern.EndsWith('*')
                ? resource.StartsWith(rule.Pattern[..^1], StringComparison.Ordinal)
                : resource == rule.Pattern;
            if (match && (best is null || Specificity(rule.Pattern) > Specificity(best.Value.Pattern)))
            {
                best = rule;
            }
        }

        return best ?? _fallback?.Rule(resource);
    }

    /// <summary>An exact name beats every prefix (<c>driver.live</c> over <c>driver.liv*</c>); among prefixes the longest wins.</summary>
    private static int Specificity(string pattern) => pattern.EndsWith('*') ? pattern.Length - 1 : int.MaxValue;

    /// <summary>The '+' between limit and band: not an exponent's sign (<c>1e+3+2e+5</c>).</summary>
    private static int BandSeparator(string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '+' && (i == 0 || value[i - 1] is not ('e' or 'E')))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool Number(string text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value >= 0 && double.IsFinite(value);
}
