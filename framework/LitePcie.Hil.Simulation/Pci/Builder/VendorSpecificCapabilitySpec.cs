using LitePcie.Hil.Pci;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Vendor-specific capability to build: the length byte is 3 + <paramref name="Data"/>.Length.</summary>
public sealed record VendorSpecificCapabilitySpec(ReadOnlyMemory<byte> Data) : PciCapabilitySpec
{
    /// <inheritdoc />
    public override byte Id => PciCapability.VendorSpecificId;

    /// <inheritdoc />
    public override int Length => VendorSpecificCapability.HeaderLength + Data.Length;

    internal override void Validate(string field) =>
        Require(Length <= byte.MaxValue, $"{field}.{nameof(Data)}", $"{Data.Length} data bytes make the length byte exceed 255");

    internal override void WriteBody(Span<byte> space, int offset)
    {
        space[offset + 2] = (byte)Length;
        Data.Span.CopyTo(space[(offset + VendorSpecificCapability.HeaderLength)..]);
    }
}
