using LitePcie.Hil.Pci;
using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Device Serial Number extended capability to build (version 1).</summary>
public sealed record DeviceSerialNumberCapabilitySpec(ulong SerialNumber) : PciExtendedCapabilitySpec
{
    /// <inheritdoc />
    public override ushort Id => PciExtendedCapability.DeviceSerialNumberId;

    /// <inheritdoc />
    public override byte Version => 1;

    /// <inheritdoc />
    public override int Length => DeviceSerialNumberCapability.BodyLength;

    internal override void Validate(string field)
    {
    }

    internal override void WriteBody(Span<byte> space, int offset) => Put64(space, offset + 4, SerialNumber);
}
