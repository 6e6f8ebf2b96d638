using System.Globalization;

namespace LitePcie.Hil.Qualification;

/// <summary>
/// The states a board is detached in, with weights (<c>idle=1,open=1,dma=1</c>): idle (no session), with a
/// session open, or mid-DMA (a surprise removal under load). Cycles take the states in a fixed interleaved
/// order, so every window of <see cref="Period"/> cycles has the weighted mix and a run is reproducible.
/// </summary>
public sealed class DetachMix
{
    /// <summary>The states, in the order a cycle period uses them.</summary>
    public static IReadOnlyList<string> States { get; } = ["idle", "open", "dma"];

    private readonly string[] _sequence;

    private DetachMix(IReadOnlyList<(string State, int Weight)> weights)
    {
        Weights = weights;
        int max = weights.Max(w => w.Weight);
        _sequence = [.. Enumerable.Range(0, max).SelectMany(i => weights.Where(w => w.Weight > i).Select(w => w.State))];
    }

    /// <summary>The default: all three states equally.</summary>
    public static DetachMix Default { get; } = new([("idle", 1), ("open", 1), ("dma", 1)]);

    /// <summary>The detach states and their weights, in order.</summary>
    public IReadOnlyList<(string State, int Weight)> Weights { get; }

    /// <summary>Cycles in one period of the mix.</summary>
    public int Period => _sequence.Length;

    /// <summary>The state of cycle <paramref name="cycle"/> (1-based).</summary>
    public string StateOf(int cycle) => _sequence[(cycle - 1) % _sequence.Length];

    /// <summary>Parses <c>state=weight,…</c>; problems (naming the entry and the accepted form) go to <paramref name="errors"/>.</summary>
    public static DetachMix Parse(string text, List<string> errors, string parameter = "DetachMix")
    {
        var weights = new List<(string, int)>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            string state = eq < 0 ? entry.ToLowerInvariant() : entry[..eq].Trim().ToLowerInvariant();
            int weight = 1;
            if (!States.Contains(state) || (eq >= 0 && !int.TryParse(entry[(eq + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out weight)) || weight > 1000)
            {
                errors.Add($"{parameter} entry '{entry}': accepted idle, open or dma, each with an optional =weight in 0..1000, comma-separated");
                continue;
            }

            if (weights.Any(w => w.Item1 == state))
            {
                errors.Add($"{parameter}: '{state}' given twice");
                continue;
            }

            weights.Add((state, weight));
        }

        var used = weights.Where(w => w.Item2 > 0).ToList();
        if (used.Count == 0)
        {
            errors.Add($"{parameter} = '{text}': at least one of idle, open, dma needs a weight above 0");
            return Default;
        }

        return new DetachMix(used);
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(",", Weights.Select(w => $"{w.State}={w.Weight}"));
}
