namespace LitePcie.Hil.Pci;

/// <summary>Device power state (PMCSR bits 1:0).</summary>
public enum PciPowerState
{
    D0 = 0,
    D1 = 1,
    D2 = 2,
    D3Hot = 3,
}
