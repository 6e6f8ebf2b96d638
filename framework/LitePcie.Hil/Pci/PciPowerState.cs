namespace LitePcie.Hil.Pci;

/// <summary>Device power state (PMCSR bits 1:0).</summary>
public enum PciPowerState
{
    /// <summary>D0: fully on; the only state in which the function may master the bus.</summary>
    D0 = 0,
    /// <summary>D1: light sleep (optional).</summary>
    D1 = 1,
    /// <summary>D2: deeper sleep (optional).</summary>
    D2 = 2,
    /// <summary>D3hot: off with power applied; on the way back to D0 the function may lose its state (NoSoftReset = 0).</summary>
    D3Hot = 3,
}
