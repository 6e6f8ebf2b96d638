using System.Buffers.Binary;

namespace LitePcie.Hil.Tests.Pci;

/// <summary>Hand-assembles a configuration-space image register by register (little-endian).</summary>
internal sealed class ConfigImage
{
    public ConfigImage(int length = 256)
    {
        Bytes = new byte[length];
    }

    public byte[] Bytes { get; }

    /// <summary>IDs, class code and header type of a function.</summary>
    public static ConfigImage Function(
        ushort vendorId = 0x10EE,
        ushort deviceId = 0x7021,
        uint classCode = 0x058000,
        byte headerType = 0,
        int length = 256) =>
        new ConfigImage(length)
            .U16(0x00, vendorId)
            .U16(0x02, deviceId)
            .U8(0x09, (byte)classCode)
            .U8(0x0A, (byte)(classCode >> 8))
            .U8(0x0B, (byte)(classCode >> 16))
            .U8(0x0E, headerType);

    public ConfigImage U8(int offset, byte value)
    {
        Bytes[offset] = value;
        return this;
    }

    public ConfigImage U16(int offset, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(offset), value);
        return this;
    }

    public ConfigImage U32(int offset, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(offset), value);
        return this;
    }

    /// <summary>Sets Status bit 4 and the capability pointer at 0x34 (raw: reserved low bits are kept).</summary>
    public ConfigImage CapabilityPointer(byte pointer)
    {
        Bytes[0x06] |= 0x10;
        Bytes[0x34] = pointer;
        return this;
    }

    /// <summary>Writes a capability header: ID at +0, next pointer at +1.</summary>
    public ConfigImage Capability(int offset, byte id, byte next)
    {
        Bytes[offset] = id;
        Bytes[offset + 1] = next;
        return this;
    }

    /// <summary>Writes an extended capability header dword: ID 15:0, version 19:16, next 31:20.</summary>
    public ConfigImage ExtendedCapability(int offset, ushort id, byte version, int next) =>
        U32(offset, id | ((uint)version << 16) | ((uint)next << 20));
}
