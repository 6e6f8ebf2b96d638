using static LitePcie.Hil.Pci.ConfigSpaceBytes;

namespace LitePcie.Hil.Pci;

/// <summary>
/// A parsed PCI / PCIe configuration-space image (header type 0 or 1, capability list, extended capability list).
/// Pure: works on a byte image and optional BAR sizing-probe results, never touches hardware.
/// </summary>
public sealed class PciConfigSpace
{
    /// <summary>Most entries the 192-byte conventional capability area (0x40..0xFF, 4-byte aligned) can hold.</summary>
    public const int MaxCapabilities = (ConventionalSize - FirstCapabilityOffset) / 4;

    /// <summary>Most entries the extended area (0x100..0xFFF, 4-byte aligned) can hold.</summary>
    public const int MaxExtendedCapabilities = (ExtendedSize - ConventionalSize) / 4;

    private const int FirstCapabilityOffset = 0x40;
    private const int CapabilityPointerOffset = 0x34;
    private const int HeaderTypeOffset = 0x0E;
    private const int FirstBarOffset = 0x10;
    private const ushort StatusCapabilityList = 0x0010;

    private readonly byte[] _raw;

    private PciConfigSpace(
        byte[] raw,
        IReadOnlyList<PciBar> bars,
        IReadOnlyList<PciCapability> capabilities,
        IReadOnlyList<PciExtendedCapability> extendedCapabilities)
    {
        _raw = raw;
        Bars = bars;
        Capabilities = capabilities;
        ExtendedCapabilities = extendedCapabilities;
    }

    /// <summary>A private copy of the parsed image.</summary>
    public ReadOnlyMemory<byte> Raw => _raw;

    /// <summary>256 (conventional) or 4096 (PCIe extended).</summary>
    public int Length => _raw.Length;

    /// <summary>Vendor ID at 0x00 (0x10EE for Xilinx-based LitePCIe designs).</summary>
    public ushort VendorId => U16(_raw, 0x00);

    /// <summary>Device ID at 0x02 (for LitePCIe: family base plus lane count).</summary>
    public ushort DeviceId => U16(_raw, 0x02);

    /// <summary>Command register at 0x04.</summary>
    public PciCommand Command => (PciCommand)U16(_raw, 0x04);

    /// <summary>Status register at 0x06.</summary>
    public ushort Status => U16(_raw, 0x06);

    /// <summary>Status bit 4: the capability pointer at 0x34 is valid.</summary>
    public bool HasCapabilityList => (Status & StatusCapabilityList) != 0;

    /// <summary>Revision ID at 0x08 (litepcie.ko binds revision 0 only).</summary>
    public byte Revision => _raw[0x08];

    /// <summary>24-bit class code: base &lt;&lt; 16 | sub &lt;&lt; 8 | programming interface.</summary>
    public uint ClassCode => (uint)(_raw[0x0B] << 16 | _raw[0x0A] << 8 | _raw[0x09]);

    /// <summary>Base class code at 0x0B.</summary>
    public byte BaseClass => _raw[0x0B];

    /// <summary>Sub-class code at 0x0A.</summary>
    public byte SubClass => _raw[0x0A];

    /// <summary>Programming interface at 0x09.</summary>
    public byte ProgIf => _raw[0x09];

    /// <summary>Header layout (low 7 bits of 0x0E): 0 for a device, 1 for a PCI-PCI bridge.</summary>
    public int HeaderType => _raw[HeaderTypeOffset] & 0x7F;

    /// <summary>Bit 7 of the header type register.</summary>
    public bool IsMultiFunction => (_raw[HeaderTypeOffset] & 0x80) != 0;

    /// <summary>Subsystem vendor ID at 0x2C (header type 0 only; null for bridges).</summary>
    public ushort? SubsystemVendorId => HeaderType == 0 ? U16(_raw, 0x2C) : null;

    /// <summary>Subsystem ID at 0x2E (header type 0 only; null for bridges).</summary>
    public ushort? SubsystemId => HeaderType == 0 ? U16(_raw, 0x2E) : null;

    /// <summary>Interrupt line at 0x3C (written by the OS; no meaning to the device).</summary>
    public byte InterruptLine => _raw[0x3C];

