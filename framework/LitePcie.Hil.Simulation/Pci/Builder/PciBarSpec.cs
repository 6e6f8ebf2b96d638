using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>A BAR a simulated function implements.</summary>
/// <param name="Index">BAR register 0..5; a 64-bit BAR also takes <paramref name="Index"/>+1.</param>
/// <param name="Kind">Decoder type.</param>
/// <param name="Size">Bytes; a power of two, at least 16 for memory and 4 for I/O.</param>
/// <param name="Prefetchable">Prefetchable bit (memory only).</param>
/// <param name="Address">Assigned base address; must be aligned to <paramref name="Size"/>.</param>
public sealed record PciBarSpec(int Index, PciBarKind Kind, ulong Size, bool Prefetchable = false, ulong Address = 0);
