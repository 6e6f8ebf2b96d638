using System.Globalization;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS.IOKit;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.MacOS;

/// <summary>
/// One LitePCIeDriver service as the IORegistry shows it: what the dext published with SetProperties (in the
/// service's <c>IOUserServiceProperties</c> dictionary) and the PCI facts of its provider <c>IOPCIDevice</c>.
/// A property the registry did not have is null.
/// </summary>
/// <param name="RegistryEntryId">The service's registry entry ID (new on every attach).</param>
/// <param name="Address">
/// The device address used by the backend: the PCI location as a Linux-style BDF (<c>0000:bb:dd.f</c>, hex) built
/// from the provider's <c>pcidebug</c> (<c>"bus:dev:fn"</c>, decimal), stable across detach/attach and sleep; or
/// <c>registry:0x…</c> (the entry ID) when the provider has no <c>pcidebug</c>.
/// </param>
/// <param name="Location">The provider's raw <c>pcidebug</c> string.</param>
/// <param name="VendorId">Provider <c>vendor-id</c>.</param>
/// <param name="DeviceId">Provider <c>device-id</c>.</param>
/// <param name="Revision">Provider <c>revision-id</c>.</param>
/// <param name="ClassCode">Provider <c>class-code</c> (24 bits).</param>
/// <param name="LinkSpeed">From <c>IOPCIExpressLinkStatus</c> (the Link Status register: speed in bits 3:0).</param>
/// <param name="LinkWidth">From <c>IOPCIExpressLinkStatus</c> (negotiated width in bits 9:4).</param>
/// <param name="AbiVersion"><c>AbiVersion</c>: <c>(major &lt;&lt; 16) | minor</c>.</param>
/// <param name="ChannelCount"><c>ChannelCount</c>.</param>
/// <param name="BufferCount"><c>BufferCount</c>.</param>
/// <param name="BufferSize"><c>BufferSize</c>.</param>
/// <param name="Bar0Size"><c>Bar0Size</c>.</param>
/// <param name="DmaAddressWidth"><c>DmaAddressWidth</c>.</param>
/// <param name="MsiFlavour"><c>MsiFlavour</c>.</param>
/// <param name="InterruptVectors"><c>InterruptVectors</c>.</param>
/// <param name="Identifier"><c>Identifier</c>: the config_identifier the dext was built for.</param>
/// <param name="IdentifierMatches"><c>IdentifierMatches</c>: whether the board's identifier ROM matched it at Start.</param>
public sealed record MacOSDextService(
    ulong RegistryEntryId,
    string Address,
    string? Location,
    ushort VendorId,
    ushort DeviceId,
    byte Revision,
    uint ClassCode,
    PciLinkSpeed LinkSpeed,
    int LinkWidth,
    uint? AbiVersion,
    int? ChannelCount,
    int? BufferCount,
    int? BufferSize,
    ulong? Bar0Size,
    int? DmaAddressWidth,
    int? MsiFlavour,
    int? InterruptVectors,
    string? Identifier,
    bool? IdentifierMatches)
{
    /// <summary>The dext's ABI major version, when published.</summary>
    public int? AbiMajor => AbiVersion is { } v ? (int)(v >> 16) : null;

    /// <summary>The dext's ABI minor version, when published.</summary>
    public int? AbiMinor => AbiVersion is { } v ? (int)(v & 0xFFFF) : null;

    /// <summary>Whether the published ABI can be spoken by this framework (unknown counts as compatible: GetInfo checks again at open).</summary>
    public bool AbiCompatible => AbiMajor is null || AbiMajor == DextAbi.AbiMajor;

    /// <summary>Why this dext cannot be used by this framework (null when its ABI is compatible or unknown).</summary>
    public string? AbiMismatch => AbiCompatible
        ? null
        : $"AbiVersion {AbiMajor}.{AbiMinor} of the dext does not match the framework's {DextAbi.AbiMajor}.x " +
          $"(this framework speaks ABI {DextAbi.AbiMajor}.{DextAbi.AbiMinor}): rebuild and reinstall the dext from this checkout";

    /// <summary>
    /// The Linux-style address of a <c>pcidebug</c> location (<c>"3:0:5"</c> → <c>0000:03:00.5</c>); null when it is not
    /// <c>bus:dev:fn</c> (decimal; a <c>.</c> before the function and trailing text such as a bridge's bus range are accepted).
    /// </summary>
    public static string? AddressOfLocation(string? location)
    {
        if (string.IsNullOrWhiteSpace(location))
        {
            return null;
        }

        var text = location.AsSpan().Trim();
        int end = 0;
        while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] is ':' or '.'))
        {
            end++;
        }

        var parts = text[..end].ToString().Split(':', '.');
        if (parts.Length != 3
            || !byte.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out byte bus)
            || !byte.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out byte dev) || dev > 31
            || !byte.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out byte fn) || fn > 7)
        {
            return null;
        }

        return new PciAddress(0, bus, dev, fn).ToString();
    }

    /// <summary>The address used when the provider has no usable <c>pcidebug</c>.</summary>
    public static string AddressOfEntry(ulong registryEntryId) => $"registry:0x{registryEntryId:x}";

    /// <summary>Reads one service (the caller keeps ownership of <paramref name="service"/>). Every CF copy is released.</summary>
    internal static MacOSDextService Read(IIOKit io, uint service)
    {
        io.IORegistryEntryGetRegistryEntryID(service, out ulong entryId);

        // The dext's own properties: SetProperties lands in IOUserServiceProperties (xnu IOService::SetProperties_Impl);
        // newer kernels also answer a top-level lookup from there, so fall back to that when the dictionary is absent.
        using var published = CoreFoundation.CopyProperty(io, service, "IOUserServiceProperties");
        bool hasDictionary = CoreFoundation.IsDictionary(io, published.Handle);

        T? Dext<T>(string key, Func<IIOKit, nint, T?> convert)
        {
            if (hasDictionary)
            {
                return convert(io, CoreFoundation.GetValue(io, published.Handle, key));
            }

            using var own = CoreFoundation.CopyProperty(io, service, key);
            return convert(io, own.Handle);
        }

        int? Int(string key) => Dext(key, CoreFoundation.GetInt64) is { } v and >= int.MinValue and <= int.MaxValue ? (int)v : null;

        string? location = CoreFoundation.SearchParents(io, service, "pcidebug", CoreFoundation.GetString);
        uint? vendor = CoreFoundation.SearchParents(io, service, "vendor-id", CoreFoundation.GetUInt32);
        uint? device = CoreFoundation.SearchParents(io, service, "device-id", CoreFoundation.GetUInt32);
        uint? revision = CoreFoundation.SearchParents(io, service, "revision-id", CoreFoundation.GetUInt32);
        uint? classCode = CoreFoundation.SearchParents(io, service, "class-code", CoreFoundation.GetUInt32);
        long? linkStatus = CoreFoundation.SearchParents(io, service, "IOPCIExpressLinkStatus", CoreFoundation.GetInt64);
        var (speed, width) = DecodeLinkStatus(linkStatus);

        return new MacOSDextService(
            entryId,
            AddressOfLocation(location) ?? AddressOfEntry(entryId),
            location,
            (ushort)(vendor ?? 0),
            (ushort)(device ?? 0),
            (byte)(revision ?? 0),
            (classCode ?? 0) & 0xFF_FFFF,
            speed,
            width,
            Dext("AbiVersion", CoreFoundation.GetInt64) is { } abi ? unchecked((uint)abi) : null,
            Int("ChannelCount"),
            Int("BufferCount"),
            Int("BufferSize"),
            Dext("Bar0Size", CoreFoundation.GetInt64) is { } bar0 ? unchecked((ulong)bar0) : null,
            Int("DmaAddressWidth"),
            Int("MsiFlavour"),
            Int("InterruptVectors"),
            Dext("Identifier", CoreFoundation.GetString),
            Dext("IdentifierMatches", CoreFoundation.GetBoolean));
    }

    /// <summary>Link speed and width from a PCIe Link Status register value (0 or absent: unknown).</summary>
    public static (PciLinkSpeed Speed, int Width) DecodeLinkStatus(long? linkStatus)
    {
        if (linkStatus is not { } status || status == 0)
        {
            return (PciLinkSpeed.Unknown, 0);
        }

        int speed = (int)(status & 0xF);
        int width = (int)((status >> 4) & 0x3F);
        return (speed is >= 1 and <= 6 ? (PciLinkSpeed)speed : PciLinkSpeed.Unknown, width);
    }
}
