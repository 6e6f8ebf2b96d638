namespace LitePcie.Hil.Pci;

/// <summary>A capability whose ID this parser does not decode; only the ID and position are kept.</summary>
public sealed record UnknownCapability(byte Id, int Offset) : PciCapability(Id, Offset);
