using LitePcie.Hil.Pci;
using static LitePcie.Hil.Pci.ConfigSpaceBytes;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Vendor-Specific extended capability to build (version 1); VSEC length is 8 + <paramref name="Data"/>.Length.</summary>
public sealed record VendorSpecificExtendedCapabilitySpec(ushort VsecId, byte VsecRevision, ReadOnlyMemory<byte> Data)
    : PciExtendedCapabilitySpec
{
    /// <inheritdoc />
    public override ushort Id => PciExtendedCapability.VendorSpecificId;

    /// <inheritdoc />
    public override byte Version => 1;

    /// <inheritdoc />
    public override int Length => VendorSpecificExtendedCapability.HeaderLength + Data.Length;

    internal override void Validate(string field)
    {
        Require(VsecRevision <= 0xF, $"{field}.{nameof(VsecRevision)}", $"{VsecRevision} does not fit VSEC bits 19:16");
        Require(Length <= 0xFFF, $"{field}.{nameof(Data)}", $"{Data.Length} data bytes make the VSEC length exceed 0xFFF");
    }

    internal override void WriteBody(Span<byte> space, int offset)
    {
        Put32(space, offset + 4, VsecId | ((uint)VsecRevision << 16) | ((uint)Length << 20));
        Data.Span.CopyTo(space[(offset + VendorSpecificExtendedCapability.HeaderLength)..]);
    }
}