    /// <summary>Interrupt pin at 0x3D: 0 none, 1–4 INTA#–INTD#.</summary>
    public byte InterruptPin => _raw[0x3D];

    /// <summary>Implemented BARs in register order; a 64-bit BAR is listed once.</summary>
    public IReadOnlyList<PciBar> Bars { get; }

    /// <summary>Conventional capabilities in list order.</summary>
    public IReadOnlyList<PciCapability> Capabilities { get; }

    /// <summary>Extended capabilities in list order (empty for a 256-byte image).</summary>
    public IReadOnlyList<PciExtendedCapability> ExtendedCapabilities { get; }

    /// <summary>Short name of the class code, e.g. "Ethernet controller".</summary>
    public string ClassDescription => ClassName(ClassCode);

    /// <summary>Short name for common class codes; "Class 0xXXXXXX" for the rest.</summary>
    public static string ClassName(uint classCode) => PciClassNames.Of(classCode);

    /// <summary>Number of BAR registers for a header type (6 for type 0, 2 for type 1).</summary>
    public static int BarRegisterCount(int headerType) => headerType == 0 ? 6 : 2;

    /// <summary>
    /// Parses a configuration-space image.
    /// </summary>
    /// <param name="image">256 or 4096 bytes, little-endian as read from config space.</param>
    /// <param name="barSizingMasks">
    /// Optional: one value per BAR register (6 for header type 0, 2 for type 1) as read back after writing
    /// 0xFFFFFFFF. A 0 marks an unimplemented BAR. Without masks BAR sizes are null and BAR registers reading 0 are
    /// not listed.
    /// </param>
    /// <param name="source">Optional name of the function (e.g. "0000:01:00.0") used in error messages.</param>
    /// <exception cref="PciConfigSpaceException">The image or the masks are malformed.</exception>
    public static PciConfigSpace Parse(
        ReadOnlySpan<byte> image,
        IReadOnlyList<uint>? barSizingMasks = null,
        string? source = null)
    {
        if (image.Length != ConventionalSize && image.Length != ExtendedSize)
        {
            throw new PciConfigSpaceException(
                source,
                null,
                $"image is {image.Length} bytes; expected 256 (conventional) or 4096 (PCIe extended)");
        }

        var headerType = image[HeaderTypeOffset] & 0x7F;
        if (headerType is not (0 or 1))
        {
            throw new PciConfigSpaceException(
                source,
                HeaderTypeOffset,
                $"header type {headerType} not supported (header type register at {Hex(HeaderTypeOffset)} " +
                $"reads {Hex(image[HeaderTypeOffset])})");
        }

        var raw = image.ToArray();
        var bars = ParseBars(raw, headerType, barSizingMasks, source);
        var capabilities = ParseCapabilities(raw, source);
        var extended = raw.Length == ExtendedSize ? ParseExtendedCapabilities(raw, source) : [];
        return new PciConfigSpace(raw, bars, capabilities, extended);
    }

    /// <summary>The first capability of type <typeparamref name="T"/>, or null.</summary>
    public T? Find<T>()
        where T : PciCapability => Capabilities.OfType<T>().FirstOrDefault();

    /// <summary>All capabilities of type <typeparamref name="T"/> in list order.</summary>
    public IEnumerable<T> FindAll<T>()
        where T : PciCapability => Capabilities.OfType<T>();

    /// <summary>The first extended capability of type <typeparamref name="T"/>, or null.</summary>
    public T? FindExtended<T>()
        where T : PciExtendedCapability => ExtendedCapabilities.OfType<T>().FirstOrDefault();

    /// <inheritdoc />
    public override string ToString() =>
        $"[{VendorId:x4}:{DeviceId:x4}] {ClassDescription} rev {Revision:x2}, header type {HeaderType}, " +
        $"{Bars.Count} BAR(s), {Capabilities.Count} capability(ies), {ExtendedCapabilities.Count} extended";

