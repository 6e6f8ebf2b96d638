using System.Globalization;
using System.Text.RegularExpressions;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.MacOS.Platform;

/// <summary>Options of <see cref="MacOSResourceProbe"/>.</summary>
public sealed record MacOSProbeOptions
{
    /// <summary>
    /// Classes counted with <c>ioclasscount</c>: the dext's DriverKit classes and the kernel objects that shadow them
    /// (IOUserService per driver instance, IOUserUserClient per open client, IOUserServer per dext process).
    /// </summary>
    public IReadOnlyList<string> Classes { get; init; } =
        [MacOSBackend.DriverClass, MacOSBackend.UserClientClass, "IOUserServer", "IOUserService", "IOUserUserClient"];

    /// <summary>The dext's process: its executable name (the bundle ID by the Xcode project, dext/driverkit/project.yml).</summary>
    public string DextProcess { get; init; } = "org.litepcie.hil.installer.LitePCIeDriver";

    /// <summary>Bound of each command.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(20);
}

/// <summary>
/// The driver side on a Mac, sampled per cycle: kernel object counts from <c>ioclasscount</c>
/// (<c>driver.ioclass.&lt;Class&gt;</c>), and the dext process's memory (<c>driver.dext_footprint_bytes</c>, from
/// <c>footprint -p &lt;pid&gt;</c>, or <c>vmmap --summary</c>'s "Physical footprint" when footprint is not there).
/// A command that fails or prints nothing usable leaves its readings out (recorded in <see cref="LastProblems"/>);
/// sampling never throws for it. Reading another process's footprint may need root.
/// </summary>
public sealed partial class MacOSResourceProbe : IResourceProbe
{
    private readonly MacOSProbeOptions _options;
    private readonly CommandRunner _run;
    private readonly bool _enabled;

    /// <summary>Samples this machine with <see cref="PlatformCommand"/> (on another system it samples nothing).</summary>
    public MacOSResourceProbe(MacOSProbeOptions? options = null)
        : this(options, MacOSCommands.Default, OperatingSystem.IsMacOS())
    {
    }

    /// <summary>Samples through a given command runner (a fake in tests); <paramref name="enabled"/> false samples nothing.</summary>
    internal MacOSResourceProbe(MacOSProbeOptions? options, CommandRunner run, bool enabled = true)
    {
        _options = options ?? new MacOSProbeOptions();
        _run = run;
        _enabled = enabled;
    }

    /// <summary>The probe's options.</summary>
    public MacOSProbeOptions Options => _options;

    /// <inheritdoc />
    public string Description => $"macOS driver side (ioclasscount {string.Join(" ", _options.Classes)}; footprint of {_options.DextProcess})";

    /// <summary>Why readings were left out of the last sample (empty when none were).</summary>
    public IReadOnlyList<string> LastProblems { get; private set; } = [];

    /// <inheritdoc />
    public IReadOnlyList<ResourceReading> Sample(string device)
    {
        var readings = new List<ResourceReading>();
        var problems = new List<string>();
        if (!_enabled)
        {
            LastProblems = ["not macOS: nothing sampled"];
            return readings;
        }

        foreach (var (name, count) in ClassCounts(problems))
        {
            readings.Add(new ResourceReading($"driver.ioclass.{name}", count, ResourceUnit.Count));
        }

        if (Footprint(problems) is { } bytes)
        {
            readings.Add(new ResourceReading("driver.dext_footprint_bytes", bytes, ResourceUnit.Bytes));
        }

        LastProblems = problems;
        return readings;
    }

