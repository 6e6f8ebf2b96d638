using System.Globalization;
using System.Text;

namespace LitePcie.Hil.Simulation.Faults;

/// <summary>Faults the simulated board can inject.</summary>
public enum FaultKind
{
    /// <summary>Each MSI the controller would send is lost with a probability.</summary>
    MsiDrop,

    /// <summary>MSIs arrive with no source pending, at a rate per second (also when idle).</summary>
    MsiSpurious,

    /// <summary>Each buffer the DMA writer stores gets one flipped bit with a probability.</summary>
    DmaBitflip,

    /// <summary>Each buffer the DMA reader fetches is lost from the stream with a probability.</summary>
    DmaDropBuffer,

    /// <summary>Each buffer the DMA reader fetches is delivered twice with a probability.</summary>
    DmaDuplicateBuffer,

    /// <summary>The DMA engines stop progressing after N buffers (enable stays set, idle clears).</summary>
    DmaStall,

    /// <summary>One bit of <c>ctrl_scratch</c> is stuck at 0.</summary>
    ScratchStuckBit,

    /// <summary>BAR2 decodes to BAR0 (address-translation bug).</summary>
    BarAlias,

    /// <summary>The link trains at a narrower width than the board supports.</summary>
    LinkDegrade,

    /// <summary>The identifier ROM holds a different build than the CSR map's <c>config_identifier</c>.</summary>
    WrongIdent,

    /// <summary>On wake from D3hot the function's configuration (BARs, command, MSI) is not restored.</summary>
    WakeStateLoss,

    /// <summary>After a sleep the device never comes back.</summary>
    WakeNoReturn,

    /// <summary>On wake the OS restores BARs and the command register but not the MSI/MSI-X capability (enable, address, data).</summary>
    WakeMsiLoss,

    /// <summary>Each session open leaks this many bytes of native heap in the driver (the SIL host library).</summary>
    DriverNativeLeak,

    /// <summary>Each session open leaks this many bytes of managed memory in the client (the test process).</summary>
    ClientLeak,

    /// <summary>Each buffer the DMA writer completes is, with a probability, never written to host memory (a lost write).</summary>
    DmaLostWrite,

    /// <summary>Every bit the DMA writer stores flips with a probability (a bit error rate).</summary>
    DmaBitErrorRate,

    /// <summary>Every Nth attach fails: the device does not appear.</summary>
    AttachFail,

    /// <summary>Each attach leaks this many bytes in the driver-side accounting.</summary>
    AttachLeak,

    /// <summary>The device is surprise-removed after N buffers.</summary>
    SurpriseRemoval,
}

/// <summary>How a fault's value is interpreted.</summary>
public enum FaultValueKind
{
    /// <summary>No value.</summary>
    None,

    /// <summary>A probability in [0, 1] (also written as a percentage, e.g. <c>1%</c>).</summary>
    Probability,

    /// <summary>A positive integer count.</summary>
    Count,

    /// <summary>A bit number 0..31.</summary>
    Bit,

    /// <summary>A link width 1, 2, 4, 8 or 16.</summary>
    Width,

    /// <summary>A positive byte count.</summary>
    Bytes,

    /// <summary>A positive rate per second.</summary>
    Rate,
}

/// <summary>One entry of the fault catalogue.</summary>
public sealed record FaultDefinition(
    FaultKind Kind, string Name, FaultValueKind ValueKind, double DefaultValue, double Min, double Max, string Suite, string Description)
{
    /// <summary>The accepted values, for error messages.</summary>
    public string Accepted => ValueKind switch
    {
        FaultValueKind.None => "no value",
        FaultValueKind.Probability => "a probability 0..1 or a percentage (e.g. 0.01 or 1%)",
        FaultValueKind.Count => $"an integer {Min:0}..{Max:0}",
        FaultValueKind.Bit => "a bit number 0..31",
        FaultValueKind.Width => "a link width 1, 2, 4, 8 or 16",
        FaultValueKind.Bytes => $"a byte count {Min:0}..{Max:0}",
        FaultValueKind.Rate => $"a rate per second {Min}..{Max}",
        _ => "?",
    };
}

/// <summary>A fault string that does not parse; the message lists the valid names and values.</summary>
public sealed class FaultPlanException(string message) : FormatException(message);

/// <summary>
/// The faults to inject into a simulated board, parsed from <c>name[=value];name[=value]…</c> (or ','-separated)
/// (e.g. <c>dma-bitflip=0.01;msi-drop=5%;seed=7</c>). Random decisions are deterministic under the seed.
/// </summary>
public sealed class FaultPlan
{
    private readonly Dictionary<FaultKind, double> _active;

    private FaultPlan(Dictionary<FaultKind, double> active, int seed)
    {
        _active = active;
        Seed = seed;
    }

    /// <summary>No faults.</summary>
    public static FaultPlan None { get; } = new([], 0);

