using LitePcie.Hil.Pci;
using static LitePcie.Hil.Pci.ConfigSpaceBytes;
using static LitePcie.Hil.Simulation.Pci.SpecValidation;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>
/// Builds the configuration space of a header-type-0 function from a <see cref="PciFunctionSpec"/>, together with what
/// a BAR sizing probe reads back. Capabilities are placed in order from <see cref="FirstCapabilityOffset"/>, each
/// 4-byte aligned, chained, last next pointer 0; extended capabilities likewise from 0x100.
/// </summary>
public sealed class PciConfigSpaceBuilder
{
    private const int BarRegisters = 6;

    /// <summary>Where the first conventional capability goes (0x40..0xFC, 4-byte aligned). Default 0x40.</summary>
    public int FirstCapabilityOffset { get; init; } = 0x40;

    /// <exception cref="ArgumentException">A spec field is out of range; the message and ParamName name the field.</exception>
    public PciConfigImage Build(PciFunctionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Require(
            FirstCapabilityOffset is >= 0x40 and <= 0xFC && FirstCapabilityOffset % 4 == 0,
            nameof(FirstCapabilityOffset),
            $"0x{FirstCapabilityOffset:X} is not a 4-byte aligned offset in 0x40..0xFC");
        Require(spec.ClassCode <= 0xFF_FFFF, nameof(spec.ClassCode), $"0x{spec.ClassCode:X} does not fit 24 bits");
        Require(spec.InterruptPin <= 4, nameof(spec.InterruptPin), $"{spec.InterruptPin} is not 0 (none) or 1..4 (INTA#..INTD#)");
        Require(
            spec.Extended || spec.ExtendedCapabilities.Count == 0,
            nameof(spec.ExtendedCapabilities),
            "extended capabilities need Extended = true (a 4096-byte image)");

        var image = new byte[spec.Extended ? ExtendedSize : ConventionalSize];
        var masks = new uint[BarRegisters];

        WriteHeader(spec, image);
        WriteBars(spec.Bars, image, masks);
        var offsets = WriteCapabilities(spec.Capabilities, image);
        var extendedOffsets = WriteExtendedCapabilities(spec.ExtendedCapabilities, image);
        return new PciConfigImage(image, masks, offsets, extendedOffsets);
    }

    private static void WriteHeader(PciFunctionSpec spec, byte[] image)
    {
        var status = spec.Status;
        if (spec.Capabilities.Count > 0)
        {
            status |= 0x0010;
        }

        Put16(image, 0x00, spec.VendorId);
        Put16(image, 0x02, spec.DeviceId);
        Put16(image, 0x04, (ushort)spec.Command);
        Put16(image, 0x06, status);
        image[0x08] = spec.Revision;
        image[0x09] = (byte)spec.ClassCode;
        image[0x0A] = (byte)(spec.ClassCode >> 8);
        image[0x0B] = (byte)(spec.ClassCode >> 16);
        image[0x0E] = (byte)(spec.MultiFunction ? 0x80 : 0x00);
        Put16(image, 0x2C, spec.SubsystemVendorId);
        Put16(image, 0x2E, spec.SubsystemId);
        image[0x3C] = spec.InterruptLine;
        image[0x3D] = spec.InterruptPin;
    }

    private static void WriteBars(IReadOnlyList<PciBarSpec> bars, byte[] image, uint[] masks)
    {
        var owner = new string?[BarRegisters];
        for (var i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            var field = $"Bars[{i}]";
            ValidateBar(bar, field);

            var registers = bar.Kind == PciBarKind.Memory64 ? 2 : 1;
            for (var r = bar.Index; r < bar.Index + registers; r++)
            {
                Require(
                    owner[r] is null,
                    $"{field}.{nameof(bar.Index)}",
                    $"BAR register {r} is already used by {owner[r]}");
                owner[r] = field;
            }

            var offset = 0x10 + (4 * bar.Index);
            var sizeMask = ~(bar.Size - 1);
            var prefetch = bar.Prefetchable ? 0x8u : 0u;
            switch (bar.Kind)
            {
                case PciBarKind.Memory32:
                    Put32(image, offset, (uint)bar.Address | prefetch);
                    masks[bar.Index] = ((uint)sizeMask & 0xFFFF_FFF0) | prefetch;
                    break;
                case PciBarKind.Memory64:
                    Put32(image, offset, (uint)bar.Address | 0x4 | prefetch);
                    Put32(image, offset + 4, (uint)(bar.Address >> 32));
                    masks[bar.Index] = ((uint)sizeMask & 0xFFFF_FFF0) | 0x4 | prefetch;
                    masks[bar.Index + 1] = (uint)(sizeMask >> 32);
                    break;
                default:
                    // A 32-bit I/O decoder: the upper half of the probe reads back as ones.
                    Put32(image, offset, (uint)bar.Address | 0x1);
                    masks[bar.Index] = ((uint)sizeMask & 0xFFFF_FFFC) | 0x1;
                    break;
            }
        }
    }

