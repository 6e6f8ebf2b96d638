using LitePcie.Hil.Pci;
using static LitePcie.Hil.Pci.ConfigSpaceBytes;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Power Management capability to build; fields as in <see cref="PowerManagementCapability"/>.</summary>
public sealed record PowerManagementCapabilitySpec(
    byte Version = 3,
    byte PmeSupport = 0,
    bool D1Supported = false,
    bool D2Supported = false,
    PciPowerState PowerState = PciPowerState.D0,
    bool NoSoftReset = true,
    bool PmeEnable = false,
    bool PmeStatus = false) : PciCapabilitySpec
{
    /// <inheritdoc />
    public override byte Id => PciCapability.PowerManagementId;

    /// <inheritdoc />
    public override int Length => PowerManagementCapability.BodyLength;

    internal override void Validate(string field)
    {
        Require(Version <= 7, $"{field}.{nameof(Version)}", $"{Version} does not fit PMC bits 2:0");
        Require(PmeSupport <= 0x1F, $"{field}.{nameof(PmeSupport)}", $"0x{PmeSupport:X2} does not fit PMC bits 15:11");
        Require(Enum.IsDefined(PowerState), $"{field}.{nameof(PowerState)}", $"{(int)PowerState} is not D0..D3hot");
    }

    internal override void WriteBody(Span<byte> space, int offset)
    {
        var pmc = Version | (D1Supported ? 0x0200 : 0) | (D2Supported ? 0x0400 : 0) | (PmeSupport << 11);
        var pmcsr = (int)PowerState | (NoSoftReset ? 0x0008 : 0) | (PmeEnable ? 0x0100 : 0) | (PmeStatus ? 0x8000 : 0);
        Put16(space, offset + 2, (ushort)pmc);
        Put16(space, offset + 4, (ushort)pmcsr);
    }
}
