using System.Globalization;

namespace LitePcie.Hil.Pci;

/// <summary>Conversions of <see cref="PciLinkSpeed"/> to line rates and names.</summary>
public static class PciLinkSpeedExtensions
{
    /// <summary>Raw transfer rate per lane in GT/s; 0 for <see cref="PciLinkSpeed.Unknown"/> or undefined values.</summary>
    public static double GigaTransfersPerSecond(this PciLinkSpeed speed) => speed switch
    {
        PciLinkSpeed.Gen1 => 2.5,
        PciLinkSpeed.Gen2 => 5.0,
        PciLinkSpeed.Gen3 => 8.0,
        PciLinkSpeed.Gen4 => 16.0,
        PciLinkSpeed.Gen5 => 32.0,
        PciLinkSpeed.Gen6 => 64.0,
        _ => 0.0,
    };

    /// <summary>The lspci-style rate, e.g. "5.0 GT/s"; "unknown" when the speed is not defined.</summary>
    public static string Describe(this PciLinkSpeed speed)
    {
        var rate = speed.GigaTransfersPerSecond();
        return rate == 0.0 ? "unknown" : rate.ToString("0.0", CultureInfo.InvariantCulture) + " GT/s";
    }

    /// <summary>Decodes a 4-bit speed field; values outside Gen1..Gen6 map to <see cref="PciLinkSpeed.Unknown"/>.</summary>
    internal static PciLinkSpeed FromField(int field) =>
        field is >= (int)PciLinkSpeed.Gen1 and <= (int)PciLinkSpeed.Gen6 ? (PciLinkSpeed)field : PciLinkSpeed.Unknown;
}