    private static List<PciBar> ParseBars(byte[] raw, int headerType, IReadOnlyList<uint>? masks, string? source)
    {
        var count = BarRegisterCount(headerType);
        if (masks is not null && masks.Count != count)
        {
            throw new PciConfigSpaceException(
                source,
                null,
                $"header type {headerType} has {count} BAR registers, so {count} BAR sizing masks are expected, " +
                $"but {masks.Count} were given");
        }

        var bars = new List<PciBar>(count);
        for (var index = 0; index < count; index++)
        {
            var offset = FirstBarOffset + (4 * index);
            var value = U32(raw, offset);
            var mask = masks?[index];
            if (mask == 0 || (mask is null && value == 0))
            {
                // Unimplemented (sizing probe read back 0), or unassigned and indistinguishable without a probe.
                continue;
            }

            // Type bits are read-only, so they read the same in the register and in the sizing mask.
            if ((value & 0x1) != 0)
            {
                bars.Add(new PciBar(index, PciBarKind.Io, false, value & 0xFFFF_FFFC, IoSize(index, mask, source)));
                continue;
            }

            var prefetchable = (value & 0x8) != 0;
            switch ((value >> 1) & 0x3)
            {
                case 0b00:
                case 0b01: // Below 1 MiB (PCI 2.x legacy): decodes like a 32-bit BAR.
                    bars.Add(new PciBar(
                        index,
                        PciBarKind.Memory32,
                        prefetchable,
                        value & 0xFFFF_FFF0,
                        mask is { } m32 ? SizeFromMask(index, m32 & 0xFFFF_FFF0u, 0xFFFF_FFFFul, source) : null));
                    break;

                case 0b10:
                    if (index == count - 1)
                    {
                        throw new PciConfigSpaceException(
                            source,
                            offset,
                            $"BAR{index} at {Hex(offset)} is a 64-bit memory BAR but is the last BAR register " +
                            $"(header type {headerType} has {count}); its upper half has nowhere to live");
                    }

                    var high = U32(raw, offset + 4);
                    var address = ((ulong)high << 32) | (value & 0xFFFF_FFF0);
                    ulong? size = null;
                    if (mask is { } low)
                    {
                        var mask64 = ((ulong)masks![index + 1] << 32) | (low & 0xFFFF_FFF0u);
                        size = SizeFromMask(index, mask64, ulong.MaxValue, source);
                    }

                    bars.Add(new PciBar(index, PciBarKind.Memory64, prefetchable, address, size));
                    index++; // The upper half occupies the next register.
                    break;

                default:
                    throw new PciConfigSpaceException(
                        source,
                        offset,
                        $"BAR{index} at {Hex(offset)} reads 0x{value:X8}: memory type 0b11 is reserved");
            }
        }

        return bars;
    }

    private static ulong? IoSize(int index, uint? mask, string? source)
    {
        if (mask is not { } m)
        {
            return null;
        }

        // Devices that decode only 16 address bits return 0 in the upper half of the probe.
        var all = (m & 0xFFFF_0000) == 0 ? 0xFFFFul : 0xFFFF_FFFFul;
        return SizeFromMask(index, m & 0xFFFF_FFFCu, all, source);
    }

    /// <summary>size = ~mask + 1 within the decoder width given by <paramref name="all"/>.</summary>
    private static ulong SizeFromMask(int index, ulong addressMask, ulong all, string? source)
    {
        var offset = FirstBarOffset + (4 * index);
        addressMask &= all;
        if (addressMask == 0)
        {
            throw new PciConfigSpaceException(
                source,
                offset,
                $"BAR{index} at {Hex(offset)}: sizing mask has no writable address bits");
        }

        var size = (~addressMask & all) + 1;
        if ((size & (size - 1)) != 0)
        {
            throw new PciConfigSpaceException(
                source,
                offset,
                $"BAR{index} at {Hex(offset)}: sizing mask 0x{addressMask:X} has non-contiguous address bits " +
                $"(would give size 0x{size:X}, not a power of two)");
        }

        return size;
    }

