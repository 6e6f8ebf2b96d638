namespace LitePcie.Hil.Dma;

/// <summary>
/// Decides when a transfer has stalled: no progress for <see cref="Bound"/> of the time the watcher was running.
/// The caller looks at the device in a loop that waits at most a short period per turn (an interrupt or a poll);
/// a gap between two looks longer than <see cref="MaxGap"/> counts as <see cref="MaxGap"/> only. A gap that long
/// means this process did not get the CPU (a loaded host, a garbage collection, a starved thread pool) — the
/// simulated hardware, which runs in the same process, did not either, so that time is no evidence of a stalled
/// engine. On an idle host every gap is one wait period and the watch is the plain wall-clock bound.
/// </summary>
public sealed class StallWatch
{
    private readonly TimeProvider _time;
    private long _last;

    /// <summary>A watch that starts quiet at zero now.</summary>
    /// <param name="bound">How much watched time without progress is a stall.</param>
    /// <param name="maxGap">The most one gap between looks may add; set it a few times the caller's wait per turn.</param>
    /// <param name="time">The clock (tests move it by hand); the system clock by default.</param>
    public StallWatch(TimeSpan bound, TimeSpan maxGap, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bound, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxGap, TimeSpan.Zero);
        Bound = bound;
        MaxGap = maxGap;
        _time = time ?? TimeProvider.System;
        _last = _time.GetTimestamp();
    }

    /// <summary>Watched time without progress that makes a stall.</summary>
    public TimeSpan Bound { get; }

    /// <summary>The most one gap between looks counts for.</summary>
    public TimeSpan MaxGap { get; }

    /// <summary>Watched time since the last progress.</summary>
    public TimeSpan Quiet { get; private set; }

    /// <summary>Wall-clock time since the last progress that was not counted, because the watcher was not running.</summary>
    public TimeSpan Discounted { get; private set; }

    /// <summary>The device moved: the quiet time starts again from zero.</summary>
    public void Progress()
    {
        _last = _time.GetTimestamp();
        Quiet = TimeSpan.Zero;
        Discounted = TimeSpan.Zero;
    }

    /// <summary>A look that found no progress; true once the quiet time exceeds <see cref="Bound"/>.</summary>
    public bool Stalled()
    {
        long now = _time.GetTimestamp();
        var gap = _time.GetElapsedTime(_last, now);
        _last = now;
        if (gap > MaxGap)
        {
            Discounted += gap - MaxGap;
            gap = MaxGap;
        }

        Quiet += gap;
        return Quiet > Bound;
    }

    /// <summary>
    /// The bound in a stall message, and the time not counted if any: "1000 ms", or "1000 ms watched (2.8 s more not
    /// counted: this process was not running)".
    /// </summary>
    public string Describe() => Discounted > TimeSpan.Zero
        ? FormattableString.Invariant($"{Bound.TotalMilliseconds:0} ms watched ({Discounted.TotalSeconds:0.0} s more not counted: this process was not running)")
        : FormattableString.Invariant($"{Bound.TotalMilliseconds:0} ms");
}
