namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>A DMA descriptor as the table stores it (docs/gateware.md#descriptor).</summary>
/// <param name="Control">High word of <c>table_value</c>: length 23:0, irq_disable bit 24, last_disable bit 25.</param>
/// <param name="Address">Bus address (msb:lsb).</param>
/// <param name="First">Marked when pushed into an empty table.</param>
internal readonly record struct Descriptor(uint Control, ulong Address, bool First)
{
    public const uint IrqDisable = 1u << 24;
    public const uint LastDisable = 1u << 25;

    public int Length => (int)(Control & 0xFF_FFFF);

    public bool IrqDisabled => (Control & IrqDisable) != 0;

    public bool LastDisabled => (Control & LastDisable) != 0;
}

/// <summary>
/// The scatter-gather table of one engine: a FIFO in prog mode, an endless ring in loop mode, with
/// <c>loop_status</c> as the HDL keeps it (checked against the RTL by the conformance tier): in loop mode a pop of a
/// table's first descriptor resets the index and counts a loop unless <c>loop_first</c> is set, which only a table
/// reset sets (it is 0 at power-on) and only that loop-mode pop clears; every other pop increments the index.
/// </summary>
internal sealed class DescriptorTable
{
    private readonly Descriptor[] _ring;
    private int _head;
    private int _count;
    private bool _loopFirst; // the HDL's loop_first: 0 at power-on, set by a table reset, cleared by the first loop-mode pop of a 'first' descriptor

    public DescriptorTable(int depth)
    {
        _ring = new Descriptor[depth];
    }

    public int Depth => _ring.Length;

    /// <summary><c>table_value</c>: 64-bit staging register (reset-less).</summary>
    public ulong Staged { get; set; }

    public bool LoopMode { get; set; }

    public ushort Index { get; private set; }

    public ushort Count { get; private set; }

    public uint LoopStatus => ((uint)Count << 16) | Index;

    public int Level => _count;

    public bool IsEmpty => _count == 0;

    /// <summary>
    /// <c>table_we</c> write: pushes the staged descriptor with <paramref name="addressMsb"/> (prog mode only;
    /// a push into a full table is silently dropped).
    /// </summary>
    public void Push(uint addressMsb, int dmaAddressWidth)
    {
        if (LoopMode || _count == _ring.Length)
        {
            return;
        }

        uint control = (uint)(Staged >> 32);
        ulong address = (uint)Staged;
        if (dmaAddressWidth > 32)
        {
            address |= (ulong)addressMsb << 32;
        }

        _ring[(_head + _count) % _ring.Length] = new Descriptor(control, address, _count == 0);
        _count++;
    }

    public Descriptor Peek() => _ring[_head];

    /// <summary>Pops the head; in loop mode re-pushes it at the tail. Updates <c>loop_status</c>.</summary>
    public Descriptor Pop()
    {
        var d = _ring[_head];
        _head = (_head + 1) % _ring.Length;
        _count--;
        if (LoopMode)
        {
            _ring[(_head + _count) % _ring.Length] = d;
            _count++;
            if (d.First)
            {
                if (!_loopFirst)
                {
                    Count++;
                }

                _loopFirst = false;
                Index = 0;
            }
            else
            {
                Index++;
            }
        }
        else
        {
            Index++;
            if (Index == 0)
            {
                Count++;
            }
        }

        return d;
    }

    /// <summary><c>table_reset</c>: empties the FIFO and clears <c>loop_status</c>.</summary>
    public void Reset()
    {
        _head = 0;
        _count = 0;
        Index = 0;
        Count = 0;
        _loopFirst = true;
    }

    /// <summary>Full reset (SoC reset): empty, loop mode off, loop_first 0 (its reset value). The staging register is reset-less.</summary>
    public void PowerOnReset()
    {
        Reset();
        _loopFirst = false;
        LoopMode = false;
    }
}
