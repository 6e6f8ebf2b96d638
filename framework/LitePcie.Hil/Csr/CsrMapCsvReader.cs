using System.Globalization;

namespace LitePcie.Hil.Csr;

/// <summary>Reads LiteX <c>csr.csv</c> (docs/gateware.md#csrcsv): <c>kind,name,value,size,type</c> rows.</summary>
internal static class CsrMapCsvReader
{
    public static CsrMap Read(string text, string source, PhyFamily? phyFamilyOverride)
    {
        var bases = new Dictionary<string, uint>(StringComparer.Ordinal);
        var registers = new List<CsrRegister>();
        var constants = new Dictionary<string, CsrConstant>(StringComparer.Ordinal);
        var memories = new Dictionary<string, CsrMemoryRegion>(StringComparer.Ordinal);

        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            string[] cols = line.Split(',');
            string where = $"line {lineNumber}";
            if (cols.Length != 5)
            {
                throw new CsrMapException(source, where, $"expected 5 comma-separated columns, found {cols.Length}: '{Shorten(line)}'");
            }

            string kind = cols[0].Trim(), name = cols[1].Trim();
            if (name.Length == 0)
            {
                throw new CsrMapException(source, where, "empty name in column 2");
            }

            where = $"line {lineNumber} ({kind} {name})";
            switch (kind)
            {
                case "csr_base":
                    bases[name] = ParseAddress(cols[2], source, where);
                    break;
                case "csr_register":
                    uint addr = ParseAddress(cols[2], source, where);
                    if (!long.TryParse(cols[3].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long size))
                    {
                        throw new CsrMapException(source, where, $"size '{cols[3]}' is not a decimal word count");
                    }

                    registers.Add(CsrMapValidator.MakeRegister(source, name, addr, size, cols[4].Trim()));
                    break;
                case "constant":
                    constants[name] = ParseConstant(name, cols[2]);
                    break;
                case "memory_region":
                    ulong mbase = ParseAddress64(cols[2], source, where);
                    if (!ulong.TryParse(cols[3].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong msize))
                    {
                        throw new CsrMapException(source, where, $"size '{cols[3]}' is not a decimal byte count");
                    }

                    memories[name] = new CsrMemoryRegion(name, mbase, msize, cols[4].Trim());
                    break;
                default:
                    throw new CsrMapException(source, where, $"unknown row kind '{kind}' (expected csr_base, csr_register, constant or memory_region)");
            }
        }

        if (registers.Count == 0)
        {
            throw new CsrMapException(source, null, "no csr_register rows: not a LiteX csr.csv");
        }

        return new CsrMap(source, bases, registers, constants, memories, new Dictionary<string, string>(), phyFamilyOverride);
    }

    private static CsrConstant ParseConstant(string name, string value)
    {
        string v = value.Trim();
        if (v == "None")
        {
            return new CsrConstant(name, null, null);
        }

        return long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long i)
            ? new CsrConstant(name, i, null)
            : new CsrConstant(name, null, value);
    }

    private static uint ParseAddress(string text, string source, string where)
    {
        ulong v = ParseAddress64(text, source, where);
        return v <= uint.MaxValue
            ? (uint)v
            : throw new CsrMapException(source, where, $"address {text.Trim()} is outside the 32-bit CSR address space");
    }

    private static ulong ParseAddress64(string text, string source, string where)
    {
        string t = text.Trim();
        bool ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        return ok ? v : throw new CsrMapException(source, where, $"'{t}' is not an address (expected 0x-prefixed hex, as LiteX writes it, or a decimal number)");
    }

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
