using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>
/// PCI Express capability (ID 0x10). Registers used: PCIe Capabilities +2, Device Capabilities +4, Device Control +8,
/// Link Capabilities +0x0C, Link Status +0x12.
/// </summary>
/// <param name="Offset">Config-space offset of the capability.</param>
/// <param name="Version">Capability version (PCIe Capabilities bits 3:0).</param>
/// <param name="DeviceType">Device/Port type (PCIe Capabilities bits 7:4).</param>
/// <param name="SlotImplemented">PCIe Capabilities bit 8.</param>
/// <param name="MaxPayloadSupported">Bytes, 128 &lt;&lt; Device Capabilities bits 2:0.</param>
/// <param name="MaxPayloadSize">Bytes, 128 &lt;&lt; Device Control bits 7:5.</param>
/// <param name="MaxReadRequestSize">Bytes, 128 &lt;&lt; Device Control bits 14:12.</param>
/// <param name="LinkMaxSpeed">Link Capabilities bits 3:0.</param>
/// <param name="LinkMaxWidth">Lanes, Link Capabilities bits 9:4.</param>
/// <param name="LinkSpeed">Current speed, Link Status bits 3:0.</param>
/// <param name="LinkWidth">Negotiated lanes, Link Status bits 9:4.</param>
/// <param name="LinkTraining">Link Status bit 11.</param>
/// <param name="DataLinkLayerActive">Link Status bit 13.</param>
/// <param name="LinkCapabilities">Raw Link Capabilities register.</param>
/// <param name="LinkStatus">Raw Link Status register.</param>
public sealed record PciExpressCapability(
    int Offset,
    byte Version,
    PciExpressDeviceType DeviceType,
    bool SlotImplemented,
    int MaxPayloadSupported,
    int MaxPayloadSize,
    int MaxReadRequestSize,
    PciLinkSpeed LinkMaxSpeed,
    int LinkMaxWidth,
    PciLinkSpeed LinkSpeed,
    int LinkWidth,
    bool LinkTraining,
    bool DataLinkLayerActive,
    uint LinkCapabilities,
    ushort LinkStatus) : PciCapability(PciExpressId, Offset)
{
    /// <summary>Bytes the capability occupies: 0x24 for version 1, 0x3C for version 2 and later.</summary>
    public static int BodyLength(int version) => version >= 2 ? 0x3C : 0x24;

    internal static PciExpressCapability Read(ReadOnlySpan<byte> space, int offset, string? source)
    {
        var caps = U16(space, offset + 2);
        var version = (byte)(caps & 0xF);
        RequireBody(source, $"PCI Express capability (version {version})", offset, BodyLength(version), ConventionalSize);

        var devCap = U32(space, offset + 0x04);
        var devCtl = U16(space, offset + 0x08);
        var linkCap = U32(space, offset + 0x0C);
        var linkStatus = U16(space, offset + 0x12);
        return new PciExpressCapability(
            offset,
            Version: version,
            DeviceType: (PciExpressDeviceType)((caps >> 4) & 0xF),
            SlotImplemented: (caps & 0x0100) != 0,
            MaxPayloadSupported: 128 << (int)(devCap & 0x7),
            MaxPayloadSize: 128 << ((devCtl >> 5) & 0x7),
            MaxReadRequestSize: 128 << ((devCtl >> 12) & 0x7),
            LinkMaxSpeed: PciLinkSpeedExtensions.FromField((int)(linkCap & 0xF)),
            LinkMaxWidth: (int)((linkCap >> 4) & 0x3F),
            LinkSpeed: PciLinkSpeedExtensions.FromField(linkStatus & 0xF),
            LinkWidth: (linkStatus >> 4) & 0x3F,
            LinkTraining: (linkStatus & 0x0800) != 0,
            DataLinkLayerActive: (linkStatus & 0x2000) != 0,
            LinkCapabilities: linkCap,
            LinkStatus: linkStatus);
    }
}
