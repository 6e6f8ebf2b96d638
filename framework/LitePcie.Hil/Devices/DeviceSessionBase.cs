using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Devices;

/// <summary>
/// The lifecycle every session shares, written once: the device-gone latch (once a session has seen its device leave, it
/// says so for good); close that runs once and is best effort (the engines the session started are stopped unless the
/// device is gone, and a device error on the way is not thrown: closing the handle stops what it owned anyway); the last
/// word (generation, gone) kept for readers after close, whose driver state may be unmapped by then; calls after close
/// refused; and the clock (<see cref="Time"/>) the channels' bounded waits run on (<see cref="HardwareCountWait"/>).
/// A backend says how to read its generation and gone flag, how to stop what it started and how to let go of the device.
/// </summary>
public abstract class DeviceSessionBase : IDeviceSession
{
    private int _gone;
    private int _closing;
    private int _closed;
    private long _lastGeneration;
    private bool _lastGone;

    /// <summary>A session timed by <paramref name="time"/> (the system clock when null).</summary>
    protected DeviceSessionBase(TimeProvider? time = null) => Time = time ?? TimeProvider.System;

    /// <summary>The clock of this session's bounded waits.</summary>
    public TimeProvider Time { get; }

    /// <inheritdoc />
    public abstract CsrMap Map { get; }

    /// <inheritdoc />
    public abstract DeviceInfo Info { get; }

    /// <inheritdoc />
    public abstract IReadOnlyList<IDmaChannel> Channels { get; }

    /// <inheritdoc />
    public long Generation => IsClosed ? Volatile.Read(ref _lastGeneration) : ReadGeneration();

    /// <inheritdoc />
    public bool IsDeviceGone =>
        Volatile.Read(ref _gone) != 0 || (IsClosed ? Volatile.Read(ref _lastGone) || GoneAfterClose() : ReadDeviceGone());

    /// <summary>Whether a call has already found the device gone (the latch alone, without asking the driver).</summary>
    protected bool GoneLatched => Volatile.Read(ref _gone) != 0;

    /// <summary>Whether the session has closed (every later call is refused).</summary>
    protected bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <inheritdoc />
    public abstract uint ReadCsr(uint barOffset);

    /// <inheritdoc />
    public abstract void WriteCsr(uint barOffset, uint value);

    /// <inheritdoc />
    public abstract PciConfigSpace ReadConfigSpace();

    /// <inheritdoc />
    public abstract uint ReadBar(int bar, ulong offset);

    /// <inheritdoc />
    public abstract void WriteBar(int bar, ulong offset, uint value);

    /// <inheritdoc />
    public abstract InterruptStatistics GetInterruptStatistics();

    /// <summary>
    /// Closes once: stops what the session started unless the device is gone (best effort), keeps the last word, refuses
    /// every later call, then lets go of the device. A second close returns at once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        bool gone = IsDeviceGone;
        try
        {
            if (!gone)
            {
                StopEngines();
            }
        }
        catch (DeviceException)
        {
            // Best effort: letting go of the device stops whatever the session owned anyway.
        }
        finally
        {
            Volatile.Write(ref _lastGeneration, ReadGeneration());
            Volatile.Write(ref _lastGone, ReadDeviceGone());
            Volatile.Write(ref _closed, 1);
            await ReleaseAsync(gone).ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Latches that the device is gone (from a call that found it gone).</summary>
    protected void LatchGone() => Volatile.Write(ref _gone, 1);

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the session has closed.</summary>
    protected void ThrowIfClosed() => ObjectDisposedException.ThrowIf(IsClosed, this);

    /// <summary>The driver's generation now (read while open, and once at close for the last word).</summary>
    protected abstract long ReadGeneration();

    /// <summary>Whether the driver or platform reports the device gone now (read while open, and once at close).</summary>
    protected abstract bool ReadDeviceGone();

    /// <summary>What still tells, after close, that the device left (a platform notification, sysfs); false by default.</summary>
    protected virtual bool GoneAfterClose() => false;

    /// <summary>Stops the engines this session started (called at close while the device is present).</summary>
    protected abstract void StopEngines();

    /// <summary>Lets go of the device: unmaps and closes the handles (<paramref name="gone"/>: the device left before close).</summary>
    protected abstract ValueTask ReleaseAsync(bool gone);
}

/// <summary>
/// The bounded wait of a channel's <see cref="IDmaChannel.WaitAsync"/>: read the counters, return when the hardware count
/// reached the target, otherwise wait one slice with the transport's own wait (which may end early on progress) and read
/// again, until the bound on <see cref="TimeProvider"/> passes (a <see cref="DeviceTimeoutException"/> naming what was
/// waited for) or the caller cancels.
/// </summary>
public static class HardwareCountWait
{
    /// <summary>Waits until <paramref name="read"/>'s hardware count reaches <paramref name="target"/>.</summary>
    /// <param name="time">The session's clock.</param>
    /// <param name="read">The counters now.</param>
    /// <param name="target">The hardware count waited for.</param>
    /// <param name="timeout">The bound.</param>
    /// <param name="slice">One transport wait of at most the time left; the counters when it saw the target reached, else null.</param>
    /// <param name="timedOut">The timeout, naming what was waited for and the counters last seen.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public static async ValueTask<DmaCounters> UntilAsync(TimeProvider time, Func<DmaCounters> read, long target, TimeSpan timeout,
        Func<TimeSpan, CancellationToken, ValueTask<DmaCounters?>> slice, Func<DmaCounters, DeviceTimeoutException> timedOut,
        CancellationToken cancellationToken)
    {
        long start = time.GetTimestamp();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var now = read();
            if (now.HwCount >= target)
            {
                return now;
            }

            var left = timeout - time.GetElapsedTime(start);
            if (left <= TimeSpan.Zero)
            {
                throw timedOut(now);
            }

            if (await slice(left, cancellationToken).ConfigureAwait(false) is { } reached)
            {
                return reached;
            }
        }
    }
}
