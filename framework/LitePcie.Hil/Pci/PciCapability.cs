namespace LitePcie.Hil.Pci;

/// <summary>An entry of the conventional capability list (offsets 0x40..0xFF).</summary>
/// <param name="Id">Capability ID (byte at +0).</param>
/// <param name="Offset">Config-space offset of the capability header.</param>
public abstract record PciCapability(byte Id, int Offset)
{
    public const byte PowerManagementId = 0x01;
    public const byte MsiId = 0x05;
    public const byte VendorSpecificId = 0x09;
    public const byte PciExpressId = 0x10;
    public const byte MsiXId = 0x11;
}
