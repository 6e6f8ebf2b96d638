using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Description of a header-type-0 function for <see cref="PciConfigSpaceBuilder"/>.</summary>
public sealed record PciFunctionSpec
{
    /// <summary>Vendor ID at 0x00.</summary>
    public required ushort VendorId { get; init; }

    /// <summary>Device ID at 0x02.</summary>
    public required ushort DeviceId { get; init; }

    /// <summary>Revision ID at 0x08.</summary>
    public byte Revision { get; init; }

    /// <summary>24-bit class code: base &lt;&lt; 16 | sub &lt;&lt; 8 | programming interface.</summary>
    public uint ClassCode { get; init; }

    /// <summary>Subsystem vendor ID at 0x2C.</summary>
    public ushort SubsystemVendorId { get; init; }

    /// <summary>Subsystem ID at 0x2E.</summary>
    public ushort SubsystemId { get; init; }

    /// <summary>Command register value at reset.</summary>
    public PciCommand Command { get; init; }

    /// <summary>Status register bits to set. Bit 4 (capability list) is added automatically when there are capabilities.</summary>
    public ushort Status { get; init; }

    /// <summary>Sets bit 7 of the header type (a multi-function device).</summary>
    public bool MultiFunction { get; init; }

    /// <summary>Interrupt line at 0x3C.</summary>
    public byte InterruptLine { get; init; }

    /// <summary>0 = none, 1..4 = INTA#..INTD#.</summary>
    public byte InterruptPin { get; init; }

    /// <summary>The BARs the function implements; the others read 0 and size to 0.</summary>
    public IReadOnlyList<PciBarSpec> Bars { get; init; } = [];

    /// <summary>Placed from 0x40 in this order.</summary>
    public IReadOnlyList<PciCapabilitySpec> Capabilities { get; init; } = [];

    /// <summary>True for a 4096-byte PCIe image, false for a 256-byte conventional one.</summary>
    public bool Extended { get; init; }

    /// <summary>Placed from 0x100 in this order; requires <see cref="Extended"/>.</summary>
    public IReadOnlyList<PciExtendedCapabilitySpec> ExtendedCapabilities { get; init; } = [];
}