    /// <summary>
    /// Parses <c>ioclasscount</c> output: one <c>Class = count</c> per line (older versions separate them with commas
    /// on one line). Lines that are not counts (e.g. a complaint about an unknown class) are skipped.
    /// </summary>
    public static IReadOnlyDictionary<string, long> ParseClassCounts(string output)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Match m in ClassCountPattern().Matches(output))
        {
            counts[m.Groups[1].Value] = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }

        return counts;
    }

    /// <summary>
    /// Parses <c>footprint -p</c> output: the header line <c>name [pid]: 64-bit    Footprint: 1234 KB (16384 bytes per page)</c>.
    /// Null when there is none.
    /// </summary>
    public static long? ParseFootprint(string output)
    {
        var m = FootprintPattern().Match(output);
        return m.Success ? Bytes(m.Groups[1].Value, m.Groups[2].Value) : null;
    }

    /// <summary>Parses <c>vmmap --summary</c> output: <c>Physical footprint:  5.1M</c> (the peak line is not it). Null when absent.</summary>
    public static long? ParseVmmapFootprint(string output)
    {
        var m = VmmapPattern().Match(output);
        return m.Success ? Bytes(m.Groups[1].Value, m.Groups[2].Value) : null;
    }

    /// <summary>
    /// Finds a process in <c>ps -axo pid=,comm=</c> output (macOS prints the executable's path as comm): the first
    /// whose executable is <paramref name="process"/> or ends with <c>/process</c>. Null when none.
    /// </summary>
    public static int? FindProcess(string psOutput, string process)
    {
        foreach (var raw in psOutput.Split('\n'))
        {
            var line = raw.Trim();
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || !int.TryParse(line.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            var command = line[(space + 1)..].Trim();
            if (command == process || command.EndsWith("/" + process, StringComparison.Ordinal))
            {
                return pid;
            }
        }

        return null;
    }

    private Dictionary<string, long> ClassCounts(List<string> problems)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        if (Run("ioclasscount", "ioclasscount " + string.Join(" ", _options.Classes), problems) is { } all)
        {
            foreach (var (k, v) in ParseClassCounts(all))
            {
                result[k] = v;
            }
        }
        else
        {
            // One unknown class may fail the whole command: count the others one by one.
            foreach (var c in _options.Classes)
            {
                if (Run("ioclasscount", "ioclasscount " + c, problems) is { } one && ParseClassCounts(one).TryGetValue(c, out long n))
                {
                    result[c] = n;
                }
            }
        }

        foreach (var c in _options.Classes.Where(c => !result.ContainsKey(c)))
        {
            problems.Add($"ioclasscount printed no count for {c}");
        }

        return result;
    }

    private long? Footprint(List<string> problems)
    {
        if (Run("list processes", "ps -axo pid=,comm=", problems) is not { } ps)
        {
            return null;
        }

        if (FindProcess(ps, _options.DextProcess) is not { } pid)
        {
            problems.Add($"no {_options.DextProcess} process (the dext is not running)");
            return null;
        }

        string p = pid.ToString(CultureInfo.InvariantCulture);
        if (Run("footprint", "footprint -p " + p, problems) is { } fp && ParseFootprint(fp) is { } bytes)
        {
            return bytes;
        }

        if (Run("vmmap", "vmmap --summary " + p, problems) is { } vm && ParseVmmapFootprint(vm) is { } vmBytes)
        {
            return vmBytes;
        }

        problems.Add($"neither footprint nor vmmap reported the footprint of {_options.DextProcess} [{pid}]");
        return null;
    }

    private string? Run(string what, string command, List<string> problems)
    {
        try
        {
            return _run(what, command, _options.CommandTimeout, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (PlatformCommandException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

    private static long Bytes(string number, string unit)
    {
        double value = double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
        double scale = unit.ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1024,
            "M" or "MB" or "MIB" => 1024 * 1024,
            "G" or "GB" or "GIB" => 1024 * 1024 * 1024,
            _ => throw new FormatException($"unknown size unit '{unit}': accepted B, K/KB, M/MB, G/GB"),
        };
        return (long)Math.Round(value * scale);
    }

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+)")]
    private static partial Regex ClassCountPattern();

    [GeneratedRegex(@"Footprint:\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]?B|[KMG]iB)\b", RegexOptions.IgnoreCase)]
    private static partial Regex FootprintPattern();

    [GeneratedRegex(@"^\s*Physical footprint:\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]?)\s*$", RegexOptions.Multiline)]
    private static partial Regex VmmapPattern();
}
