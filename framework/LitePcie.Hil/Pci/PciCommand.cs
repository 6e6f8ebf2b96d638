namespace LitePcie.Hil.Pci;

/// <summary>Bits of the PCI Command register (offset 0x04).</summary>
[Flags]
public enum PciCommand : ushort
{
    None = 0,
    IoSpace = 0x0001,
    MemorySpace = 0x0002,
    BusMaster = 0x0004,
    SpecialCycles = 0x0008,
    MemoryWriteInvalidate = 0x0010,
    VgaPaletteSnoop = 0x0020,
    ParityErrorResponse = 0x0040,
    Serr = 0x0100,
    FastBackToBack = 0x0200,
    InterruptDisable = 0x0400,
}
