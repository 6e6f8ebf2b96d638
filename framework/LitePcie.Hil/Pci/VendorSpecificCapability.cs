using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>Vendor-specific capability (ID 0x09): length byte at +2 (counting the 3-byte header), data after it.</summary>
/// <param name="Offset">Config-space offset of the capability.</param>
/// <param name="Length">Capability length byte at +2, header included.</param>
/// <param name="Data">The <paramref name="Length"/> - 3 bytes following the header.</param>
public sealed record VendorSpecificCapability(int Offset, byte Length, ReadOnlyMemory<byte> Data)
    : PciCapability(VendorSpecificId, Offset)
{
    /// <summary>ID, next pointer and length byte.</summary>
    public const int HeaderLength = 3;

    /// <summary>Equal when the header fields and every body byte are equal.</summary>
    public bool Equals(VendorSpecificCapability? other) =>
        other is not null && base.Equals(other) && Length == other.Length && Data.Span.SequenceEqual(other.Data.Span);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), Length, Data.Length);

    internal static VendorSpecificCapability Read(ReadOnlySpan<byte> space, int offset, string? source)
    {
        var length = U8(space, offset + 2);
        if (length < HeaderLength)
        {
            throw new PciConfigSpaceException(
                source,
                offset,
                $"vendor-specific capability at {Hex(offset)} declares length {length}, shorter than its 3-byte header");
        }

        if (offset + length > ConventionalSize)
        {
            throw new PciConfigSpaceException(
                source,
                offset,
                $"vendor-specific capability at {Hex(offset)} declares length {length} ({Hex(length)}), " +
                $"which runs to {Hex(offset + length - 1)}, past the end of the capability area at {Hex(ConventionalSize - 1)}");
        }

        var data = space.Slice(offset + HeaderLength, length - HeaderLength).ToArray();
        return new VendorSpecificCapability(offset, length, data);
    }
}