    private static void ValidateBar(PciBarSpec bar, string field)
    {
        Require(Enum.IsDefined(bar.Kind), $"{field}.{nameof(bar.Kind)}", $"{(int)bar.Kind} is not a BAR kind");
        Require(bar.Index is >= 0 and < BarRegisters, $"{field}.{nameof(bar.Index)}", $"{bar.Index} is not a BAR register 0..5");
        Require(
            bar.Kind != PciBarKind.Memory64 || bar.Index < BarRegisters - 1,
            $"{field}.{nameof(bar.Index)}",
            "a 64-bit BAR needs two registers and cannot start at BAR5");
        Require(
            bar.Kind != PciBarKind.Io || !bar.Prefetchable,
            $"{field}.{nameof(bar.Prefetchable)}",
            "an I/O BAR cannot be prefetchable");

        var (min, max) = bar.Kind switch
        {
            PciBarKind.Memory32 => (16ul, 0x8000_0000ul),
            PciBarKind.Memory64 => (16ul, 0x8000_0000_0000_0000ul),
            _ => (4ul, 0x1_0000ul),
        };
        Require(
            IsPowerOfTwo(bar.Size) && bar.Size >= min && bar.Size <= max,
            $"{field}.{nameof(bar.Size)}",
            $"0x{bar.Size:X} is not a power of two in 0x{min:X}..0x{max:X} for a {bar.Kind} BAR");
        Require(
            (bar.Address & (bar.Size - 1)) == 0,
            $"{field}.{nameof(bar.Address)}",
            $"0x{bar.Address:X} is not aligned to the BAR size 0x{bar.Size:X}");
        Require(
            bar.Kind == PciBarKind.Memory64 || bar.Address + bar.Size - 1 <= uint.MaxValue,
            $"{field}.{nameof(bar.Address)}",
            $"0x{bar.Address:X} + 0x{bar.Size:X} does not fit a 32-bit {bar.Kind} BAR");
    }

    private int[] WriteCapabilities(IReadOnlyList<PciCapabilitySpec> capabilities, byte[] image)
    {
        var offsets = new int[capabilities.Count];
        var offset = FirstCapabilityOffset;
        var previousNext = 0x34;
        for (var i = 0; i < capabilities.Count; i++)
        {
            var capability = capabilities[i];
            var field = $"Capabilities[{i}]";
            Require(capability is not null, field, "is null");
            capability!.Validate(field);
            Require(
                offset + capability.Length <= ConventionalSize,
                field,
                $"capability 0x{capability.Id:X2} needs {capability.Length} bytes at 0x{offset:X2} " +
                "but the capability area ends at 0xFF");

            image[offset] = capability.Id;
            capability.WriteBody(image, offset);
            image[previousNext] = (byte)offset;
            previousNext = offset + 1;
            offsets[i] = offset;
            offset = AlignUp4(offset + capability.Length);
        }

        return offsets;
    }

    private static int[] WriteExtendedCapabilities(IReadOnlyList<PciExtendedCapabilitySpec> capabilities, byte[] image)
    {
        var offsets = new int[capabilities.Count];
        var offset = ConventionalSize;
        for (var i = 0; i < capabilities.Count; i++)
        {
            var capability = capabilities[i];
            var field = $"ExtendedCapabilities[{i}]";
            Require(capability is not null, field, "is null");
            capability!.Validate(field);
            Require(
                offset + capability.Length <= ExtendedSize,
                field,
                $"extended capability 0x{capability.Id:X4} needs {capability.Length} bytes at 0x{offset:X3} " +
                "but config space ends at 0xFFF");

            offsets[i] = offset;
            capability.WriteBody(image, offset);
            offset = AlignUp4(offset + capability.Length);
        }

        for (var i = 0; i < capabilities.Count; i++)
        {
            var next = i + 1 < capabilities.Count ? (uint)offsets[i + 1] : 0u;
            var header = capabilities[i].Id | ((uint)capabilities[i].Version << 16) | (next << 20);
            Put32(image, offsets[i], header);
        }

        return offsets;
    }

    private static int AlignUp4(int value) => (value + 3) & ~3;
}
