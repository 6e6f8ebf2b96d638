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
/// </summary>
public sealed class GuestPacing : IHostFlowControl
{
    private readonly long[] _seen;
    private readonly long[] _latest;
    private readonly long[] _heldSince;
    private readonly long _maxHoldTicks;
    private readonly Dictionary<uint, int> _loopStatusOffsets = [];

    /// <summary>Creates the coupling for a board's DMA channels.</summary>
    public GuestPacing(CsrMap map, int lead, TimeSpan? maxHold = null)
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
        _maxHoldTicks = (long)((maxHold ?? TimeSpan.FromMilliseconds(250)).TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        for (int c = 0; c < channels; c++)
        {
            var dma = map.Layout.DmaChannels[c];
            _loopStatusOffsets[map.BarOffsetOf(dma.Writer.LoopStatus)] = Slot(c, DmaDirection.Writer);
            _loopStatusOffsets[map.BarOffsetOf(dma.Reader.LoopStatus)] = Slot(c, DmaDirection.Reader);
        }
    }

    /// <summary>Buffers an engine may run ahead of the driver's last look.</summary>
    public int Lead { get; }

    /// <summary>Times an engine waited for the guest (it would have run further ahead).</summary>
    public long Holds => Interlocked.Read(ref _holds);

    private long _holds;
    private long _released;

    /// <summary>Times a hold ended by its bound instead of by the driver looking.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>The guest read a BAR0 register: a loop_status read moves that engine's window.</summary>
    public void OnCsrRead(ulong barOffset)
    {
        if (_loopStatusOffsets.TryGetValue((uint)barOffset, out int slot))
        {
            Volatile.Write(ref _seen[slot], Volatile.Read(ref _latest[slot]));
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
            Volatile.Write(ref _seen[slot], 0); // the table was reset: its count starts again
        }

        Volatile.Write(ref _latest[slot], completed);
        if (completed < Volatile.Read(ref _seen[slot]) + Lead)
        {
            Volatile.Write(ref _heldSince[slot], 0);
            return true;
        }

        // Bounded: a driver that does not look (an interrupt it lost or masked) gets the hardware's behaviour back
        // after the longest stall this coupling is meant to cover.
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        long since = Volatile.Read(ref _heldSince[slot]);
        if (since == 0)
        {
            Volatile.Write(ref _heldSince[slot], now);
        }
        else if (now - since > _maxHoldTicks)
        {
            Volatile.Write(ref _seen[slot], completed);
            Volatile.Write(ref _heldSince[slot], 0);
            Interlocked.Increment(ref _released);
            return true;
        }

        Interlocked.Increment(ref _holds);
        return false;
    }

    private static int Slot(int channel, DmaDirection direction) => (channel * 2) + (direction == DmaDirection.Writer ? 0 : 1);
}
