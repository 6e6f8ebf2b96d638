namespace LitePcie.Hil.Csr;

/// <summary>
/// Format-level checks every LiteX map must pass before the LitePCIe layout is derived: 32-bit CSR data
/// width and alignment, big word ordering, aligned and non-overlapping registers inside the CSR region.
/// </summary>
internal static class CsrMapValidator
{
    /// <summary>Upper bound on the size of a single CSR (LiteX CSRs are at most a few words; 64 words = 2048 bits).</summary>
    public const int MaxWords = 64;

    public static CsrRegister MakeRegister(string source, string name, uint address, long words, string type)
    {
        if (name.Length == 0)
        {
            throw new CsrMapException(source, "csr_registers", "register with an empty name");
        }

        if (words is < 1 or > MaxWords)
        {
            throw new CsrMapException(source, name, $"size {words} words is outside 1..{MaxWords}");
        }

        var access = type switch
        {
            "rw" => CsrAccess.ReadWrite,
            "ro" => CsrAccess.ReadOnly,
            _ => throw new CsrMapException(source, name, $"type '{type}' is not 'rw' or 'ro'"),
        };

        if ((address & 3) != 0)
        {
            throw new CsrMapException(source, name, $"address 0x{address:X8} is not 32-bit aligned");
        }

        if ((ulong)address + (ulong)words * 4 > 1UL << 32)
        {
            throw new CsrMapException(source, name, $"register at 0x{address:X8} with {words} words runs past the 32-bit address space");
        }

        return new CsrRegister(name, address, (int)words, access);
    }

    public static void Validate(CsrMap map)
    {
        string src = map.Source;

        if (map.IntegerConstant("config_csr_data_width") is { } width && width != 32)
        {
            throw new CsrMapException(src, "constants.config_csr_data_width",
                $"CSR data width is {width} bits; LitePCIe BAR0 access and the litepcie driver require 32");
        }

        if (map.IntegerConstant("config_csr_alignment") is { } align && align != 32)
        {
            throw new CsrMapException(src, "constants.config_csr_alignment",
                $"CSR alignment is {align} bits; the driver assumes consecutive 32-bit words (alignment 32)");
        }

        if (map.Constants.ContainsKey("config_csr_ordering_little"))
        {
            throw new CsrMapException(src, "constants.config_csr_ordering_little",
                "little word ordering: multi-word CSRs must use big ordering (most significant word first) as the driver requires");
        }

        CsrRegister? previous = null;
        foreach (var r in map.Registers)
        {
            if (previous is not null && r.Address < previous.EndAddress)
            {
                throw new CsrMapException(src, r.Name,
                    $"overlaps {previous.Name} (0x{previous.Address:X8}..0x{previous.EndAddress - 1:X8}) at 0x{r.Address:X8}");
            }

            if (r.Address < map.CsrBase)
            {
                throw new CsrMapException(src, r.Name, $"address 0x{r.Address:X8} is below the CSR base 0x{map.CsrBase:X8}");
            }

            if (map.CsrRegionSize is { } size && r.EndAddress > map.CsrBase + size)
            {
                throw new CsrMapException(src, r.Name,
                    $"register ends at 0x{r.EndAddress:X} beyond the CSR region 0x{map.CsrBase:X8}+0x{size:X}");
            }

            previous = r;
        }

        foreach (var (name, origin) in map.Bases)
        {
            if ((origin & 3) != 0)
            {
                throw new CsrMapException(src, $"csr_bases.{name}", $"origin 0x{origin:X8} is not 32-bit aligned");
            }

            if (origin < map.CsrBase || (map.CsrRegionSize is { } size && origin >= map.CsrBase + size))
            {
                throw new CsrMapException(src, $"csr_bases.{name}",
                    $"origin 0x{origin:X8} is outside the CSR region starting at 0x{map.CsrBase:X8}");
            }
        }
    }
}
