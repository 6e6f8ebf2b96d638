using System.Buffers.Binary;
using System.Diagnostics;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Dext;

/// <summary>
/// A device session through the LitePCIe dext's user client: CSRs, BARs and config space through the
/// method table, counters and flags read from the mapped status page, DMA rings mapped zero-copy. Used
/// unchanged by the SIL backend and the macOS backend; only the <see cref="IDextTransport"/> differs.
/// </summary>
public sealed unsafe class DextSession : DeviceSessionBase
{
    private readonly DextClient _client;
    private readonly byte* _status;
    private readonly DextDmaChannel[] _channels;

    private DextSession(DextClient client, DeviceDescriptor device, CsrMap map, LpcInfo info, DextMapping status, string driver)
    {
        _client = client;
        Map = map;
        _status = (byte*)status.Address;
        var bars = new List<BarInfo>();
        var config = ReadConfigSpaceCore();
        for (int i = 0; i < 6; i++)
        {
            ulong size = info.BarSizes[i];
            if (size == 0)
            {
                continue;
            }

            var bar = config.Bars.FirstOrDefault(b => b.Index == i);
            bars.Add(new BarInfo(i, bar?.Kind ?? PciBarKind.Memory32, bar?.Prefetchable ?? false, size));
        }

        var pcie = config.Find<PciExpressCapability>();
        Info = new DeviceInfo(
            device with { LinkSpeed = pcie?.LinkSpeed ?? device.LinkSpeed, LinkWidth = pcie?.LinkWidth ?? device.LinkWidth },
            info.Identifier.ToText(), info.Revision, info.ClassCode, config.SubsystemVendorId ?? 0, config.SubsystemId ?? 0,
            bars, (int)info.ChannelCount, new DmaRingGeometry((int)info.BufferCount, (int)info.BufferSize),
            driver, $"dext ABI {info.AbiMajor}.{info.AbiMinor}");
        _channels = [.. Enumerable.Range(0, (int)info.ChannelCount).Select(i => new DextDmaChannel(this, i))];
    }

    /// <inheritdoc />
    public override CsrMap Map { get; }

    /// <inheritdoc />
    public override DeviceInfo Info { get; }

    /// <summary>The method-table client (for tests and tools that need the raw calls).</summary>
    internal DextClient Client => _client;

    /// <inheritdoc />
    public override IReadOnlyList<IDmaChannel> Channels => _channels;

    internal ref LpcStatusHeader Header => ref *(LpcStatusHeader*)_status;

    /// <summary>Opens a session over a connected transport; checks the ABI and maps the status page.</summary>
    internal static DextSession Open(IDextTransport transport, DeviceDescriptor device, CsrMap map, string driver)
    {
        var client = new DextClient(transport);
        try
        {
            var info = client.GetInfo();
            if (info.Magic != DextAbi.InfoMagic || info.AbiMajor != DextAbi.AbiMajor)
            {
                throw new DeviceException(DeviceErrorCode.Unsupported, transport.Device,
                    $"dext ABI {info.AbiMajor}.{info.AbiMinor} (magic 0x{info.Magic:X8}) is not compatible with this framework's ABI {DextAbi.AbiMajor}.{DextAbi.AbiMinor}");
            }

            if (info.ChannelCount != map.Layout.DmaChannels.Count)
            {
                throw new DeviceException(DeviceErrorCode.Unsupported, transport.Device,
                    $"the dext drives {info.ChannelCount} DMA channels but the CSR map {map.Source} has dma_channels = {map.Layout.DmaChannels.Count}");
            }

            var status = client.Map(DextMemoryKind.Status, 0);
            if (status.Length < DextAbi.StatusPageBytes)
            {
                throw new DeviceException(DeviceErrorCode.IoError, transport.Device, $"status page mapping is {status.Length} bytes, expected {DextAbi.StatusPageBytes}");
            }

            return new DextSession(client, device, map, info, status, driver);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public override uint ReadCsr(uint barOffset) => _client.CsrRead32(barOffset);

    /// <inheritdoc />
    public override void WriteCsr(uint barOffset, uint value) => _client.CsrWrite32(barOffset, value);

    /// <inheritdoc />
    public override uint ReadBar(int bar, ulong offset) => _client.BarRead32((ulong)bar, offset);

    /// <inheritdoc />
    public override void WriteBar(int bar, ulong offset, uint value) => _client.BarWrite32((ulong)bar, offset, value);

    /// <inheritdoc />
    public override PciConfigSpace ReadConfigSpace() => ReadConfigSpaceCore();

    /// <inheritdoc />
    public override InterruptStatistics GetInterruptStatistics()
    {
        var perSource = new Dictionary<int, long>();
        foreach (var ch in Map.Layout.DmaChannels)
        {
            foreach (var d in DmaDirectionExtensions.All)
            {
                perSource[ch.Interrupt(d)] = (long)Volatile.Read(ref DirStatus(ch.Index, d).IrqCount);
            }
        }

        return new InterruptStatistics((long)Volatile.Read(ref Header.MsiCount), (long)Volatile.Read(ref Header.SpuriousCount), perSource);
    }

    /// <summary>The dext's generation, from the status page.</summary>
    protected override long ReadGeneration() => (long)Volatile.Read(ref Header.Generation);

    /// <summary>The dext's device-gone flag (latched by the core on all-ones reads with a dead config space).</summary>
    protected override bool ReadDeviceGone() => (Volatile.Read(ref Header.Flags) & DextAbi.FlagDeviceGone) != 0;

    /// <summary>Stops every running direction (the status page says which).</summary>
    protected override void StopEngines()
    {
        foreach (var ch in _channels)
        {
            foreach (var d in DmaDirectionExtensions.All)
            {
                if (ch.GetCounters(d).Running)
                {
                    ch.Stop(d);
                }
            }
        }
    }

    /// <summary>Closes the user client; the status page goes with it (its last word is kept by the base).</summary>
    protected override ValueTask ReleaseAsync(bool gone)
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    internal ref LpcDirStatus DirStatus(int channel, DmaDirection direction) =>
        ref *(LpcDirStatus*)(_status + DextAbi.DirStatusOffset(channel, direction));

    internal DextMapping MapRing(int channel, DmaDirection direction) =>
        _client.Map(direction == DmaDirection.Writer ? DextMemoryKind.WriterRing : DextMemoryKind.ReaderRing, channel);

    internal void ThrowIfDisposed() => ThrowIfClosed();

    /// <summary>Converts a dext timestamp (monotonic ns) to a Stopwatch timestamp.</summary>
    internal static long ToStopwatchTicks(ulong nanoseconds) =>
        nanoseconds == 0 ? 0 : (long)(nanoseconds * (double)Stopwatch.Frequency / 1e9);

    private PciConfigSpace ReadConfigSpaceCore()
    {
        byte[] image = new byte[4096];
        for (int off = 0; off < image.Length; off += 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(off), _client.ConfigRead32((ulong)off));
        }

        return PciConfigSpace.Parse(image, source: _client.Device);
    }
}
