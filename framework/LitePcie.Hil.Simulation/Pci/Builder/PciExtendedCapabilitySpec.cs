namespace LitePcie.Hil.Simulation.Pci;

/// <summary>
/// An extended capability for <see cref="PciConfigSpaceBuilder"/>. The set of kinds is closed:
/// <see cref="AerCapabilitySpec"/>, <see cref="DeviceSerialNumberCapabilitySpec"/>,
/// <see cref="VendorSpecificExtendedCapabilitySpec"/>.
/// </summary>
public abstract record PciExtendedCapabilitySpec
{
    private protected PciExtendedCapabilitySpec()
    {
    }

    /// <summary>Extended capability ID written in the header's bits 15:0.</summary>
    public abstract ushort Id { get; }

    /// <summary>Capability version written in the header's bits 19:16.</summary>
    public abstract byte Version { get; }

    /// <summary>Bytes the capability occupies, header included.</summary>
    public abstract int Length { get; }

    internal abstract void Validate(string field);

    /// <summary>Writes everything after the header dword.</summary>
    internal abstract void WriteBody(Span<byte> space, int offset);
}
