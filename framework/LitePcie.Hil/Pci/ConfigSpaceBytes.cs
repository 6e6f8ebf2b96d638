using System.Buffers.Binary;

namespace LitePcie.Hil.Pci;

/// <summary>Little-endian register access and bounds checks shared by the parser and the capability readers.</summary>
internal static class ConfigSpaceBytes
{
    /// <summary>Size of the conventional (PCI) configuration space; capabilities must end at or before it.</summary>
    public const int ConventionalSize = 0x100;

    /// <summary>Size of the PCIe extended configuration space.</summary>
    public const int ExtendedSize = 0x1000;

    public static byte U8(ReadOnlySpan<byte> space, int offset) => space[offset];

    public static ushort U16(ReadOnlySpan<byte> space, int offset) =>
        BinaryPrimitives.ReadUInt16LittleEndian(space.Slice(offset, 2));

    public static uint U32(ReadOnlySpan<byte> space, int offset) =>
        BinaryPrimitives.ReadUInt32LittleEndian(space.Slice(offset, 4));

    public static ulong U64(ReadOnlySpan<byte> space, int offset) =>
        BinaryPrimitives.ReadUInt64LittleEndian(space.Slice(offset, 8));

    public static void Put16(Span<byte> space, int offset, ushort value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(space.Slice(offset, 2), value);

    public static void Put32(Span<byte> space, int offset, uint value) =>
        BinaryPrimitives.WriteUInt32LittleEndian(space.Slice(offset, 4), value);

    public static void Put64(Span<byte> space, int offset, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(space.Slice(offset, 8), value);

    /// <summary>Formats a config-space offset or register value the way lspci does (0x48, 0x100).</summary>
    public static string Hex(long value) => $"0x{value:X2}";

    /// <summary>
    /// Throws unless a capability of <paramref name="length"/> bytes starting at <paramref name="offset"/> ends at or
    /// before <paramref name="limit"/>.
    /// </summary>
    public static void RequireBody(string? source, string what, int offset, int length, int limit)
    {
        if (offset + length > limit)
        {
            throw new PciConfigSpaceException(
                source,
                offset,
                $"{what} at {Hex(offset)} needs {length} bytes (up to {Hex(offset + length - 1)}) " +
                $"but the capability area ends at {Hex(limit - 1)}");
        }
    }
}
