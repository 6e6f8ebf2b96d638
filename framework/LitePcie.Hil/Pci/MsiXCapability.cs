using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>MSI-X capability (ID 0x11): Message Control +2, Table Offset/BIR +4, PBA Offset/BIR +8.</summary>
/// <param name="Offset">Config-space offset of the capability.</param>
/// <param name="Enabled">Message Control bit 15.</param>
/// <param name="FunctionMask">Message Control bit 14.</param>
/// <param name="TableSize">Number of table entries (Message Control bits 10:0, plus one).</param>
/// <param name="TableBir">BAR indicator of the vector table (bits 2:0 at +4).</param>
/// <param name="TableOffset">Offset of the vector table inside that BAR (bits 31:3 at +4).</param>
/// <param name="PbaBir">BAR indicator of the pending-bit array (bits 2:0 at +8).</param>
/// <param name="PbaOffset">Offset of the pending-bit array inside that BAR (bits 31:3 at +8).</param>
public sealed record MsiXCapability(
    int Offset,
    bool Enabled,
    bool FunctionMask,
    int TableSize,
    int TableBir,
    uint TableOffset,
    int PbaBir,
    uint PbaOffset) : PciCapability(MsiXId, Offset)
{
    /// <summary>Bytes of the capability including its header (header, table and PBA location dwords).</summary>
    public const int BodyLength = 12;

    internal static MsiXCapability Read(ReadOnlySpan<byte> space, int offset, string? source)
    {
        RequireBody(source, "MSI-X capability", offset, BodyLength, ConventionalSize);
        var control = U16(space, offset + 2);
        var table = U32(space, offset + 4);
        var pba = U32(space, offset + 8);
        return new MsiXCapability(
            offset,
            Enabled: (control & 0x8000) != 0,
            FunctionMask: (control & 0x4000) != 0,
            TableSize: (control & 0x07FF) + 1,
            TableBir: (int)(table & 0x7),
            TableOffset: table & ~7u,
            PbaBir: (int)(pba & 0x7),
            PbaOffset: pba & ~7u);
    }
}
