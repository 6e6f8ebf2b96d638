using LitePcie.Hil.Pci;
using static LitePcie.Hil.Pci.ConfigSpaceBytes;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>MSI-X capability to build; fields as in <see cref="MsiXCapability"/>.</summary>
public sealed record MsiXCapabilitySpec(
    int TableSize,
    int TableBir = 0,
    uint TableOffset = 0,
    int PbaBir = 0,
    uint PbaOffset = 0x800,
    bool Enabled = false,
    bool FunctionMask = false) : PciCapabilitySpec
{
    /// <inheritdoc />
    public override byte Id => PciCapability.MsiXId;

    /// <inheritdoc />
    public override int Length => MsiXCapability.BodyLength;

    internal override void Validate(string field)
    {
        Require(TableSize is >= 1 and <= 2048, $"{field}.{nameof(TableSize)}", $"{TableSize} is not 1..2048 entries");
        Require(TableBir is >= 0 and <= 5, $"{field}.{nameof(TableBir)}", $"{TableBir} is not a BAR index 0..5");
        Require(PbaBir is >= 0 and <= 5, $"{field}.{nameof(PbaBir)}", $"{PbaBir} is not a BAR index 0..5");
        Require((TableOffset & 0x7) == 0, $"{field}.{nameof(TableOffset)}", $"0x{TableOffset:X} is not 8-byte aligned");
        Require((PbaOffset & 0x7) == 0, $"{field}.{nameof(PbaOffset)}", $"0x{PbaOffset:X} is not 8-byte aligned");
    }

    internal override void WriteBody(Span<byte> space, int offset)
    {
        var control = (TableSize - 1) | (FunctionMask ? 0x4000 : 0) | (Enabled ? 0x8000 : 0);
        Put16(space, offset + 2, (ushort)control);
        Put32(space, offset + 4, TableOffset | (uint)TableBir);
        Put32(space, offset + 8, PbaOffset | (uint)PbaBir);
    }
}
