using LitePcie.Hil.Pci;
using static LitePcie.Hil.Pci.ConfigSpaceBytes;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>PCI Express capability to build; fields as in <see cref="PciExpressCapability"/> (sizes in bytes).</summary>
public sealed record PciExpressCapabilitySpec(
    PciExpressDeviceType DeviceType = PciExpressDeviceType.Endpoint,
    byte Version = 2,
    bool SlotImplemented = false,
    int MaxPayloadSupported = 256,
    int MaxPayloadSize = 128,
    int MaxReadRequestSize = 512,
    PciLinkSpeed LinkMaxSpeed = PciLinkSpeed.Gen2,
    int LinkMaxWidth = 4,
    PciLinkSpeed LinkSpeed = PciLinkSpeed.Gen2,
    int LinkWidth = 4,
    bool LinkTraining = false,
    bool DataLinkLayerActive = false) : PciCapabilitySpec
{
    /// <inheritdoc />
    public override byte Id => PciCapability.PciExpressId;

    /// <inheritdoc />
    public override int Length => PciExpressCapability.BodyLength(Version);

    internal override void Validate(string field)
    {
        Require(Version is >= 1 and <= 15, $"{field}.{nameof(Version)}", $"{Version} does not fit capability version bits 3:0 (1..15)");
        Require(DeviceType is >= 0 and <= (PciExpressDeviceType)15, $"{field}.{nameof(DeviceType)}", $"{(int)DeviceType} does not fit bits 7:4");
        Require(PayloadField(MaxPayloadSupported) >= 0, $"{field}.{nameof(MaxPayloadSupported)}", $"{MaxPayloadSupported} is not 128..4096 bytes (power of two)");
        Require(PayloadField(MaxPayloadSize) >= 0, $"{field}.{nameof(MaxPayloadSize)}", $"{MaxPayloadSize} is not 128..4096 bytes (power of two)");
        Require(PayloadField(MaxReadRequestSize) >= 0, $"{field}.{nameof(MaxReadRequestSize)}", $"{MaxReadRequestSize} is not 128..4096 bytes (power of two)");
        Require(Enum.IsDefined(LinkMaxSpeed), $"{field}.{nameof(LinkMaxSpeed)}", $"{(int)LinkMaxSpeed} is not a defined link speed");
        Require(Enum.IsDefined(LinkSpeed), $"{field}.{nameof(LinkSpeed)}", $"{(int)LinkSpeed} is not a defined link speed");
        Require(LinkMaxWidth is >= 0 and <= 63, $"{field}.{nameof(LinkMaxWidth)}", $"{LinkMaxWidth} does not fit Link Capabilities bits 9:4");
        Require(LinkWidth is >= 0 and <= 63, $"{field}.{nameof(LinkWidth)}", $"{LinkWidth} does not fit Link Status bits 9:4");
    }

    internal override void WriteBody(Span<byte> space, int offset)
    {
        var caps = Version | ((int)DeviceType << 4) | (SlotImplemented ? 0x0100 : 0);
        var devCtl = (PayloadField(MaxPayloadSize) << 5) | (PayloadField(MaxReadRequestSize) << 12);
        var linkCap = (uint)LinkMaxSpeed | ((uint)LinkMaxWidth << 4);
        var linkStatus = (int)LinkSpeed | (LinkWidth << 4) | (LinkTraining ? 0x0800 : 0) | (DataLinkLayerActive ? 0x2000 : 0);
        Put16(space, offset + 0x02, (ushort)caps);
        Put32(space, offset + 0x04, (uint)PayloadField(MaxPayloadSupported));
        Put16(space, offset + 0x08, (ushort)devCtl);
        Put32(space, offset + 0x0C, linkCap);
        Put16(space, offset + 0x12, (ushort)linkStatus);
    }
}
