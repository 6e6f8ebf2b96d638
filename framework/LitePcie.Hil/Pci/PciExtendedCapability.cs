namespace LitePcie.Hil.Pci;

/// <summary>
/// An entry of the PCIe extended capability list (offsets 0x100..0xFFF). Header dword: ID bits 15:0,
/// version bits 19:16, next pointer bits 31:20.
/// </summary>
/// <param name="Id">Extended capability ID.</param>
/// <param name="Version">Capability version.</param>
/// <param name="Offset">Config-space offset of the header.</param>
public record PciExtendedCapability(ushort Id, byte Version, int Offset)
{
    /// <summary>Extended capability ID of Advanced Error Reporting (0x0001).</summary>
    public const ushort AdvancedErrorReportingId = 0x0001;
    /// <summary>Extended capability ID of the Device Serial Number (0x0003).</summary>
    public const ushort DeviceSerialNumberId = 0x0003;
    /// <summary>Extended capability ID of a vendor-specific extended capability (0x000B).</summary>
    public const ushort VendorSpecificId = 0x000B;

    /// <summary>Short name of well-known IDs, otherwise "Unknown (0xNNNN)".</summary>
    public string Name => NameOf(Id);

    /// <summary>Short name of a well-known extended capability ID, otherwise "Unknown (0xNNNN)".</summary>
    public static string NameOf(ushort id) => id switch
    {
        0x0001 => "Advanced Error Reporting",
        0x0002 => "Virtual Channel",
        0x0003 => "Device Serial Number",
        0x000B => "Vendor-Specific",
        0x000D => "Access Control Services",
        0x0010 => "SR-IOV",
        0x0015 => "Resizable BAR",
        0x0018 => "Latency Tolerance Reporting",
        0x0019 => "Secondary PCI Express",
        0x001E => "L1 PM Substates",
        0x0025 => "Data Link Feature",
        0x0026 => "Physical Layer 16.0 GT/s",
        _ => $"Unknown (0x{id:X4})",
    };
}
