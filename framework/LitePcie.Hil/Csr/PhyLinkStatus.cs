using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Csr;

/// <summary>LitePCIe PHY families whose <c>phy_link_status</c> layout is known (docs/gateware.md#phy-status).</summary>
public enum PhyFamily
{
    /// <summary>Family not recognised: the raw register value is reported, not decoded.</summary>
    Unknown,

    /// <summary>Xilinx 7-series (<c>S7PCIEPHY</c>), Gen2, x1..x8.</summary>
    Series7,

    /// <summary>Xilinx UltraScale (<c>USPCIEPHY</c>), Gen2/Gen3, x1..x8.</summary>
    UltraScale,

    /// <summary>Xilinx UltraScale+ (<c>USPPCIEPHY</c>), Gen2..Gen4, x1..x16.</summary>
    UltraScalePlus,
}

/// <summary>Decoded <c>pcie_phy_phy_link_status</c>.</summary>
public readonly record struct PhyLinkStatus(
    uint Raw,
    PhyFamily Family,
    bool LinkUp,
    PciLinkSpeed Speed,
    int Width,
    int Ltssm,
    bool? PhyDown,
    int? PhyStatus)
{
    /// <summary>Whether the family is known and the speed/width fields are meaningful.</summary>
    public bool IsDecoded => Family != PhyFamily.Unknown;

    /// <inheritdoc />
    public override string ToString() => IsDecoded
        ? $"{(LinkUp ? "up" : "down")} {Speed.Describe()} x{Width} LTSSM 0x{Ltssm:X2} (raw 0x{Raw:X8})"
        : $"raw 0x{Raw:X8} (PHY family unknown)";
}

/// <summary>Per-family encode/decode of the PHY link-status CSR.</summary>
public static class PhyLinkStatusCodec
{
    /// <summary>Maps a <c>cores.pcie_phy</c> class name to a family.</summary>
    public static PhyFamily FamilyOf(string? coreClass) => coreClass switch
    {
        "S7PCIEPHY" => PhyFamily.Series7,
        "USPCIEPHY" => PhyFamily.UltraScale,
        "USPPCIEPHY" => PhyFamily.UltraScalePlus,
        _ => PhyFamily.Unknown,
    };

    /// <summary>The <c>cores</c> class name LiteX writes for a family.</summary>
    public static string CoreClassOf(PhyFamily family) => family switch
    {
        PhyFamily.Series7 => "S7PCIEPHY",
        PhyFamily.UltraScale => "USPCIEPHY",
        PhyFamily.UltraScalePlus => "USPPCIEPHY",
        _ => "UnknownPHY",
    };

    /// <summary>Highest link speed the family supports.</summary>
    public static PciLinkSpeed MaxSpeed(PhyFamily family) => family switch
    {
        PhyFamily.Series7 => PciLinkSpeed.Gen2,
        PhyFamily.UltraScale => PciLinkSpeed.Gen3,
        PhyFamily.UltraScalePlus => PciLinkSpeed.Gen4,
        _ => PciLinkSpeed.Unknown,
    };

    /// <summary>Widest link the family supports.</summary>
    public static int MaxWidth(PhyFamily family) => family == PhyFamily.UltraScalePlus ? 16 : family == PhyFamily.Unknown ? 0 : 8;

