namespace LitePcie.Hil.Pci;

/// <summary>An entry of the conventional capability list (offsets 0x40..0xFF).</summary>
/// <param name="Id">Capability ID (byte at +0).</param>
/// <param name="Offset">Config-space offset of the capability header.</param>
public abstract record PciCapability(byte Id, int Offset)
{
    /// <summary>Capability ID of Power Management (0x01).</summary>
    public const byte PowerManagementId = 0x01;
    /// <summary>Capability ID of MSI (0x05).</summary>
    public const byte MsiId = 0x05;
    /// <summary>Capability ID of a vendor-specific capability (0x09).</summary>
    public const byte VendorSpecificId = 0x09;
    /// <summary>Capability ID of the PCI Express capability (0x10).</summary>
    public const byte PciExpressId = 0x10;
    /// <summary>Capability ID of MSI-X (0x11).</summary>
    public const byte MsiXId = 0x11;
}
