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
internal sealed class MacOSSession : IDeviceSession
{
    private readonly DextSession _inner;
    private readonly IOKitTransport _transport;
    private readonly MacOSDmaChannel[] _channels;
    private long _generationAtClose;
    private bool _goneAtClose;
    private int _closed;

    public MacOSSession(DextSession inner, IOKitTransport transport)
    {
        _inner = inner;
        _transport = transport;
        _channels = [.. inner.Channels.Select(c => new MacOSDmaChannel(this, c))];
    }

    /// <summary>The dext session (raw method table, status-page flags).</summary>
    public DextSession Dext => _inner;

    /// <summary>The IOKit transport.</summary>
    public IOKitTransport Transport => _transport;

    public CsrMap Map => _inner.Map;

    public DeviceInfo Info => _inner.Info;

    public long Generation => IsClosed ? Volatile.Read(ref _generationAtClose) : _inner.Generation;

    public bool IsDeviceGone => _transport.IsTerminated || (IsClosed ? Volatile.Read(ref _goneAtClose) : _inner.IsDeviceGone);

    public IReadOnlyList<IDmaChannel> Channels => _channels;

    internal bool IsClosed => Volatile.Read(ref _closed) != 0;

    public uint ReadCsr(uint barOffset)
    {
        ThrowIfClosed();
        return _inner.ReadCsr(barOffset);
    }

    public void WriteCsr(uint barOffset, uint value)
    {
        ThrowIfClosed();
        _inner.WriteCsr(barOffset, value);
    }

    public PciConfigSpace ReadConfigSpace()
    {
        ThrowIfClosed();
        return _inner.ReadConfigSpace();
    }

    public uint ReadBar(int bar, ulong offset)
    {
        ThrowIfClosed();
        return _inner.ReadBar(bar, offset);
    }

    public void WriteBar(int bar, ulong offset, uint value)
    {
        ThrowIfClosed();
        _inner.WriteBar(bar, offset, value);
    }

    public InterruptStatistics GetInterruptStatistics()
    {
        ThrowIfClosed();
        return _inner.GetInterruptStatistics();
    }

    public async ValueTask DisposeAsync()
    {
        if (IsClosed)
        {
            return;
        }

        Volatile.Write(ref _generationAtClose, _inner.Generation);
        Volatile.Write(ref _goneAtClose, _inner.IsDeviceGone);
        Volatile.Write(ref _closed, 1);
        await _inner.DisposeAsync().ConfigureAwait(false);
    }

    internal void ThrowIfClosed() => ObjectDisposedException.ThrowIf(IsClosed, this);
}

/// <summary>A dext DMA channel that refuses status-page reads once its session closed (the page is unmapped then).</summary>
internal sealed class MacOSDmaChannel(MacOSSession session, IDmaChannel inner) : IDmaChannel
{
    public int Index => inner.Index;

    public DmaChannelLayout Layout => inner.Layout;

    public DmaRingGeometry Geometry => inner.Geometry;

    public void Start(DmaDirection direction, DmaStartOptions options)
    {
        session.ThrowIfClosed();
        inner.Start(direction, options);
    }

    public void Stop(DmaDirection direction)
    {
        session.ThrowIfClosed();
        inner.Stop(direction);
    }

    public void SetLoopback(bool enabled)
    {
        session.ThrowIfClosed();
        inner.SetLoopback(enabled);
    }

    public DmaCounters GetCounters(DmaDirection direction)
    {
        session.ThrowIfClosed();
        return inner.GetCounters(direction);
    }

    public long UpdateSwCount(DmaDirection direction, long swCount)
    {
        session.ThrowIfClosed();
        return inner.UpdateSwCount(direction, swCount);
    }

    public ValueTask<DmaCounters> WaitAsync(DmaDirection direction, long targetHwCount, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        session.ThrowIfClosed();
        return inner.WaitAsync(direction, targetHwCount, timeout, cancellationToken);
    }

    public IDmaRing Ring(DmaDirection direction)
    {
        session.ThrowIfClosed();
        return inner.Ring(direction);
    }
}