    /// <summary>Decodes a raw link-status value.</summary>
    public static PhyLinkStatus Decode(PhyFamily family, uint raw)
    {
        bool up = (raw & 1) != 0;
        switch (family)
        {
            case PhyFamily.Series7:
                return new PhyLinkStatus(raw, family, up,
                    ((raw >> 1) & 1) == 0 ? PciLinkSpeed.Gen1 : PciLinkSpeed.Gen2,
                    1 << (int)((raw >> 2) & 3),
                    (int)((raw >> 4) & 0x3F), null, null);
            case PhyFamily.UltraScale:
            {
                uint rate = (raw >> 4) & 7;
                uint width = (raw >> 7) & 0xF;
                var speed = rate switch { 1 => PciLinkSpeed.Gen1, 2 => PciLinkSpeed.Gen2, 4 => PciLinkSpeed.Gen3, _ => PciLinkSpeed.Unknown };
                int lanes = width is 1 or 2 or 4 or 8 ? (int)width : 0;
                return new PhyLinkStatus(raw, family, up, speed, lanes, (int)((raw >> 11) & 0x3F),
                    ((raw >> 1) & 1) != 0, (int)((raw >> 2) & 3));
            }

            case PhyFamily.UltraScalePlus:
            {
                uint rate = (raw >> 4) & 3;
                uint width = (raw >> 6) & 7;
                var speed = rate switch { 0 => PciLinkSpeed.Gen1, 1 => PciLinkSpeed.Gen2, 2 => PciLinkSpeed.Gen3, _ => PciLinkSpeed.Gen4 };
                int lanes = width <= 4 ? 1 << (int)width : 0;
                return new PhyLinkStatus(raw, family, up, speed, lanes, (int)((raw >> 9) & 0x3F),
                    ((raw >> 1) & 1) != 0, (int)((raw >> 2) & 3));
            }

            default:
                return new PhyLinkStatus(raw, PhyFamily.Unknown, up, PciLinkSpeed.Unknown, 0, 0, null, null);
        }
    }

    /// <summary>
    /// Encodes a link state the way the family's gateware reports it (used by the simulator).
    /// Throws when the family cannot express the speed or width.
    /// </summary>
    public static uint Encode(PhyFamily family, bool linkUp, PciLinkSpeed speed, int width, int ltssm)
    {
        uint up = linkUp ? 1u : 0u;
        uint lt = (uint)ltssm & 0x3F;
        switch (family)
        {
            case PhyFamily.Series7:
            {
                uint rate = speed switch
                {
                    PciLinkSpeed.Gen1 => 0u,
                    PciLinkSpeed.Gen2 => 1u,
                    _ => throw new ArgumentOutOfRangeException(nameof(speed), speed, "7-series PHY reports 2.5 or 5.0 GT/s only"),
                };
                uint w = width switch
                {
                    1 => 0u, 2 => 1u, 4 => 2u, 8 => 3u,
                    _ => throw new ArgumentOutOfRangeException(nameof(width), width, "7-series PHY reports x1, x2, x4 or x8"),
                };
                return up | (rate << 1) | (w << 2) | (lt << 4);
            }

            case PhyFamily.UltraScale:
            {
                uint rate = speed switch
                {
                    PciLinkSpeed.Gen1 => 1u,
                    PciLinkSpeed.Gen2 => 2u,
                    PciLinkSpeed.Gen3 => 4u,
                    _ => throw new ArgumentOutOfRangeException(nameof(speed), speed, "UltraScale PHY reports 2.5, 5.0 or 8.0 GT/s"),
                };
                if (width is not (1 or 2 or 4 or 8))
                {
                    throw new ArgumentOutOfRangeException(nameof(width), width, "UltraScale PHY reports x1, x2, x4 or x8");
                }

                uint status = linkUp ? 3u : 1u;
                return up | (status << 2) | (rate << 4) | ((uint)width << 7) | (lt << 11);
            }

            case PhyFamily.UltraScalePlus:
            {
                uint rate = speed switch
                {
                    PciLinkSpeed.Gen1 => 0u,
                    PciLinkSpeed.Gen2 => 1u,
                    PciLinkSpeed.Gen3 => 2u,
                    PciLinkSpeed.Gen4 => 3u,
                    _ => throw new ArgumentOutOfRangeException(nameof(speed), speed, "UltraScale+ PHY reports 2.5..16 GT/s"),
                };
                uint w = width switch
                {
                    1 => 0u, 2 => 1u, 4 => 2u, 8 => 3u, 16 => 4u,
                    _ => throw new ArgumentOutOfRangeException(nameof(width), width, "UltraScale+ PHY reports x1..x16"),
                };
                uint status = linkUp ? 3u : 1u;
                return up | (status << 2) | (rate << 4) | (w << 6) | (lt << 9);
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(family), family, "cannot encode link status for an unknown PHY family");
        }
    }
}
