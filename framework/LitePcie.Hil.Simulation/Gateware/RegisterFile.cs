using LitePcie.Hil.Csr;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>
/// Word-level decode of the CSR region: each register word maps to a handler. Registers without a model
/// behave as plain LiteX CSRs: <c>rw</c> stores what is written (reset 0), <c>ro</c> reads 0.
/// </summary>
internal sealed class RegisterFile
{
    private readonly Binding?[] _bindings;
    private readonly int[] _wordOfRegister;
    private readonly List<Binding> _defaults = [];

    public RegisterFile(CsrMap map, uint regionSize)
    {
        Map = map;
        RegionSize = regionSize;
        _bindings = new Binding?[regionSize / 4];
        _wordOfRegister = new int[regionSize / 4];
        foreach (var r in map.Registers)
        {
            var b = new Binding(r, null, null, new uint[r.Words]);
            _defaults.Add(b);
            Place(b);
        }
    }

    public CsrMap Map { get; }

    public uint RegionSize { get; }

    /// <summary>Replaces a register's behaviour. <paramref name="write"/> null = writes ignored.</summary>
    public void Bind(CsrRegister register, Func<int, uint> read, Action<int, uint>? write) =>
        Place(new Binding(register, read, write, null));

    private void Place(Binding b)
    {
        for (int w = 0; w < b.Register.Words; w++)
        {
            long index = (b.Register.WordAddress(w) - (long)Map.CsrBase) / 4;
            if (index >= 0 && index < _bindings.Length)
            {
                _bindings[index] = b;
                _wordOfRegister[index] = w;
            }
        }
    }

    /// <summary>Reads the word at a region offset; false when no register is there (reads 0).</summary>
    public bool TryRead(uint regionOffset, out uint value)
    {
        int index = (int)(regionOffset / 4);
        var b = _bindings[index];
        if (b is null)
        {
            value = 0;
            return false;
        }

        int w = _wordOfRegister[index];
        value = b.Read is { } read ? read(w) : b.Storage![w];
        return true;
    }

    /// <summary>Writes the word at a region offset (ignored when no register is there).</summary>
    public void Write(uint regionOffset, uint value)
    {
        int index = (int)(regionOffset / 4);
        var b = _bindings[index];
        if (b is null)
        {
            return;
        }

        int w = _wordOfRegister[index];
        if (b.Storage is { } storage)
        {
            if (b.Register.Access == CsrAccess.ReadWrite)
            {
                storage[w] = value;
            }
        }
        else
        {
            b.Write?.Invoke(w, value);
        }
    }

    /// <summary>Plain registers back to 0 (SoC reset).</summary>
    public void ResetPlainRegisters()
    {
        foreach (var b in _defaults)
        {
            Array.Clear(b.Storage!);
        }
    }

    private sealed record Binding(CsrRegister Register, Func<int, uint>? Read, Action<int, uint>? Write, uint[]? Storage);
}
