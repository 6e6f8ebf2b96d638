namespace LitePcie.Hil.Dma;

/// <summary>
/// The DMA table's <c>loop_status</c> register: bits 15:0 <c>index</c>, bits 31:16 <c>count</c>
/// (docs/gateware.md#loop_status). In loop mode after k pops of an N-entry ring, <c>count·N + index = k − 1</c>.
/// </summary>
public readonly record struct LoopStatus(ushort Index, ushort Count)
{
    /// <summary>Decodes a raw register value.</summary>
    public static LoopStatus FromRaw(uint raw) => new((ushort)(raw & 0xFFFF), (ushort)(raw >> 16));

    /// <summary>The raw register value.</summary>
    public uint Raw => ((uint)Count << 16) | Index;

    /// <inheritdoc />
    public override string ToString() => $"index {Index}, count {Count} (0x{Raw:X8})";
}

/// <summary>
/// The Linux driver's extension of <c>loop_status</c> to a monotonic 64-bit buffer count
/// (docs/linux-driver.md#hardware-and-software-counts), generalised to an N-entry ring: <c>low = count·N + index</c> modulo
/// <c>2^16·N</c>, and one modulus is added when the value went backwards. For N = 256 this is exactly
/// the driver's <c>hw = (hw &amp; ~0xFFFFFF) | (count·256 + index)</c>, <c>+2^24</c> on wrap.
/// </summary>
public struct HwCounter
{
    private readonly long _ringSize;
    private long _hw;
    private long _hwLast;

    /// <summary>Creates a counter for a ring of <paramref name="ringSize"/> descriptors.</summary>
    public HwCounter(int ringSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ringSize, 1);
        _ringSize = ringSize;
    }

    /// <summary>Descriptors in the ring.</summary>
    public readonly long RingSize => _ringSize == 0 ? 256 : _ringSize;

    /// <summary>The span after which <c>count·N + index</c> wraps: <c>2^16·N</c>.</summary>
    public readonly long Modulus => 65536 * RingSize;

    /// <summary>The current 64-bit count.</summary>
    public readonly long Value => _hw;

    /// <summary>Folds a new <c>loop_status</c> reading in and returns the updated count.</summary>
    public long Update(uint loopStatus)
    {
        var s = LoopStatus.FromRaw(loopStatus);
        long modulus = Modulus;
        long low = ((long)s.Count * RingSize + s.Index) % modulus;
        _hw = _hw - (_hw % modulus) + low;
        if (_hwLast > _hw)
        {
            _hw += modulus;
        }

        _hwLast = _hw;
        return _hw;
    }

    /// <summary>Clears the count (the driver does this on start and stop).</summary>
    public void Reset()
    {
        _hw = 0;
        _hwLast = 0;
    }
}
