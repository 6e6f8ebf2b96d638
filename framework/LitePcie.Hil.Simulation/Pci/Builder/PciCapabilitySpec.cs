namespace LitePcie.Hil.Simulation.Pci;

/// <summary>
/// A conventional capability for <see cref="PciConfigSpaceBuilder"/>. The set of kinds is closed:
/// <see cref="PowerManagementCapabilitySpec"/>, <see cref="MsiCapabilitySpec"/>, <see cref="MsiXCapabilitySpec"/>,
/// <see cref="PciExpressCapabilitySpec"/>, <see cref="VendorSpecificCapabilitySpec"/>.
/// </summary>
public abstract record PciCapabilitySpec
{
    private protected PciCapabilitySpec()
    {
    }

    /// <summary>Capability ID written at +0.</summary>
    public abstract byte Id { get; }

    /// <summary>Bytes the capability occupies (before 4-byte alignment of the next one).</summary>
    public abstract int Length { get; }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> when a value does not fit its register.</summary>
    internal abstract void Validate(string field);

    /// <summary>Writes everything except the ID and next pointer.</summary>
    internal abstract void WriteBody(Span<byte> space, int offset);
}
