using System.Globalization;

namespace LitePcie.Hil.Dma;

/// <summary>Byte counts for people: binary units with the exact count where it is not a round figure.</summary>
public static class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary>"512 B", "16 MiB", "17.50 MiB (18350080 B)": a whole unit alone, else two decimals and the exact count.</summary>
    public static string Format(long bytes)
    {
        if (bytes < 1024)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{bytes} B");
        }

        int unit = 0;
        double value = bytes;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        long whole = 1L << (10 * unit);
        return bytes % whole == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes / whole} {Units[unit]}")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.00} {Units[unit]} ({bytes} B)");
    }
}
