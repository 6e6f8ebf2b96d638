using System.Buffers.Binary;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.Simulation.Sil;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>
/// The dext's user client as the fake IOKit sees it, routed into the real dext core through the SIL: every
/// IOConnectCallMethod reaches <see cref="SilDevice.Call"/>, async completions come back from the core's
/// CompleteAsync, and IOConnectMapMemory64's memory type is decoded into the core's CopyClientMemoryForType.
/// </summary>
internal sealed class SilUserClient(SilDevice device, uint client) : IFakeUserClient
{
    /// <summary>NewUserClient on the SIL device.</summary>
    public static (int Status, IFakeUserClient? Client) Open(SilDevice device, uint type)
    {
        if (type != 0)
        {
            return (IOReturn.BadArgument, null); // the dext accepts only IOServiceOpen type 0
        }

        int status = device.OpenClient(out uint client);
        return status == IOReturn.Success ? (status, new SilUserClient(device, client)) : (status, null);
    }

    public int Call(uint selector, ReadOnlySpan<ulong> input, ReadOnlySpan<byte> inputStruct, Span<ulong> output, ref uint outputCount,
        Span<byte> outputStruct, ref nuint outputStructSize)
    {
        int status = device.Call(client, (DextSelector)selector, input, inputStruct, output, outputStruct, out int written);
        outputStructSize = (nuint)written;
        return status;
    }

    public int CallAsync(uint selector, ReadOnlySpan<ulong> input, Action<int, ulong[]> complete)
    {
        int status = device.CallAsync(client, (DextSelector)selector, input, out var completion);
        if (status == IOReturn.Success)
        {
            completion.ContinueWith(t => complete(t.Result.Status, [t.Result.HwCount, t.Result.Lost]), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return status;
    }

    public int Map(uint memoryType, out ulong address, out ulong size)
    {
        int status = device.Map(client, (DextMemoryKind)(memoryType >> 8), (int)(memoryType & 0xFF), out var mapping);
        address = (ulong)mapping.Address;
        size = (ulong)mapping.Length;
        return status;
    }

    public void Close() => device.CloseClient(client);
}

/// <summary>A user client that answers every call with a fixed status (for error mapping).</summary>
internal sealed class RefusingUserClient(int status) : IFakeUserClient
{
    public int Call(uint selector, ReadOnlySpan<ulong> input, ReadOnlySpan<byte> inputStruct, Span<ulong> output, ref uint outputCount,
        Span<byte> outputStruct, ref nuint outputStructSize) => status;

    public int CallAsync(uint selector, ReadOnlySpan<ulong> input, Action<int, ulong[]> complete) => status;

    public int Map(uint memoryType, out ulong address, out ulong size)
    {
        address = 0;
        size = 0;
        return status;
    }

    public void Close()
    {
    }
}

/// <summary>Builds the IORegistry of a Mac with the LitePCIe dext on a board: an IOPCIDevice and the dext's IOUserService under it.</summary>
internal static class FakeDext
{
    public static readonly string[] PciClasses = ["IOPCIDevice", "IOService"];
    public static readonly string[] ServiceClasses = ["IOUserService", "IOService"];

    /// <summary>The 4-byte little-endian CFData IOPCIFamily publishes for IDs.</summary>
    public static byte[] Le32(uint value)
    {
        byte[] b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return b;
    }

    /// <summary>The provider's PCI properties for a board profile.</summary>
    public static Dictionary<string, object> PciProperties(BoardProfile profile, string pcidebug) => new(StringComparer.Ordinal)
    {
        ["vendor-id"] = Le32(profile.VendorId),
        ["device-id"] = Le32(profile.DeviceId),
        ["revision-id"] = Le32(profile.Revision),
        ["class-code"] = Le32(profile.ClassCode),
        ["subsystem-vendor-id"] = Le32(profile.SubsystemVendorId),
        ["subsystem-id"] = Le32(profile.SubsystemId),
        ["pcidebug"] = pcidebug,
        ["IOPCIExpressLinkStatus"] = (long)(((uint)profile.LinkWidth << 4) | (uint)profile.LinkSpeed),
        ["IOPCIExpressLinkCapabilities"] = (long)(((uint)profile.LinkWidth << 4) | (uint)profile.LinkSpeed),
    };

    /// <summary>What LitePCIeDriver::PublishProperties sets (in IOUserServiceProperties).</summary>
    public static Dictionary<string, object> Published(BoardProfile profile, uint abiVersion = (DextAbi.AbiMajor << 16) | DextAbi.AbiMinor) => new(StringComparer.Ordinal)
    {
        ["AbiVersion"] = abiVersion,
        ["ChannelCount"] = (uint)profile.CsrMap.Layout.DmaChannels.Count,
        ["BufferCount"] = (uint)profile.DmaGeometry.BufferCount,
        ["BufferSize"] = (uint)profile.DmaGeometry.BufferSize,
        ["Bar0Size"] = profile.CsrBar.Size,
        ["DmaAddressWidth"] = 64u,
        ["MsiFlavour"] = 0u,
        ["InterruptVectors"] = 1u,
        ["Identifier"] = profile.CsrMap.Identifier ?? "",
        ["IdentifierMatches"] = true,
    };

    /// <summary>The dext service's own properties (personality keys plus the published dictionary).</summary>
    public static Dictionary<string, object> ServiceProperties(Dictionary<string, object> published) => new(StringComparer.Ordinal)
    {
        ["IOClass"] = "IOUserService",
        ["IOUserClass"] = MacOSBackend.DriverClass,
        ["IOUserServerName"] = "org.litepcie.hil.installer.LitePCIeDriver",
        ["CFBundleIdentifier"] = "org.litepcie.hil.installer.LitePCIeDriver",
        ["IOUserServiceProperties"] = published,
    };

    /// <summary>Publishes a SIL board behind the fake dext: a session opened on it runs the real core.</summary>
    public static FakeService PublishSil(FakeIOKit io, SilSlot slot, uint abiVersion = (DextAbi.AbiMajor << 16) | DextAbi.AbiMinor)
    {
        string pcidebug = $"{slot.Index + 1}:0:0";
        var pci = io.Publish(PciClasses, PciProperties(slot.Profile, pcidebug));
        return io.Publish(ServiceClasses, ServiceProperties(Published(slot.Profile, abiVersion)), pci,
            type => SilUserClient.Open(slot.Driver, type));
    }

    /// <summary>Publishes a board whose user client answers <paramref name="openStatus"/> to IOServiceOpen (or every call with <paramref name="callStatus"/>).</summary>
    public static FakeService PublishRefusing(FakeIOKit io, BoardProfile profile, string pcidebug, int openStatus, int callStatus = IOReturn.Success) =>
        io.Publish(ServiceClasses, ServiceProperties(Published(profile)), io.Publish(PciClasses, PciProperties(profile, pcidebug)),
            _ => openStatus != IOReturn.Success ? (openStatus, null) : (IOReturn.Success, new RefusingUserClient(callStatus)));
}
