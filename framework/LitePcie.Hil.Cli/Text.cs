using System.Globalization;
using System.Text.Json.Nodes;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Cli;

/// <summary>Formatting shared by the commands: hex IDs, sizes, links, rates (always invariant culture).</summary>
internal static class Text
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Hex16(ushort value) => "0x" + value.ToString("x4", C);

    public static string Hex32(uint value) => "0x" + value.ToString("X8", C);

    /// <summary>"1 MiB", "8 KiB", "512 B".</summary>
    public static string Size(ulong bytes) => bytes switch
    {
        >= 1UL << 30 when bytes % (1UL << 30) == 0 => string.Create(C, $"{bytes >> 30} GiB"),
        >= 1UL << 20 when bytes % (1UL << 20) == 0 => string.Create(C, $"{bytes >> 20} MiB"),
        >= 1UL << 10 when bytes % (1UL << 10) == 0 => string.Create(C, $"{bytes >> 10} KiB"),
        _ => string.Create(C, $"{bytes} B"),
    };

    /// <summary>
    /// A file path as a user can act on it: a built-in board's file as <c>fixtures/boards/&lt;name&gt;/…</c> (wherever the
    /// build copied it), a file under the current directory relative to it, anything else as given.
    /// </summary>
    public static string DisplayPath(string path)
    {
        string full = Path.GetFullPath(path);
        foreach (string dir in Boards.BoardCatalog.SearchDirectories())
        {
            string root = Path.GetFullPath(dir) + Path.DirectorySeparatorChar;
            if (full.StartsWith(root, StringComparison.Ordinal))
            {
                return "fixtures/boards/" + full[root.Length..].Replace(Path.DirectorySeparatorChar, '/');
            }
        }

        string cwd = Path.GetFullPath(Environment.CurrentDirectory) + Path.DirectorySeparatorChar;
        return full.StartsWith(cwd, StringComparison.Ordinal) ? full[cwd.Length..] : path;
    }

    /// <summary>A byte count for people: "512 B", "8.00 KiB", "2.23 GiB" (three significant digits, binary units).</summary>
    public static string Bytes(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double a = Math.Abs(bytes);
        int u = 0;
        while (a >= 1024 && u < units.Length - 1)
        {
            a /= 1024;
            bytes /= 1024;
            u++;
        }

        if (u == 0)
        {
            return string.Create(C, $"{bytes:0.#} B");
        }

        string format = a >= 100 ? "0" : a >= 10 ? "0.0" : "0.00";
        return string.Create(C, $"{bytes.ToString(format, C)} {units[u]}");
    }

    /// <summary>A byte count for people with the exact figure: "2.23 GiB (2,397,306,880 bytes)".</summary>
    public static string BytesExact(long bytes) =>
        bytes < 1024 ? string.Create(C, $"{bytes} bytes") : string.Create(C, $"{Bytes(bytes)} ({bytes:N0} bytes)");

    /// <summary>"5.0 GT/s x4 (max 5.0 GT/s x4)"; the maximum only where the config space was read.</summary>
    public static string Link(PciLinkSpeed speed, int width, PciExpressCapability? pcie)
    {
        string now = $"{speed.Describe()} x{width}";
        if (pcie is null)
        {
            return now;
        }

        string max = $"{pcie.LinkMaxSpeed.Describe()} x{pcie.LinkMaxWidth}";
        bool degraded = pcie.LinkMaxSpeed > speed || pcie.LinkMaxWidth > width;
        return $"{now} (max {max}{(degraded ? ", DEGRADED" : "")})";
    }

    public static JsonObject LinkJson(PciLinkSpeed speed, int width, PciExpressCapability? pcie) => new()
    {
        ["speedGTs"] = speed.GigaTransfersPerSecond(),
        ["width"] = width,
        ["maxSpeedGTs"] = pcie?.LinkMaxSpeed.GigaTransfersPerSecond(),
        ["maxWidth"] = pcie?.LinkMaxWidth,
    };

    /// <summary>Invariant formatting of a number with a format string.</summary>
    public static string F(double value, string format) => value.ToString(format, C);

    /// <summary>Microseconds as "12.345 µs" or, below 1 µs, "850 ns".</summary>
    public static string Micros(double us) => us < 1 ? string.Create(C, $"{us * 1000:0} ns") : string.Create(C, $"{us:0.###} µs");
}
