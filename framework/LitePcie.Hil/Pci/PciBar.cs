namespace LitePcie.Hil.Pci;

/// <summary>
/// One implemented Base Address Register. A 64-bit BAR occupies registers <paramref name="Index"/> and
/// <paramref name="Index"/>+1 and is listed once.
/// </summary>
/// <param name="Index">BAR register number (0..5 for header type 0, 0..1 for header type 1).</param>
/// <param name="Kind">Decoder type.</param>
/// <param name="Prefetchable">Memory BAR prefetchable bit (always false for I/O).</param>
/// <param name="Address">Assigned base address with the type bits removed.</param>
/// <param name="Size">Decoded size in bytes when sizing masks were supplied; otherwise null.</param>
public sealed record PciBar(int Index, PciBarKind Kind, bool Prefetchable, ulong Address, ulong? Size)
{
    /// <summary>Config-space offset of the (low) BAR register.</summary>
    public int RegisterOffset => 0x10 + (4 * Index);
}
