using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.DeviceServer;

/// <summary>
/// Couples the board to the guest it serves (a declared difference from the hardware, for emulated guests only):
/// an engine may run at most <see cref="Lead"/> buffers ahead of what the guest's driver last saw of it, i.e. of
/// its completed count when the driver last read the engine's <c>loop_status</c> (litepcie.ko's interrupt handler
/// reads it on every MSI). A real board never waits for software; a real host is also never stopped for hundreds of
/// milliseconds, which a guest under TCG on a loaded machine is. Without this, a stalled guest comes back to find its
/// rings overwritten many times over and the upstream tools report data errors that no real system would produce.
/// While the guest runs, the board keeps its hardware behaviour (loop mode, no waiting on buffers) within the lead.
/// The model holds an engine before its next descriptor; the RTL engine, which cannot hold one engine, stops its clock
/// while any engine is held. Declared as <c>guest-pacing</c> in <see cref="DeclaredDifferences.OfTheBoard"/>.
/// <para>
/// The interrupt handler's reads say the guest's kernel runs, not that the software consuming the ring keeps up: a
/// zero-copy consumer in the guest's user space (our streamer under TCG: 5.5 MiB/s at best on this host, measured) is
/// lapped while the kernel happily takes every interrupt. Software that reads an engine's <c>enable</c> register — our
/// Linux backend does before every counter read, so that the ioctl sends the engine's own state back — shows the board
/// when it looks at that engine's counts (and when it starts one). While such a read is recent (within
/// <see cref="ConsumerMaxHold"/>), the engine is coupled to those reads instead, with half the lead (the consumer knows
/// the counts only as the driver's interrupt handler folded them, up to 32 buffers late, and consumes between two looks:
/// two half-leads and that lag stay under a ring); a new table counts from the consumer's look at 0. Software that polls
/// without consuming still sees the hardware overwrite its ring (each look moves the window); a consumer that stops
/// looking hands the engine back to the driver's coupling after <see cref="ConsumerMaxHold"/>.
/// </para>
/// </summary>
public sealed class GuestPacing : IHostFlowControl
{
    private readonly long[] _seen;
    private readonly long[] _latest;
    private readonly long[] _heldSince;
    private readonly long _maxHoldTicks;
    private readonly Dictionary<uint, int> _loopStatusOffsets = [];
    private readonly Dictionary<uint, int> _enableOffsets = [];
    private readonly long[] _consumerSeen;
    private readonly long[] _consumerLook;
    private readonly long _consumerMaxHoldTicks;
    private readonly long _silentMaxHoldTicks;
    private long _lastGuestRead;

    /// <summary>Creates the coupling for a board's DMA channels.</summary>
    /// <param name="map">The board's CSR map (its DMA channels' loop_status and enable registers).</param>
    /// <param name="lead">Buffers an engine may run ahead of the driver's last look (1 or more).</param>
    /// <param name="maxHold">How long a hold lasts while the guest runs without looking at the engine (250 ms).</param>
    /// <param name="consumerMaxHold">How long a consumer's look keeps the engine coupled to it (<see cref="ConsumerMaxHold"/>).</param>
    /// <param name="silentMaxHold">How long a hold lasts while the guest reads no register at all (<see cref="SilentMaxHold"/>).</param>
    public GuestPacing(CsrMap map, int lead, TimeSpan? maxHold = null, TimeSpan? consumerMaxHold = null, TimeSpan? silentMaxHold = null)
    {
        if (lead < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(lead), lead, "accepted 1 or more buffers");
        }

