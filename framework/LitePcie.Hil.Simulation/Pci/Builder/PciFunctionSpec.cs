using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Description of a header-type-0 function for <see cref="PciConfigSpaceBuilder"/>.</summary>
public sealed record PciFunctionSpec
{
    public required ushort VendorId { get; init; }

    public required ushort DeviceId { get; init; }

    public byte Revision { get; init; }

    /// <summary>24-bit class code: base &lt;&lt; 16 | sub &lt;&lt; 8 | programming interface.</summary>
    public uint ClassCode { get; init; }

    public ushort SubsystemVendorId { get; init; }

    public ushort SubsystemId { get; init; }

    public PciCommand Command { get; init; }

    /// <summary>Status register bits to set. Bit 4 (capability list) is added automatically when there are capabilities.</summary>
    public ushort Status { get; init; }

    public bool MultiFunction { get; init; }

    public byte InterruptLine { get; init; }

    /// <summary>0 = none, 1..4 = INTA#..INTD#.</summary>
    public byte InterruptPin { get; init; }

    public IReadOnlyList<PciBarSpec> Bars { get; init; } = [];

    /// <summary>Placed from 0x40 in this order.</summary>
    public IReadOnlyList<PciCapabilitySpec> Capabilities { get; init; } = [];

    /// <summary>True for a 4096-byte PCIe image, false for a 256-byte conventional one.</summary>
    public bool Extended { get; init; }

    /// <summary>Placed from 0x100 in this order; requires <see cref="Extended"/>.</summary>
    public IReadOnlyList<PciExtendedCapabilitySpec> ExtendedCapabilities { get; init; } = [];
}
