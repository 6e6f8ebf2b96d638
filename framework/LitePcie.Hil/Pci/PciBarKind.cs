namespace LitePcie.Hil.Pci;

/// <summary>Decoder type of a Base Address Register.</summary>
public enum PciBarKind
{
    /// <summary>32-bit memory BAR (type 0b00, or the legacy below-1MiB type 0b01).</summary>
    Memory32,

    /// <summary>64-bit memory BAR (type 0b10): uses two consecutive BAR registers.</summary>
    Memory64,

    /// <summary>I/O space BAR (bit 0 set).</summary>
    Io,
}
