using LitePcie.Hil.Pci;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Advanced Error Reporting extended capability to build (0x48 bytes, all error registers zero).</summary>
public sealed record AerCapabilitySpec(byte CapabilityVersion = 2) : PciExtendedCapabilitySpec
{
    /// <inheritdoc />
    public override ushort Id => PciExtendedCapability.AdvancedErrorReportingId;

    /// <inheritdoc />
    public override byte Version => CapabilityVersion;

    /// <inheritdoc />
    public override int Length => 0x48;

    internal override void Validate(string field) =>
        Require(CapabilityVersion is >= 1 and <= 15, $"{field}.{nameof(CapabilityVersion)}", $"{CapabilityVersion} does not fit header bits 19:16");

    internal override void WriteBody(Span<byte> space, int offset)
    {
        // Error status, mask and log registers reset to zero: nothing to write.
    }
}