    /// <summary>Every fault the model knows.</summary>
    public static IReadOnlyList<FaultDefinition> Catalog { get; } =
    [
        new(FaultKind.MsiDrop, "msi-drop", FaultValueKind.Probability, 0.05, 0, 1, "Msi", "each MSI is lost with this probability"),
        new(FaultKind.MsiSpurious, "msi-spurious", FaultValueKind.Rate, 20, 0.001, 100000, "Msi", "MSIs with nothing pending, per second, also when idle"),
        new(FaultKind.DmaBitflip, "dma-bitflip", FaultValueKind.Probability, 0.01, 0, 1, "Dma", "probability per written buffer of one flipped bit"),
        new(FaultKind.DmaDropBuffer, "dma-drop-buffer", FaultValueKind.Probability, 0.001, 0, 1, "Dma", "probability per fetched buffer of losing it from the stream"),
        new(FaultKind.DmaDuplicateBuffer, "dma-duplicate-buffer", FaultValueKind.Probability, 0.001, 0, 1, "Dma", "probability per fetched buffer of delivering it twice"),
        new(FaultKind.DmaStall, "dma-stall", FaultValueKind.Count, 1000, 1, int.MaxValue, "Dma", "engines stop after this many buffers"),
        new(FaultKind.ScratchStuckBit, "scratch-stuck-bit", FaultValueKind.Bit, 0, 0, 31, "Bar", "this ctrl_scratch bit is stuck at 0"),
        new(FaultKind.BarAlias, "bar-alias", FaultValueKind.None, 0, 0, 0, "Bar", "BAR2 decodes to BAR0"),
        new(FaultKind.LinkDegrade, "link-degrade", FaultValueKind.Width, 1, 1, 16, "Enumeration", "the link trains at this width"),
        new(FaultKind.WrongIdent, "wrong-ident", FaultValueKind.None, 0, 0, 0, "Enumeration", "the identifier ROM holds another build"),
        new(FaultKind.WakeStateLoss, "wake-state-loss", FaultValueKind.None, 0, 0, 0, "SleepWake", "config space not restored after D3hot"),
        new(FaultKind.WakeNoReturn, "wake-no-return", FaultValueKind.None, 0, 0, 0, "SleepWake", "the device does not come back after sleep"),
        new(FaultKind.WakeMsiLoss, "wake-msi-loss", FaultValueKind.None, 0, 0, 0, "SleepWake", "the MSI/MSI-X capability is not restored after D3hot"),
        new(FaultKind.DriverNativeLeak, "driver-native-leak", FaultValueKind.Bytes, 100, 1, 1L << 30, "Qualification", "native heap bytes the driver leaks per session open"),
        new(FaultKind.ClientLeak, "client-leak", FaultValueKind.Bytes, 100, 1, 1L << 30, "Qualification", "managed bytes the client leaks per session open"),
        new(FaultKind.DmaLostWrite, "dma-lost-write", FaultValueKind.Probability, 0.001, 0, 1, "Dma", "probability per written buffer that its data never reaches memory (the completion still counts)"),
        new(FaultKind.DmaBitErrorRate, "dma-ber", FaultValueKind.Probability, 1e-6, 0, 1, "Dma", "probability per bit the writer stores of flipping it (a bit error rate)"),
        new(FaultKind.AttachFail, "attach-fail", FaultValueKind.Count, 10, 1, int.MaxValue, "Qualification", "every Nth attach fails"),
        new(FaultKind.AttachLeak, "attach-leak", FaultValueKind.Bytes, 4096, 1, 1L << 30, "Qualification", "bytes leaked per attach in the driver-side accounting"),
        new(FaultKind.SurpriseRemoval, "surprise-removal", FaultValueKind.Count, 1000, 1, int.MaxValue, "Qualification", "surprise removal after this many buffers"),
    ];

    /// <summary>Seed for the random decisions.</summary>
    public int Seed { get; }

    /// <summary>Active faults and their values.</summary>
    public IReadOnlyDictionary<FaultKind, double> Active => _active;

    /// <summary>True when no fault is active.</summary>
    public bool IsEmpty => _active.Count == 0;

    /// <summary>Whether a fault is active.</summary>
    public bool Has(FaultKind kind) => _active.ContainsKey(kind);

    /// <summary>A fault's value (its default when given without one); 0 when inactive.</summary>
    public double Value(FaultKind kind) => _active.TryGetValue(kind, out double v) ? v : 0;

    /// <summary>A random source for one fault, independent of every other fault's draws.</summary>
    public Random CreateRandom(FaultKind kind, int stream = 0) =>
        new(unchecked((Seed * 7919) ^ ((int)kind * 104729) ^ (stream * 15485863)));

    /// <summary>The definition of a fault.</summary>
    public static FaultDefinition Definition(FaultKind kind) => Catalog.First(d => d.Kind == kind);

