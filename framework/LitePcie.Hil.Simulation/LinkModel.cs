using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation;

/// <summary>
/// A trained PCIe link: generation, width and payload size, and the payload rate it allows per direction
/// (docs/gateware.md#link-throughput): lanes × line rate × encoding efficiency × MPS/(MPS + TLP overhead).
/// </summary>
public sealed record LinkModel(PciLinkSpeed Speed, int Width, int MaxPayloadSize, int MaxReadRequestSize)
{
    /// <summary>Bytes of framing, sequence number, header and LCRC per TLP (3DW header, no ECRC).</summary>
    public const int TlpOverheadBytes = 24;

    /// <summary>Line rate per lane in GT/s.</summary>
    public double GigaTransfersPerLane => Speed.GigaTransfersPerSecond();

    /// <summary>8b/10b for Gen1/Gen2, 128b/130b from Gen3.</summary>
    public double EncodingEfficiency => Speed <= PciLinkSpeed.Gen2 ? 0.8 : 128.0 / 130.0;

    /// <summary>Fraction of link bytes that are payload at this MPS.</summary>
    public double TlpEfficiency => (double)MaxPayloadSize / (MaxPayloadSize + TlpOverheadBytes);

    /// <summary>Payload bytes per second one direction can carry.</summary>
    public double PayloadBytesPerSecond => GigaTransfersPerLane * 1e9 * Width * EncodingEfficiency / 8 * TlpEfficiency;

    /// <summary>Payload rate in Gb/s (what dma_test prints).</summary>
    public double PayloadGigabitsPerSecond => PayloadBytesPerSecond * 8 / 1e9;

    /// <inheritdoc />
    public override string ToString() => $"{Speed.Describe()} x{Width}, MPS {MaxPayloadSize} ({PayloadGigabitsPerSecond:0.00} Gb/s payload per direction)";
}

/// <summary>
/// Paces one link direction to a byte rate: an engine may move a buffer when the bytes it has moved stay
/// within rate × elapsed time plus a small burst allowance. Falling far behind (the simulator thread was
/// descheduled) forfeits the missed time instead of bursting a whole ring at once.
/// </summary>
public sealed class LinkPacer
{
    private readonly TimeProvider _time;
    private readonly double _burstBytes;
    private readonly double _maxLagSeconds;
    private double _bytesPerTick;
    private double _maxDebtBytes;
    private long _start;
    private double _consumed;

    /// <summary>Creates a pacer for <paramref name="bytesPerSecond"/>.</summary>
    public LinkPacer(double bytesPerSecond, TimeProvider? time = null, double burstBytes = 64 * 1024, double maxLagSeconds = 0.02)
    {
        if (bytesPerSecond <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytesPerSecond), bytesPerSecond, "must be positive");
        }

        _time = time ?? TimeProvider.System;
        BytesPerSecond = bytesPerSecond;
        _bytesPerTick = bytesPerSecond / _time.TimestampFrequency;
        _burstBytes = burstBytes;
        _maxLagSeconds = maxLagSeconds;
        _maxDebtBytes = bytesPerSecond * maxLagSeconds;
        _start = _time.GetTimestamp();
    }

    /// <summary>The paced rate.</summary>
    public double BytesPerSecond { get; private set; }

    /// <summary>
    /// Tries to take <paramref name="bytes"/>; when refused, <paramref name="wait"/> says how long until it
    /// would be allowed.
    /// </summary>
    public bool TryConsume(long bytes, out TimeSpan wait)
    {
        double deficit = Deficit(bytes);
        if (deficit <= 0)
        {
            _consumed += bytes;
            wait = TimeSpan.Zero;
            return true;
        }

        wait = TimeSpan.FromSeconds(deficit / BytesPerSecond);
        return false;
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> from both pacers or from neither (one transfer that crosses the link in both
    /// directions, as a loopback buffer does).
    /// </summary>
    public static bool TryConsumeBoth(LinkPacer first, LinkPacer second, long bytes)
    {
        if (first.Deficit(bytes) > 0 || second.Deficit(bytes) > 0)
        {
            return false;
        }

        first._consumed += bytes;
        second._consumed += bytes;
        return true;
    }

    /// <summary>Bytes missing before <paramref name="bytes"/> may go now (≤ 0: they may).</summary>
    private double Deficit(long bytes) => _consumed + bytes - Allowed() - _burstBytes;

    /// <summary>Bytes the elapsed time allows; time the engine could not use beyond the lag bound is forfeited.</summary>
    private double Allowed()
    {
        double allowed = (_time.GetTimestamp() - _start) * _bytesPerTick;
        if (allowed - _consumed > _maxDebtBytes)
        {
            _consumed = allowed - _maxDebtBytes; // forfeit time we could not use
        }

        return allowed;
    }

    /// <summary>
    /// Follows a change of the link's payload rate (a retrain to another width, a new Max_Payload_Size programmed
    /// by the host): the accounting restarts at the new rate from now.
    /// </summary>
    public void Retarget(double bytesPerSecond)
    {
        if (bytesPerSecond <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytesPerSecond), bytesPerSecond, "must be positive");
        }

        if (bytesPerSecond == BytesPerSecond)
        {
            return;
        }

        BytesPerSecond = bytesPerSecond;
        _bytesPerTick = bytesPerSecond / _time.TimestampFrequency;
        _maxDebtBytes = bytesPerSecond * _maxLagSeconds;
        Reset();
    }

    /// <summary>Restarts the accounting (engine restart).</summary>
    public void Reset()
    {
        _start = _time.GetTimestamp();
        _consumed = 0;
    }
}
