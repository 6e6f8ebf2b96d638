using LitePcie.Hil.Csr;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>An MSI or MSI-X message the device posts.</summary>
/// <param name="Vector">MSI: the vector number encoded in the data (0 for single MSI); MSI-X: the table entry.</param>
/// <param name="Address">Message address (MSI-X: the table's DW0 only, docs/gateware.md#multi-vector-msi-and-msi-x).</param>
/// <param name="Data">Message data.</param>
public readonly record struct MsiMessage(int Vector, ulong Address, uint Data);

/// <summary>
/// The three LitePCIe MSI controllers (docs/gateware.md#interrupts): single-vector with sticky <c>vector</c>
/// and write-1-to-clear <c>clear</c> and one message per burst of new events; multi-vector sending the
/// lowest pending bit; MSI-X with a 16-byte-per-entry table, PBA and per-entry masking.
/// </summary>
internal sealed class MsiController
{
    private readonly uint[] _tableWords;
    private readonly uint[] _staged = new uint[4];
    private ulong _enable;
    private ulong _pending;
    private ulong _accumulator;
    private int _raises; // single MSI: the PHY takes one message per cycle with new events, i.e. one per raise here
    private readonly Queue<int> _raised = new(); // multi-vector / MSI-X: each event becomes its own message, in order
    private readonly int[] _queuedPerBit = new int[64];
    private uint _lastClear;

    public MsiController(MsiFlavour flavour, int width)
    {
        Flavour = flavour;
        Width = width;
        _tableWords = flavour == MsiFlavour.MsiX ? new uint[width * 4] : [];
        Reset(powerOn: true);
    }

    public MsiFlavour Flavour { get; }

    public int Width { get; }

    public ulong Enable => _enable;

    /// <summary>Single/multi: the sticky pending bits; MSI-X: the PBA.</summary>
    public ulong Pending => _pending;

    /// <summary>Messages waiting to be posted (single MSI: one per raise; otherwise one per event, masked MSI-X entries included).</summary>
    public int PendingMessages => Flavour == MsiFlavour.Single ? _raises : _raised.Count;

    public uint LastClear => _lastClear;

    private ulong Mask => Width >= 64 ? ulong.MaxValue : (1UL << Width) - 1;

    /// <summary>
    /// SoC reset: enables and pending state clear. The MSI-X table is a block RAM without reset logic, so it keeps
    /// its contents; only <paramref name="powerOn"/> (configuration of the FPGA) masks every entry.
    /// </summary>
    public void Reset(bool powerOn = false)
    {
        _enable = 0;
        _pending = 0;
        _accumulator = 0;
        _raises = 0;
        _raised.Clear();
        Array.Clear(_queuedPerBit);
        _lastClear = 0;
        if (!powerOn)
        {
            return;
        }

        Array.Clear(_tableWords);
        for (int i = 0; i < Width && Flavour == MsiFlavour.MsiX; i++)
        {
            _tableWords[i * 4 + 3] = 1; // every entry masked after configuration
        }
    }

    /// <summary>An interrupt source pulses (one cycle).</summary>
    public void Raise(int bit)
    {
        ulong b = 1UL << bit;
        _pending |= b & _enable;
        if (Flavour != MsiFlavour.Single && (b & _enable) != 0)
        {
            // The FSM sends (or, masked, drops) each pending bit within a few cycles: an event after that is a new message.
            _raised.Enqueue(bit);
            _queuedPerBit[bit]++;
        }
        if (Flavour == MsiFlavour.Single && (b & _enable) != 0)
        {
            _accumulator |= b & _enable;
            _raises++;
        }
    }

    public void WriteEnableWord(int word, int words, uint value)
    {
        int shift = 32 * (words - 1 - word);
        ulong m = 0xFFFF_FFFFUL << shift;
        _enable = ((_enable & ~m) | ((ulong)value << shift)) & Mask;
        _pending &= _enable;
        _accumulator &= _enable;
        if (Flavour != MsiFlavour.Single && _raised.Count > 0)
        {
            var keep = _raised.Where(bit => ((1UL << bit) & _enable) != 0).ToList();
            _raised.Clear();
            Array.Clear(_queuedPerBit);
            foreach (int bit in keep)
            {
                _raised.Enqueue(bit);
                _queuedPerBit[bit]++;
            }
        }
        if (_accumulator == 0)
        {
            _raises = 0;
        }
    }

    public static uint ReadWord(ulong value, int word, int words) => (uint)(value >> (32 * (words - 1 - word)));

    /// <summary><c>pcie_msi_clear</c>: one-cycle clear of the written bits.</summary>
    public void Clear(uint value)
    {
        _lastClear = value;
        _pending &= ~(ulong)value;
    }

    public uint ReadTable(int wordIndex) => wordIndex < _tableWords.Length ? _tableWords[wordIndex] : 0;

    /// <summary>MSI-X table writes stage words 0..2 of an entry; the 4th word commits the entry.</summary>
    public void WriteTable(int wordIndex, uint value)
    {
        if (wordIndex >= _tableWords.Length)
        {
            return;
        }

        int w = wordIndex & 3;
        _staged[w] = value;
        if (w == 3)
        {
            int entry = wordIndex & ~3;
            for (int i = 0; i < 4; i++)
            {
                _tableWords[entry + i] = _staged[i];
            }
        }
    }

    /// <summary>
    /// Produces the next message to post when the host has enabled delivery. Single MSI: one message per
    /// burst (accumulator reloads); multi-vector: the lowest pending bit, cleared when sent; MSI-X: the lowest
    /// pending bit whose entry is unmasked (a masked entry's pending bit is dropped).
    /// </summary>
    public bool TryTakeMessage(bool deliveryEnabled, int grantedVectors, out MsiMessage message)
    {
        message = default;
        if (!deliveryEnabled)
        {
            return false;
        }

        switch (Flavour)
        {
            case MsiFlavour.Single:
                if (_raises == 0)
                {
                    return false;
                }

                if (--_raises == 0)
                {
                    _accumulator = 0;
                }

                message = new MsiMessage(0, 0, 0);
                return true;
            case MsiFlavour.MultiVector:
            {
                if (!TryDequeue(out int bit))
                {
                    return false;
                }

                message = new MsiMessage(bit, 0, (uint)bit); // the port's data; the hard IP fits it to the granted vectors
                return true;
            }

            default:
                while (TryDequeue(out int bit))
                {
                    int e = bit * 4;
                    if ((_tableWords[e + 3] & 1) != 0)
                    {
                        continue; // masked: its pending bit is cleared without sending
                    }

                    message = new MsiMessage(bit, _tableWords[e], _tableWords[e + 2]);
                    return true;
                }

                return false;
        }
    }

    private bool TryDequeue(out int bit)
    {
        if (!_raised.TryDequeue(out bit))
        {
            return false;
        }

        if (--_queuedPerBit[bit] == 0)
        {
            _pending &= ~(1UL << bit);
        }

        return true;
    }
}