    /// <summary>A plan with one more fault (or a changed value).</summary>
    public FaultPlan With(FaultKind kind, double? value = null)
    {
        var d = new Dictionary<FaultKind, double>(_active) { [kind] = value ?? Definition(kind).DefaultValue };
        return new FaultPlan(d, Seed);
    }

    /// <summary>Canonical text form (round-trips through <see cref="Parse"/>).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var def in Catalog)
        {
            if (_active.TryGetValue(def.Kind, out double v))
            {
                if (sb.Length > 0)
                {
                    sb.Append(';');
                }

                sb.Append(def.Name);
                if (def.ValueKind != FaultValueKind.None)
                {
                    sb.Append('=').Append(v.ToString("R", CultureInfo.InvariantCulture));
                }
            }
        }

        if (Seed != 0)
        {
            sb.Append(sb.Length > 0 ? ";" : "").Append("seed=").Append(Seed.ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    /// <summary>
    /// Parses a fault string. Unknown names, duplicate names and bad values are errors naming the entry,
    /// the accepted values and every valid fault.
    /// </summary>
    public static FaultPlan Parse(string? spec, int seed = 0)
    {
        var active = new Dictionary<FaultKind, double>();
        if (string.IsNullOrWhiteSpace(spec))
        {
            return seed == 0 ? None : new FaultPlan(active, seed);
        }

        var errors = new List<string>();
        foreach (var rawEntry in spec.Split(Separators))
        {
            string entry = rawEntry.Trim();
            if (entry.Length == 0)
            {
                continue;
            }

            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            string name = (eq < 0 ? entry : entry[..eq]).Trim().ToLowerInvariant();
            string? valueText = eq < 0 ? null : entry[(eq + 1)..].Trim();

            if (name == "seed")
            {
                if (valueText is null || !int.TryParse(valueText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seed))
                {
                    errors.Add($"'{entry}': seed needs an integer value");
                }

                continue;
            }

            var def = Catalog.FirstOrDefault(d => d.Name == name);
            if (def is null)
            {
                errors.Add($"'{entry}': unknown fault '{name}'");
                continue;
            }

            if (active.ContainsKey(def.Kind))
            {
                errors.Add($"'{entry}': {name} given twice");
                continue;
            }

            if (def.ValueKind == FaultValueKind.None)
            {
                if (valueText is not null && valueText.Length > 0)
                {
                    errors.Add($"'{entry}': {name} takes no value");
                    continue;
                }

                active[def.Kind] = 0;
                continue;
            }

            if (valueText is null || valueText.Length == 0)
            {
                // A fault with a magnitude needs one: a silent default would inject something nobody asked for.
                errors.Add($"'{entry}': {name} needs a value: {def.Accepted} (e.g. {def.Name}={Example(def)})");
                continue;
            }

            if (!TryParseValue(def, valueText, out double value))
            {
                errors.Add($"'{entry}': {name} accepts {def.Accepted}");
                continue;
            }

            active[def.Kind] = value;
        }

        if (errors.Count > 0)
        {
            string problems = errors.Count == 1 ? $" {errors[0]}" : $"{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", errors)}";
            throw new FaultPlanException(
                $"invalid fault string \"{spec}\":{problems}{Environment.NewLine}" +
                $"valid faults: {string.Join(", ", Catalog.Select(d => d.ValueKind == FaultValueKind.None ? d.Name : $"{d.Name}=<{d.ValueKind.ToString().ToLowerInvariant()}>"))}, seed=<int>");
        }

        return new FaultPlan(active, seed);
    }

    /// <summary>Entries are separated by ';' or ',' (',' survives <c>dotnet test -- TestRunParameters…</c>, which turns ';' into a space).</summary>
    private static readonly char[] Separators = [';', ','];

    private static string Example(FaultDefinition def) => def.DefaultValue.ToString("R", CultureInfo.InvariantCulture);

    private static bool TryParseValue(FaultDefinition def, string text, out double value)
    {
        value = 0;
        bool percent = text.EndsWith('%');
        string t = percent ? text[..^1] : text;
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || double.IsNaN(v) || double.IsInfinity(v))
        {
            return false;
        }

        switch (def.ValueKind)
        {
            case FaultValueKind.Probability:
                if (percent)
                {
                    v /= 100;
                }

                if (v is < 0 or > 1)
                {
                    return false;
                }

                break;
            case FaultValueKind.Width:
                if (percent || v is not (1 or 2 or 4 or 8 or 16))
                {
                    return false;
                }

                break;
            case FaultValueKind.Count or FaultValueKind.Bit or FaultValueKind.Bytes:
                if (percent || v != Math.Floor(v) || v < def.Min || v > def.Max)
                {
                    return false;
                }

                break;
            case FaultValueKind.Rate:
                if (percent || v < def.Min || v > def.Max)
                {
                    return false;
                }

                break;
        }

        value = v;
        return true;
    }
}
