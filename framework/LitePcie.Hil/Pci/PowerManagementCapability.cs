using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>PCI Power Management capability (ID 0x01). PMC at +2, PMCSR at +4.</summary>
/// <param name="Offset">Config-space offset of the capability.</param>
/// <param name="Version">PMC bits 2:0.</param>
/// <param name="PmeSupport">PMC bits 15:11: states (D0, D1, D2, D3hot, D3cold) from which PME# can be asserted.</param>
/// <param name="D1Supported">PMC bit 9.</param>
/// <param name="D2Supported">PMC bit 10.</param>
/// <param name="PowerState">PMCSR bits 1:0.</param>
/// <param name="NoSoftReset">PMCSR bit 3.</param>
/// <param name="PmeEnable">PMCSR bit 8.</param>
/// <param name="PmeStatus">PMCSR bit 15.</param>
public sealed record PowerManagementCapability(
    int Offset,
    byte Version,
    byte PmeSupport,
    bool D1Supported,
    bool D2Supported,
    PciPowerState PowerState,
    bool NoSoftReset,
    bool PmeEnable,
    bool PmeStatus) : PciCapability(PowerManagementId, Offset)
{
    /// <summary>Bytes occupied: header, PMC, PMCSR, PMCSR_BSE, Data.</summary>
    public const int BodyLength = 8;

    internal static PowerManagementCapability Read(ReadOnlySpan<byte> space, int offset, string? source)
    {
        RequireBody(source, "power management capability", offset, BodyLength, ConventionalSize);
        var pmc = U16(space, offset + 2);
        var pmcsr = U16(space, offset + 4);
        return new PowerManagementCapability(
            offset,
            Version: (byte)(pmc & 0x7),
            PmeSupport: (byte)(pmc >> 11),
            D1Supported: (pmc & 0x0200) != 0,
            D2Supported: (pmc & 0x0400) != 0,
            PowerState: (PciPowerState)(pmcsr & 0x3),
            NoSoftReset: (pmcsr & 0x0008) != 0,
            PmeEnable: (pmcsr & 0x0100) != 0,
            PmeStatus: (pmcsr & 0x8000) != 0);
    }
}
