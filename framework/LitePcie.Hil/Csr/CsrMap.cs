using System.Collections.Frozen;

namespace LitePcie.Hil.Csr;

/// <summary>
/// An immutable LiteX CSR map of one LitePCIe design, loaded from <c>csr.json</c> or <c>csr.csv</c>
/// (docs/gateware.md#csr-map-files): CSR bases, registers, constants, memory regions and cores, plus the typed
/// LitePCIe view (<see cref="Layout"/>). Addresses are absolute; <see cref="ToBarOffset"/> converts
/// them to BAR0 offsets using the CSR base.
/// </summary>
public sealed class CsrMap
{
    private readonly CsrRegister[] _byAddress;

    internal CsrMap(
        string source,
        IReadOnlyDictionary<string, uint> bases,
        IEnumerable<CsrRegister> registers,
        IReadOnlyDictionary<string, CsrConstant> constants,
        IReadOnlyDictionary<string, CsrMemoryRegion> memories,
        IReadOnlyDictionary<string, string> cores,
        PhyFamily? phyFamilyOverride = null)
    {
        Source = source;
        Bases = bases.ToFrozenDictionary(StringComparer.Ordinal);
        _byAddress = registers.OrderBy(r => r.Address).ToArray();
        RegistersByName = _byAddress.ToFrozenDictionary(r => r.Name, StringComparer.Ordinal);
        Constants = constants.ToFrozenDictionary(StringComparer.Ordinal);
        Memories = memories.ToFrozenDictionary(StringComparer.Ordinal);
        Cores = cores.ToFrozenDictionary(StringComparer.Ordinal);
        if (Memories.TryGetValue("csr", out var csr))
        {
            if (csr.Base > uint.MaxValue)
            {
                throw new CsrMapException(source, "memories.csr", $"CSR base 0x{csr.Base:X} is beyond 32 bits");
            }

            CsrBase = (uint)csr.Base;
            CsrRegionSize = csr.Size;
        }

        CsrMapValidator.Validate(this);
        Layout = LitePcieLayout.Create(this, phyFamilyOverride);
    }

    /// <summary>File or logical name the map was loaded from (used in every error message).</summary>
    public string Source { get; }

    /// <summary><c>csr_bases</c>: block name → absolute origin (includes CSR memories such as <c>identifier_mem</c>).</summary>
    public IReadOnlyDictionary<string, uint> Bases { get; }

    /// <summary>Registers ordered by address.</summary>
    public IReadOnlyList<CsrRegister> Registers => _byAddress;

    /// <summary>Registers by full name (e.g. <c>pcie_dma0_writer_table_loop_status</c>).</summary>
    public IReadOnlyDictionary<string, CsrRegister> RegistersByName { get; }

    /// <summary><c>constants</c> by lower-case name.</summary>
    public IReadOnlyDictionary<string, CsrConstant> Constants { get; }

    /// <summary><c>memories</c> (memory regions) by name.</summary>
    public IReadOnlyDictionary<string, CsrMemoryRegion> Memories { get; }

    /// <summary><c>cores</c>: block → Python class name (empty when loaded from csr.csv, which has no such section).</summary>
    public IReadOnlyDictionary<string, string> Cores { get; }

    /// <summary>CSR base (<c>memories.csr.base</c>; 0 for CPU-less designs).</summary>
    public uint CsrBase { get; }

    /// <summary>Size of the CSR region when the map declares it.</summary>
    public ulong? CsrRegionSize { get; }

    /// <summary>Typed view of the LitePCIe blocks with the layout guard.</summary>
    public LitePcieLayout Layout { get; }

    /// <summary><c>config_identifier</c>: the identifier string the bitstream's identifier ROM must hold.</summary>
    public string? Identifier => TryGetConstant("config_identifier", out var c) ? c.Text : null;

    /// <summary>Gets a register by name or throws a <see cref="CsrMapException"/> naming it.</summary>
    public CsrRegister Register(string name) =>
        RegistersByName.TryGetValue(name, out var r)
            ? r
            : throw new CsrMapException(Source, name, "register not present in this design");

    /// <summary>Looks a register up by name.</summary>
    public bool TryGetRegister(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CsrRegister? register) =>
        RegistersByName.TryGetValue(name, out register);

    /// <summary>Looks a constant up by name.</summary>
    public bool TryGetConstant(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CsrConstant? constant) =>
        Constants.TryGetValue(name, out constant);

    /// <summary>Integer value of a constant, or null when absent or not an integer.</summary>
    public long? IntegerConstant(string name) => Constants.TryGetValue(name, out var c) ? c.Integer : null;

    /// <summary>The register containing <paramref name="address"/>, if any (binary search).</summary>
    public CsrRegister? RegisterAt(uint address)
    {
        int lo = 0, hi = _byAddress.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = _byAddress[mid];
            if (address < r.Address)
            {
                hi = mid - 1;
            }
            else if (address >= r.EndAddress)
            {
                lo = mid + 1;
            }
            else
            {
                return r;
            }
        }

        return null;
    }

    /// <summary>Converts an absolute CSR address to a BAR0 offset (<c>address − CSR base</c>).</summary>
    public uint ToBarOffset(uint address)
    {
        if (address < CsrBase)
        {
            throw new ArgumentOutOfRangeException(
                nameof(address), $"address 0x{address:X8} is below the CSR base 0x{CsrBase:X8} of {Source}");
        }

        return address - CsrBase;
    }

    /// <summary>Converts a BAR0 offset to an absolute CSR address (<c>offset + CSR base</c>).</summary>
    public uint ToAddress(uint barOffset)
    {
        ulong a = (ulong)barOffset + CsrBase;
        if (a > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                nameof(barOffset), $"BAR0 offset 0x{barOffset:X} + CSR base 0x{CsrBase:X8} overflows 32 bits");
        }

        return (uint)a;
    }

    /// <summary>BAR0 offset of a register's first (most significant) word.</summary>
    public uint BarOffsetOf(CsrRegister register) => ToBarOffset(register.Address);

    /// <summary>Loads <c>csr.json</c> or <c>csr.csv</c>, chosen by extension.</summary>
    public static CsrMap Load(string path, PhyFamily? phyFamilyOverride = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CsrMapException(path, null, $"cannot read the file ({e.Message})", e);
        }

        return Path.GetExtension(path).ToUpperInvariant() switch
        {
            ".JSON" => CsrMapJsonReader.Read(text, path, phyFamilyOverride),
            ".CSV" => CsrMapCsvReader.Read(text, path, phyFamilyOverride),
            var ext => throw new CsrMapException(path, null, $"unknown CSR map format '{ext}' (expected .json or .csv)"),
        };
    }

    /// <summary>Parses LiteX <c>csr.json</c> text.</summary>
    public static CsrMap FromJson(string json, string source = "csr.json", PhyFamily? phyFamilyOverride = null) =>
        CsrMapJsonReader.Read(json, source, phyFamilyOverride);

    /// <summary>Parses LiteX <c>csr.csv</c> text.</summary>
    public static CsrMap FromCsv(string csv, string source = "csr.csv", PhyFamily? phyFamilyOverride = null) =>
        CsrMapCsvReader.Read(csv, source, phyFamilyOverride);
}