        Lead = lead;
        int channels = map.Layout.DmaChannels.Count;
        _seen = new long[channels * 2];
        _latest = new long[channels * 2];
        _heldSince = new long[channels * 2];
        _consumerSeen = new long[channels * 2];
        _consumerLook = new long[channels * 2];
        _maxHoldTicks = Ticks(maxHold ?? TimeSpan.FromMilliseconds(250));
        _consumerMaxHoldTicks = Ticks(consumerMaxHold ?? ConsumerMaxHold);
        _silentMaxHoldTicks = Ticks(silentMaxHold ?? SilentMaxHold);
        for (int c = 0; c < channels; c++)
        {
            var dma = map.Layout.DmaChannels[c];
            _loopStatusOffsets[map.BarOffsetOf(dma.Writer.LoopStatus)] = Slot(c, DmaDirection.Writer);
            _loopStatusOffsets[map.BarOffsetOf(dma.Reader.LoopStatus)] = Slot(c, DmaDirection.Reader);
            _enableOffsets[map.BarOffsetOf(dma.Writer.Enable)] = Slot(c, DmaDirection.Writer);
            _enableOffsets[map.BarOffsetOf(dma.Reader.Enable)] = Slot(c, DmaDirection.Reader);
        }
    }

    /// <summary>How long a consumer's look keeps the engine coupled to it.</summary>
    public static TimeSpan ConsumerMaxHold { get; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a hold lasts while the guest reads no register of the board at all: a guest starved by its host (TCG on a
    /// loaded machine) is silent, and releasing the board then laps the driver's ring, so only this longer bound ends
    /// such a hold (it remains so that a board whose only interrupt was lost is never stopped for ever).
    /// </summary>
    public static TimeSpan SilentMaxHold { get; } = TimeSpan.FromSeconds(5);

    /// <summary>Buffers an engine coupled to its consumer may run ahead of the consumer's last look.</summary>
    public int ConsumerLead => Math.Max(1, Lead / 2);

    /// <summary>Times an engine's coupling moved from the driver's looks to a consumer's (a look after none for <see cref="ConsumerMaxHold"/>).</summary>
    public long ConsumerCouplings => Interlocked.Read(ref _consumerCouplings);

    private long _consumerCouplings;

    /// <summary>Buffers an engine may run ahead of the driver's last look.</summary>
    public int Lead { get; }

    /// <summary>Times an engine waited for the guest (it would have run further ahead).</summary>
    public long Holds => Interlocked.Read(ref _holds);

    private long _holds;
    private long _released;

    /// <summary>Times a hold ended by its bound instead of by the driver looking.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>
    /// The guest read a BAR0 register: a loop_status read (the driver) or an enable read (a consumer looking at the
    /// engine's counts) moves that engine's window.
    /// </summary>
    public void OnCsrRead(ulong barOffset)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        Volatile.Write(ref _lastGuestRead, now);
        if (_loopStatusOffsets.TryGetValue((uint)barOffset, out int slot))
        {
            Volatile.Write(ref _seen[slot], Volatile.Read(ref _latest[slot]));
        }
        else if (_enableOffsets.TryGetValue((uint)barOffset, out slot))
        {
            Volatile.Write(ref _consumerSeen[slot], Volatile.Read(ref _latest[slot]));
            if (!ConsumerLooking(slot, now))
            {
                Interlocked.Increment(ref _consumerCouplings);
            }

            Volatile.Write(ref _consumerLook[slot], now);
        }
    }

    /// <inheritdoc />
    public bool MayProcess(int channel, DmaDirection direction, long completed)
    {
        int slot = Slot(channel, direction);
        if (slot >= _seen.Length)
        {
            return true;
        }

        if (completed < Volatile.Read(ref _latest[slot]))
        {
            // The table was reset (a new start): its count starts again, for the driver and for a consumer.
            Volatile.Write(ref _seen[slot], 0);
            Volatile.Write(ref _consumerSeen[slot], 0);
        }

        Volatile.Write(ref _latest[slot], completed);
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        bool consumer = ConsumerLooking(slot, now);
        long limit = consumer ? Volatile.Read(ref _consumerSeen[slot]) + ConsumerLead : Volatile.Read(ref _seen[slot]) + Lead;
        if (completed < limit)
        {
            Volatile.Write(ref _heldSince[slot], 0);
            return true;
        }

        // Bounded: a driver that does not look (an interrupt it lost or masked) gets the hardware's behaviour back after the
        // longest stall this coupling is meant to cover; a consumer that stops looking hands the engine back to the driver.
        long since = Volatile.Read(ref _heldSince[slot]);
        if (since == 0)
        {
            Volatile.Write(ref _heldSince[slot], now);
        }
        else if (!consumer && ReleaseDue(since, now))
        {
            Volatile.Write(ref _seen[slot], completed);
            Volatile.Write(ref _consumerSeen[slot], completed);
            Volatile.Write(ref _heldSince[slot], 0);
            Interlocked.Increment(ref _released);
            return true;
        }

        Interlocked.Increment(ref _holds);
        return false;
    }

    // A hold ends at its bound only while the guest shows it runs (it read a register since the hold began) and still does
    // not look at this engine; a silent guest is stalled, not ignoring the engine, and gets the longer bound.
    private bool ReleaseDue(long since, long now) =>
        now - since > _silentMaxHoldTicks
        || (now - since > _maxHoldTicks && Volatile.Read(ref _lastGuestRead) > since);

    private bool ConsumerLooking(int slot, long now)
    {
        long look = Volatile.Read(ref _consumerLook[slot]);
        return look != 0 && now - look <= _consumerMaxHoldTicks;
    }

    private static long Ticks(TimeSpan bound) => (long)(bound.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    private static int Slot(int channel, DmaDirection direction) => (channel * 2) + (direction == DmaDirection.Writer ? 0 : 1);
}