    private static List<PciCapability> ParseCapabilities(byte[] raw, string? source)
    {
        var capabilities = new List<PciCapability>();
        if ((U16(raw, 0x06) & StatusCapabilityList) == 0)
        {
            return capabilities;
        }

        // The low two bits of every capability pointer are reserved; software must mask them.
        var from = CapabilityPointerOffset;
        var pointer = raw[CapabilityPointerOffset] & 0xFC;
        var visited = new HashSet<int>();
        while (pointer != 0)
        {
            if (pointer < FirstCapabilityOffset)
            {
                throw new PciConfigSpaceException(
                    source,
                    from,
                    $"capability pointer at {Hex(from)} points to {Hex(pointer)}, inside the standard header " +
                    $"(capabilities start at {Hex(FirstCapabilityOffset)})");
            }

            // Every step visits a new 4-byte aligned slot in 0x40..0xFC, so the walk ends after at most 48 entries.
            if (!visited.Add(pointer))
            {
                throw new PciConfigSpaceException(
                    source,
                    from,
                    $"capability pointer at {Hex(from)} points to {Hex(pointer)} which was already visited (loop)");
            }

            if (capabilities.Count == MaxCapabilities)
            {
                throw new PciConfigSpaceException(
                    source,
                    from,
                    $"capability list is longer than the {MaxCapabilities} entries the area 0x40..0xFF can hold");
            }

            capabilities.Add(ReadCapability(raw, pointer, source));
            from = pointer;
            pointer = raw[pointer + 1] & 0xFC;
        }

        return capabilities;
    }

    private static PciCapability ReadCapability(byte[] raw, int offset, string? source) => raw[offset] switch
    {
        PciCapability.PowerManagementId => PowerManagementCapability.Read(raw, offset, source),
        PciCapability.MsiId => MsiCapability.Read(raw, offset, source),
        PciCapability.VendorSpecificId => VendorSpecificCapability.Read(raw, offset, source),
        PciCapability.PciExpressId => PciExpressCapability.Read(raw, offset, source),
        PciCapability.MsiXId => MsiXCapability.Read(raw, offset, source),
        var id => new UnknownCapability(id, offset),
    };

    private static List<PciExtendedCapability> ParseExtendedCapabilities(byte[] raw, string? source)
    {
        var capabilities = new List<PciExtendedCapability>();
        var first = U32(raw, ConventionalSize);
        if (first is 0 or 0xFFFF_FFFF)
        {
            return capabilities;
        }

        var from = -1;
        var pointer = ConventionalSize;
        var visited = new HashSet<int>();
        while (pointer != 0)
        {
            // Every step visits a new 4-byte aligned slot in 0x100..0xFFC, so the walk ends after at most 960 entries.
            if (!visited.Add(pointer))
            {
                throw new PciConfigSpaceException(
                    source,
                    from,
                    $"extended capability pointer at {Hex(from)} points to {Hex(pointer)} which was already visited (loop)");
            }

            if (capabilities.Count == MaxExtendedCapabilities)
            {
                throw new PciConfigSpaceException(
                    source,
                    from,
                    $"extended capability list is longer than the {MaxExtendedCapabilities} entries 0x100..0xFFF can hold");
            }

            var header = U32(raw, pointer);
            capabilities.Add(ReadExtendedCapability(raw, pointer, header, source));

            // Next pointer is bits 31:20; its low two bits are reserved and masked like conventional pointers.
            var next = (int)(header >> 20) & 0xFFC;
            if (next != 0 && next < ConventionalSize)
            {
                throw new PciConfigSpaceException(
                    source,
                    pointer,
                    $"extended capability pointer at {Hex(pointer)} points to {Hex(next)}, below the extended area " +
                    $"(extended capabilities start at {Hex(ConventionalSize)})");
            }

            from = pointer;
            pointer = next;
        }

        return capabilities;
    }

    private static PciExtendedCapability ReadExtendedCapability(byte[] raw, int offset, uint header, string? source)
    {
        var id = (ushort)(header & 0xFFFF);
        var version = (byte)((header >> 16) & 0xF);
        return id switch
        {
            PciExtendedCapability.DeviceSerialNumberId => DeviceSerialNumberCapability.Read(raw, offset, version, source),
            PciExtendedCapability.VendorSpecificId => VendorSpecificExtendedCapability.Read(raw, offset, version, source),
            _ => new PciExtendedCapability(id, version, offset),
        };
    }
}
