namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Output of <see cref="PciConfigSpaceBuilder.Build"/>.</summary>
public sealed class PciConfigImage
{
    /// <summary>The built image, the sizing mask of each BAR register, and the offsets where each capability and extended capability was placed.</summary>
    public PciConfigImage(byte[] image, uint[] barSizingMasks, int[] capabilityOffsets, int[] extendedCapabilityOffsets)
    {
        Image = image;
        BarSizingMasks = barSizingMasks;
        CapabilityOffsets = capabilityOffsets;
        ExtendedCapabilityOffsets = extendedCapabilityOffsets;
    }

    /// <summary>The 256- or 4096-byte configuration space.</summary>
    public byte[] Image { get; }

    /// <summary>What a sizing probe (write 0xFFFFFFFF, read back) returns per BAR register; 0 if unimplemented.</summary>
    public uint[] BarSizingMasks { get; }

    /// <summary>Where each entry of <see cref="PciFunctionSpec.Capabilities"/> was placed.</summary>
    public int[] CapabilityOffsets { get; }

    /// <summary>Where each entry of <see cref="PciFunctionSpec.ExtendedCapabilities"/> was placed.</summary>
    public int[] ExtendedCapabilityOffsets { get; }
}
