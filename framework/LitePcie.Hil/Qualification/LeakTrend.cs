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

        return new TrendFit(resource, unit, points.Count, Median(slopes), LeastSquares(points), points[0].Value, points[^1].Value);
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

    private static List<(long Cycle, double Value)> Thin(IReadOnlyList<(long Cycle, double Value)> points)
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
/// a pattern is a resource name or a prefix ending in <c>*</c>; the longest matching pattern wins.
/// </summary>
public sealed class LeakLimits
{
    /// <summary>
    /// Defaults: the driver and the bus must be exactly flat (their counters are integers, so any real leak of
    /// one object per cycle is a slope of 1); the process gets room for allocator and runtime noise.
    /// </summary>
    public const string Default = "driver.*=0.01;bus.dma_allocations=0.01;bus.dma_memory_bytes=16;driver.live_dma_bytes=16;driver.shared_bytes=16;" +
        "process.managed_bytes=1024;process.private_bytes=65536;process.handles=0.05;process.threads=0.05";

    private readonly List<(string Pattern, double Limit)> _rules;

    private LeakLimits(List<(string Pattern, double Limit)> rules) => _rules = rules;

    /// <summary>The rules, in the order given.</summary>
    public IReadOnlyList<(string Pattern, double Limit)> Rules => _rules;

    /// <summary>Parses rules; every malformed entry is reported (with the accepted form) in <paramref name="errors"/>.</summary>
    public static LeakLimits Parse(string text, List<string> errors, string parameter = "LeakMaxSlope")
    {
        var rules = new List<(string, double)>();
        foreach (var entry in text.Split([';', ','], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            string pattern = eq < 0 ? "" : entry[..eq].Trim();
            int star = pattern.IndexOf('*', StringComparison.Ordinal);
            double limit = 0;
            bool ok = eq > 0 && pattern.Length > 0 && (star < 0 || star == pattern.Length - 1) &&
                double.TryParse(entry[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out limit) && limit >= 0 && double.IsFinite(limit);
            if (!ok)
            {
                errors.Add($"{parameter} entry '{entry}': accepted resource=limit or prefix*=limit with a limit ≥ 0 per cycle, ';'- or ','-separated");
                continue;
            }

            rules.Add((pattern, limit));
        }

        return new LeakLimits(rules);
    }

    /// <summary>The limit of a resource, or null when no rule covers it (then it is reported, not judged).</summary>
    public double? LimitFor(string resource)
    {
        (string Pattern, double Limit)? best = null;
        foreach (var rule in _rules)
        {
            bool match = rule.Pattern.EndsWith('*')
                ? resource.StartsWith(rule.Pattern[..^1], StringComparison.Ordinal)
                : resource == rule.Pattern;
            if (match && (best is null || rule.Pattern.Length > best.Value.Pattern.Length))
            {
                best = rule;
            }
        }

        return best?.Limit;
    }
}
