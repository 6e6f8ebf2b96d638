using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>Device Serial Number extended capability (ID 0x0003): 64-bit serial at +4 (lower dword first).</summary>
public sealed record DeviceSerialNumberCapability(byte Version, int Offset, ulong SerialNumber)
    : PciExtendedCapability(DeviceSerialNumberId, Version, Offset)
{
    /// <summary>Bytes of the capability including its header (header, serial number low and high dwords).</summary>
    public const int BodyLength = 12;

    internal static DeviceSerialNumberCapability Read(ReadOnlySpan<byte> space, int offset, byte version, string? source)
    {
        RequireBody(source, "device serial number capability", offset, BodyLength, ExtendedSize);
        return new DeviceSerialNumberCapability(version, offset, U64(space, offset + 4));
    }
}
