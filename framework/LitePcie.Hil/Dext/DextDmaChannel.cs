using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;

namespace LitePcie.Hil.Dext;

/// <summary>A DMA channel through the dext: control by method calls, counters from the status page.</summary>
internal sealed class DextDmaChannel : IDmaChannel
{
    /// <summary>Longest single dext wait: long waits are split so cancellation is noticed within this bound.</summary>
    private const uint WaitSliceMilliseconds = 500;

    private readonly DextSession _session;
    private readonly DextRing?[] _rings = new DextRing?[2];

    public DextDmaChannel(DextSession session, int index)
    {
        _session = session;
        Index = index;
        Layout = session.Map.Layout.DmaChannels[index];
    }

    public int Index { get; }

    public DmaChannelLayout Layout { get; }

    public DmaRingGeometry Geometry => _session.Info.DmaGeometry;

    /// <summary>The dext accepts every valid option and counts interrupts per source.</summary>
    public DmaCapabilities Capabilities => DmaCapabilities.Full;

    private string Device => _session.Info.Device.Address;

    public void Start(DmaDirection direction, DmaStartOptions options)
    {
        _session.ThrowIfDisposed();
        ulong flags = options.InterruptsMasked ? DextAbi.StartIrqMasked : 0;
        _session.Client.DmaStart((ulong)Index, (ulong)direction, (ulong)options.IrqEvery, flags);
    }

    public void Stop(DmaDirection direction)
    {
        _session.ThrowIfDisposed();
        _session.Client.DmaStop((ulong)Index, (ulong)direction);
    }

    public void SetLoopback(bool enabled)
    {
        _session.ThrowIfDisposed();
        _session.Client.SetLoopback((ulong)Index, enabled ? 1UL : 0UL);
    }

    public DmaCounters GetCounters(DmaDirection direction)
    {
        _session.ThrowIfDisposed(); // the status page is unmapped with the client: never read it after close
        ref var s = ref _session.DirStatus(Index, direction);
        long hw = (long)Volatile.Read(ref s.HwCount);
        return new DmaCounters(hw, (long)Volatile.Read(ref s.ClientAck), (long)Volatile.Read(ref s.LostCount),
            Volatile.Read(ref s.Running) != 0, (long)Volatile.Read(ref s.IrqCount), DextSession.ToStopwatchTicks(Volatile.Read(ref s.LastIrqTime)));
    }

    public long UpdateSwCount(DmaDirection direction, long swCount)
    {
        _session.ThrowIfDisposed();
        return (long)_session.Client.UpdateSwCount((ulong)Index, (ulong)direction, unchecked((ulong)swCount));
    }

    /// <summary>The bounded wait, in dext waits (WaitBuffers) of at most <see cref="WaitSliceMilliseconds"/> each.</summary>
    public async ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        _session.ThrowIfDisposed();
        return await HardwareCountWait.UntilAsync(_session.Time, () => GetCounters(direction), targetHwCount, timeout,
            async (remaining, ct) =>
            {
                uint slice = (uint)Math.Clamp(Math.Ceiling(remaining.TotalMilliseconds), 1, WaitSliceMilliseconds);
                var result = await _session.Client.WaitBuffersAsync((ulong)Index, (ulong)direction, (ulong)targetHwCount, slice)
                    .WaitAsync(TimeSpan.FromMilliseconds(slice + 5000), _session.Time, ct).ConfigureAwait(false);
                return result.Status switch
                {
                    IOReturn.Success => GetCounters(direction),
                    IOReturn.Timeout => null, // one slice elapsed; re-check the overall bound and cancellation
                    _ => throw DextClient.ToException(Device, DextSelector.WaitBuffers, result.Status,
                        result.Status == IOReturn.Aborted
                            ? $"wait for pcie_dma{Index} {direction.Describe()} aborted (stop, close or power transition; generation now {_session.Generation})"
                            : $"wait for pcie_dma{Index} {direction.Describe()} ended at hardware count {result.HwCount}"),
                };
            },
            now => new DeviceTimeoutException(Device,
                $"pcie_dma{Index} {direction.Describe()} hardware count ≥ {targetHwCount} (reached {now.HwCount}, running {now.Running}, {now.Interrupts} interrupts)",
                timeout),
            cancellationToken).ConfigureAwait(false);
    }

    public IDmaRing Ring(DmaDirection direction)
    {
        _session.ThrowIfDisposed();
        return _rings[(int)direction] ??= new DextRing(_session.MapRing(Index, direction), Geometry, direction, Device);
    }
}

/// <summary>A ring mapped from the dext into this process.</summary>
internal sealed unsafe class DextRing : IDmaRing
{
    private readonly byte* _base;
    private readonly bool _readOnly;
    private readonly string _device;

    internal DextRing(DextMapping mapping, DmaRingGeometry geometry, DmaDirection direction, string device)
    {
        if (mapping.Length < geometry.RingBytes)
        {
            throw new DeviceException(DeviceErrorCode.IoError, device,
                $"{direction.Describe()} ring mapping is {mapping.Length} bytes, expected {geometry.RingBytes} ({geometry.BufferCount} × {geometry.BufferSize})");
        }

        _base = (byte*)mapping.Address;
        _readOnly = mapping.ReadOnly;
        _device = device;
        Geometry = geometry;
        Direction = direction;
    }

    public DmaRingGeometry Geometry { get; }

    public DmaDirection Direction { get; }

    public ReadOnlySpan<byte> Read(long bufferIndex) => new(Slot(bufferIndex), Geometry.BufferSize);

    public Span<byte> Write(long bufferIndex)
    {
        if (_readOnly)
        {
            throw new DeviceException(DeviceErrorCode.NotPermitted, _device, $"the {Direction.Describe()} ring is mapped read-only");
        }

        return new Span<byte>(Slot(bufferIndex), Geometry.BufferSize);
    }

    private byte* Slot(long bufferIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bufferIndex);
        return _base + bufferIndex % Geometry.BufferCount * Geometry.BufferSize;
    }
}
