using LitePcie.Hil.Pci;
using static LitePcie.Hil.Pci.ConfigSpaceBytes;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>MSI capability to build; fields as in <see cref="MsiCapability"/>. Mask/pending bits need per-vector masking.</summary>
public sealed record MsiCapabilitySpec(
    int MultipleMessageCapable = 0,
    bool Is64Bit = true,
    bool PerVectorMasking = false,
    bool Enabled = false,
    int MultipleMessageEnable = 0,
    ulong MessageAddress = 0,
    ushort MessageData = 0,
    uint MaskBits = 0,
    uint PendingBits = 0) : PciCapabilitySpec
{
    /// <inheritdoc />
    public override byte Id => PciCapability.MsiId;

    /// <inheritdoc />
    public override int Length => MsiCapability.BodyLength(Is64Bit, PerVectorMasking);

    internal override void Validate(string field)
    {
        Require(
            MultipleMessageCapable is >= 0 and <= 5,
            $"{field}.{nameof(MultipleMessageCapable)}",
            $"{MultipleMessageCapable} is not a log2 vector count 0..5 (1..32 vectors)");
        Require(
            MultipleMessageEnable >= 0 && MultipleMessageEnable <= MultipleMessageCapable,
            $"{field}.{nameof(MultipleMessageEnable)}",
            $"{MultipleMessageEnable} grants more vectors than Multiple Message Capable {MultipleMessageCapable} requests");
        Require(
            (MessageAddress & 0x3) == 0,
            $"{field}.{nameof(MessageAddress)}",
            $"0x{MessageAddress:X} is not dword aligned (address bits 1:0 are reserved)");
        Require(
            Is64Bit || MessageAddress <= uint.MaxValue,
            $"{field}.{nameof(MessageAddress)}",
            $"0x{MessageAddress:X} does not fit a 32-bit MSI capability");
        Require(
            PerVectorMasking || (MaskBits == 0 && PendingBits == 0),
            $"{field}.{nameof(MaskBits)}",
            "mask and pending bits need per-vector masking");
    }

    internal override void WriteBody(Span<byte> space, int offset)
    {
        var control = (Enabled ? 0x0001 : 0)
            | (MultipleMessageCapable << 1)
            | (MultipleMessageEnable << 4)
            | (Is64Bit ? 0x0080 : 0)
            | (PerVectorMasking ? 0x0100 : 0);
        Put16(space, offset + 2, (ushort)control);
        Put32(space, offset + 4, (uint)MessageAddress);
        var data = offset + 8;
        if (Is64Bit)
        {
            Put32(space, offset + 8, (uint)(MessageAddress >> 32));
            data = offset + 0x0C;
        }

        Put16(space, data, MessageData);
        if (PerVectorMasking)
        {
            Put32(space, data + 4, MaskBits);
            Put32(space, data + 8, PendingBits);
        }
    }
}
