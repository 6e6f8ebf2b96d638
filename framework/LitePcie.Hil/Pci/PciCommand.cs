namespace LitePcie.Hil.Pci;

/// <summary>Bits of the PCI Command register (offset 0x04).</summary>
[Flags]
public enum PciCommand : ushort
{
    /// <summary>No command bit set: the function ignores memory and I/O cycles and cannot master the bus.</summary>
    None = 0,
    /// <summary>Bit 0: the function responds to I/O space accesses.</summary>
    IoSpace = 0x0001,
    /// <summary>Bit 1: the function responds to memory space accesses (its memory BARs decode).</summary>
    MemorySpace = 0x0002,
    /// <summary>Bit 2: the function may master the bus (DMA and MSI writes); LitePCIe's engines need it.</summary>
    BusMaster = 0x0004,
    /// <summary>Bit 3: special cycles (conventional PCI; hard-wired 0 on PCIe).</summary>
    SpecialCycles = 0x0008,
    /// <summary>Bit 4: memory write and invalidate (conventional PCI; hard-wired 0 on PCIe).</summary>
    MemoryWriteInvalidate = 0x0010,
    /// <summary>Bit 5: VGA palette snoop (conventional PCI; hard-wired 0 on PCIe).</summary>
    VgaPaletteSnoop = 0x0020,
    /// <summary>Bit 6: the function reports parity (poisoned data) errors.</summary>
    ParityErrorResponse = 0x0040,
    /// <summary>Bit 8: SERR# enable: fatal and non-fatal errors are reported to the root complex.</summary>
    Serr = 0x0100,
    /// <summary>Bit 9: fast back-to-back transactions (conventional PCI; hard-wired 0 on PCIe).</summary>
    FastBackToBack = 0x0200,
    /// <summary>Bit 10: legacy INTx interrupts disabled (MSI and MSI-X are unaffected).</summary>
    InterruptDisable = 0x0400,
}
