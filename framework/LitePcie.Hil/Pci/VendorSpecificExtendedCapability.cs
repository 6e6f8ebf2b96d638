using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>
/// Vendor-Specific extended capability (ID 0x000B). The dword at +4 holds VSEC ID (bits 15:0), VSEC revision
/// (bits 19:16) and VSEC length in bytes including both headers (bits 31:20); vendor data follows at +8.
/// </summary>
public sealed record VendorSpecificExtendedCapability(
    byte Version,
    int Offset,
    ushort VsecId,
    byte VsecRevision,
    int VsecLength,
    ReadOnlyMemory<byte> Data) : PciExtendedCapability(VendorSpecificId, Version, Offset)
{
    /// <summary>Extended capability header plus vendor-specific header.</summary>
    public const int HeaderLength = 8;

    /// <summary>Equal when the header fields and every body byte are equal.</summary>
    public bool Equals(VendorSpecificExtendedCapability? other) =>
        other is not null
        && base.Equals(other)
        && VsecId == other.VsecId
        && VsecRevision == other.VsecRevision
        && VsecLength == other.VsecLength
        && Data.Span.SequenceEqual(other.Data.Span);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), VsecId, VsecRevision, VsecLength);

    internal static VendorSpecificExtendedCapability Read(ReadOnlySpan<byte> space, int offset, byte version, string? source)
    {
        RequireBody(source, "vendor-specific extended capability", offset, HeaderLength, ExtendedSize);
        var vsec = U32(space, offset + 4);
        var length = (int)(vsec >> 20);
        if (length < HeaderLength)
        {
            throw new PciConfigSpaceException(
                source,
                offset,
                $"vendor-specific extended capability at {Hex(offset)} declares length {length}, shorter than its 8-byte header");
        }

        if (offset + length > ExtendedSize)
        {
            throw new PciConfigSpaceException(
                source,
                offset,
                $"vendor-specific extended capability at {Hex(offset)} declares length {length} ({Hex(length)}), " +
                $"which runs to {Hex(offset + length - 1)}, past the end of config space at {Hex(ExtendedSize - 1)}");
        }

        return new VendorSpecificExtendedCapability(
            version,
            offset,
            VsecId: (ushort)(vsec & 0xFFFF),
            VsecRevision: (byte)((vsec >> 16) & 0xF),
            VsecLength: length,
            Data: space.Slice(offset + HeaderLength, length - HeaderLength).ToArray());
    }
}
