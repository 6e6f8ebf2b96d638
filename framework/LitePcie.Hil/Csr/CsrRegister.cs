namespace LitePcie.Hil.Csr;

/// <summary>Whether software may write a CSR (LiteX <c>CSRStorage</c>) or only read it (<c>CSRStatus</c>).</summary>
public enum CsrAccess
{
    /// <summary><c>rw</c>: a CSRStorage; reads back what was written unless the gateware drives bits.</summary>
    ReadWrite,

    /// <summary><c>ro</c>: a CSRStatus; writes are ignored by the gateware.</summary>
    ReadOnly,
}

/// <summary>
/// One LiteX CSR as exported in <c>csr.json</c>/<c>csr.csv</c>: an absolute address, a size in 32-bit
/// words and an access type. Multi-word registers use big word ordering: the word at the lowest
/// address holds the most significant 32 bits, and the write strobe fires on the last word.
/// </summary>
public sealed record CsrRegister(string Name, uint Address, int Words, CsrAccess Access)
{
    /// <summary>Size in bytes (4 per word).</summary>
    public uint SizeBytes => (uint)Words * 4;

    /// <summary>First address after the register.</summary>
    public ulong EndAddress => (ulong)Address + SizeBytes;

    /// <summary>Width of the register value in bits (32 per word).</summary>
    public int Bits => Words * 32;

    /// <summary>Absolute address of word <paramref name="index"/> (0 = most significant).</summary>
    public uint WordAddress(int index)
    {
        if ((uint)index >= (uint)Words)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"{Name} has {Words} word(s)");
        }

        return Address + (uint)index * 4;
    }

    /// <summary>Whether <paramref name="address"/> falls inside this register.</summary>
    public bool Contains(uint address) => address >= Address && address < EndAddress;

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name} @0x{Address:X8} ({Words} word{(Words == 1 ? "" : "s")}, {(Access == CsrAccess.ReadOnly ? "ro" : "rw")})";
}

/// <summary>A <c>memories</c> entry of csr.json (e.g. <c>csr</c>, whose base is the CSR base).</summary>
public sealed record CsrMemoryRegion(string Name, ulong Base, ulong Size, string Type);

/// <summary>
/// A <c>constants</c> entry. LiteX writes integers, strings and <c>null</c> (= defined without value,
/// <c>None</c> in csr.csv).
/// </summary>
public sealed record CsrConstant(string Name, long? Integer, string? Text)
{
    /// <summary>True when the constant is defined without a value.</summary>
    public bool IsFlag => Integer is null && Text is null;

    /// <inheritdoc />
    public override string ToString() =>
        Integer is { } i ? $"{Name}={i}" : Text is { } t ? $"{Name}=\"{t}\"" : $"{Name} (defined)";
}
