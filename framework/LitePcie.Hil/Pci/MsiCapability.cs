using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>
/// MSI capability (ID 0x05). Layout after the Message Control word at +2:
/// 32-bit: address +4, data +8 [, mask +0x0C, pending +0x10];
/// 64-bit: address +4 (low) / +8 (high), data +0x0C [, mask +0x10, pending +0x14].
/// </summary>
/// <param name="Offset">Config-space offset of the capability.</param>
/// <param name="Enabled">Message Control bit 0.</param>
/// <param name="MultipleMessageCapable">Message Control bits 3:1 (log2 of the vectors the function requests).</param>
/// <param name="MultipleMessageEnable">Message Control bits 6:4 (log2 of the vectors software granted).</param>
/// <param name="Is64Bit">Message Control bit 7.</param>
/// <param name="PerVectorMasking">Message Control bit 8.</param>
/// <param name="MessageAddress">Message Address (bits 1:0 are reserved and read as zero).</param>
/// <param name="MessageData">Message Data.</param>
/// <param name="MaskBits">Mask Bits register when per-vector masking is supported, else null.</param>
/// <param name="PendingBits">Pending Bits register when per-vector masking is supported, else null.</param>
public sealed record MsiCapability(
    int Offset,
    bool Enabled,
    int MultipleMessageCapable,
    int MultipleMessageEnable,
    bool Is64Bit,
    bool PerVectorMasking,
    ulong MessageAddress,
    ushort MessageData,
    uint? MaskBits,
    uint? PendingBits) : PciCapability(MsiId, Offset)
{
    /// <summary>Vectors the function requests (1 &lt;&lt; Multiple Message Capable).</summary>
    public int RequestedVectors => 1 << MultipleMessageCapable;

    /// <summary>Vectors software allocated (1 &lt;&lt; Multiple Message Enable).</summary>
    public int GrantedVectors => 1 << MultipleMessageEnable;

    /// <summary>Bytes the capability occupies for the given layout (0x0A, 0x0E, 0x14 or 0x18).</summary>
    public static int BodyLength(bool is64Bit, bool perVectorMasking) => (is64Bit, perVectorMasking) switch
    {
        (false, false) => 0x0A,
        (true, false) => 0x0E,
        (false, true) => 0x14,
        (true, true) => 0x18,
    };

    internal static MsiCapability Read(ReadOnlySpan<byte> space, int offset, string? source)
    {
        // The control word decides the layout; it is always inside the area because offset <= 0xFC.
        var control = U16(space, offset + 2);
        var is64 = (control & 0x0080) != 0;
        var masking = (control & 0x0100) != 0;
        RequireBody(
            source,
            $"MSI capability ({(is64 ? "64" : "32")}-bit{(masking ? ", per-vector masking" : "")})",
            offset,
            BodyLength(is64, masking),
            ConventionalSize);

        ulong address = U32(space, offset + 4) & 0xFFFF_FFFCu;
        int dataOffset = 8;
        if (is64)
        {
            address |= (ulong)U32(space, offset + 8) << 32;
            dataOffset = 0x0C;
        }

        uint? mask = null;
        uint? pending = null;
        if (masking)
        {
            mask = U32(space, offset + dataOffset + 4);
            pending = U32(space, offset + dataOffset + 8);
        }

        return new MsiCapability(
            offset,
            Enabled: (control & 0x0001) != 0,
            MultipleMessageCapable: (control >> 1) & 0x7,
            MultipleMessageEnable: (control >> 4) & 0x7,
            Is64Bit: is64,
            PerVectorMasking: masking,
            MessageAddress: address,
            MessageData: U16(space, offset + dataOffset),
            MaskBits: mask,
            PendingBits: pending);
    }
}
