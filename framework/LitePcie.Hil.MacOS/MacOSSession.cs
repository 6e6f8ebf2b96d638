using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.MacOS;

/// <summary>
/// A <see cref="DextSession"/> over an <see cref="IOKitTransport"/>, with what IOKit adds: the device is gone as soon
/// as the service's termination is notified (not only when the dext latched all-ones reads), and nothing reads the
/// status page once the session closed, because on macOS closing unmaps it (a read would fault the process).
/// </summary>
internal sealed class MacOSSession : DeviceSessionBase
{
    private readonly DextSession _inner;
    private readonly IOKitTransport _transport;
    private readonly MacOSDmaChannel[] _channels;

    internal MacOSSession(DextSession inner, IOKitTransport transport)
    {
        _inner = inner;
        _transport = transport;
        _channels = [.. inner.Channels.Select(c => new MacOSDmaChannel(this, c))];
    }

    /// <summary>The dext session (raw method table, status-page flags).</summary>
    public DextSession Dext => _inner;

    /// <summary>The IOKit transport.</summary>
    internal IOKitTransport Transport => _transport;

    public override CsrMap Map => _inner.Map;

    public override DeviceInfo Info => _inner.Info;

    public override IReadOnlyList<IDmaChannel> Channels => _channels;

    public override uint ReadCsr(uint barOffset)
    {
        ThrowIfClosed();
        return _inner.ReadCsr(barOffset);
    }

    public override void WriteCsr(uint barOffset, uint value)
    {
        ThrowIfClosed();
        _inner.WriteCsr(barOffset, value);
    }

    public override PciConfigSpace ReadConfigSpace()
    {
        ThrowIfClosed();
        return _inner.ReadConfigSpace();
    }

    public override uint ReadBar(int bar, ulong offset)
    {
        ThrowIfClosed();
        return _inner.ReadBar(bar, offset);
    }

    public override void WriteBar(int bar, ulong offset, uint value)
    {
        ThrowIfClosed();
        _inner.WriteBar(bar, offset, value);
    }

    public override InterruptStatistics GetInterruptStatistics()
    {
        ThrowIfClosed();
        return _inner.GetInterruptStatistics();
    }

    /// <summary>The dext's generation (from the status page, which closing unmaps: the base keeps its last word).</summary>
    protected override long ReadGeneration() => _inner.Generation;

    /// <summary>Gone as soon as the service's termination is notified, or when the dext latched it.</summary>
    protected override bool ReadDeviceGone() => _transport.IsTerminated || _inner.IsDeviceGone;

    /// <summary>The termination notification still tells after close.</summary>
    protected override bool GoneAfterClose() => _transport.IsTerminated;

    /// <summary>Nothing here: the dext session stops what it started when it closes (<see cref="ReleaseAsync"/>).</summary>
    protected override void StopEngines()
    {
    }

    /// <summary>Closes the dext session (it stops its engines unless the dext says the device is gone, then closes the client).</summary>
    protected override ValueTask ReleaseAsync(bool gone) => _inner.DisposeAsync();

    /// <summary>Refuses a channel call once the session closed (the status page is unmapped then).</summary>
    internal void EnsureOpen() => ThrowIfClosed();
}

/// <summary>A dext DMA channel that refuses status-page reads once its session closed (the page is unmapped then).</summary>
internal sealed class MacOSDmaChannel(MacOSSession session, IDmaChannel inner) : IDmaChannel
{
    public int Index => inner.Index;

    public DmaChannelLayout Layout => inner.Layout;

    public DmaRingGeometry Geometry => inner.Geometry;

    public DmaCapabilities Capabilities => inner.Capabilities;

    public void Start(DmaDirection direction, DmaStartOptions options)
    {
        session.EnsureOpen();
        inner.Start(direction, options);
    }

    public void Stop(DmaDirection direction)
    {
        session.EnsureOpen();
        inner.Stop(direction);
    }

    public void SetLoopback(bool enabled)
    {
        session.EnsureOpen();
        inner.SetLoopback(enabled);
    }

    public DmaCounters GetCounters(DmaDirection direction)
    {
        session.EnsureOpen();
        return inner.GetCounters(direction);
    }

    public long UpdateSwCount(DmaDirection direction, long swCount)
    {
        session.EnsureOpen();
        return inner.UpdateSwCount(direction, swCount);
    }

    public ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        session.EnsureOpen();
        return inner.WaitAsync(direction, targetHwCount, timeout, cancellationToken);
    }

    public IDmaRing Ring(DmaDirection direction)
    {
        session.EnsureOpen();
        return inner.Ring(direction);
    }
}
