using System.Text;

namespace LitePcie.Hil.Csr;

/// <summary>32-bit access to the CSR BAR (BAR0) of a LitePCIe design, with the map that describes it.</summary>
public interface ICsrBus
{
    /// <summary>The design's CSR map.</summary>
    CsrMap Map { get; }

    /// <summary>Reads a 32-bit word at a BAR0 offset.</summary>
    uint ReadCsr(uint barOffset);

    /// <summary>Writes a 32-bit word at a BAR0 offset.</summary>
    void WriteCsr(uint barOffset, uint value);
}

/// <summary>Typed register access on top of <see cref="ICsrBus"/> (big word ordering, names in errors).</summary>
public static class CsrBusExtensions
{
    /// <summary>Reads a whole register (up to 2 words) as an unsigned value, most significant word first.</summary>
    public static ulong Read(this ICsrBus bus, CsrRegister register)
    {
        if (register.Words > 2)
        {
            throw new ArgumentException($"{register.Name} has {register.Words} words; use ReadWords", nameof(register));
        }

        ulong value = 0;
        for (int i = 0; i < register.Words; i++)
        {
            value = (value << 32) | bus.ReadCsr(bus.Map.ToBarOffset(register.WordAddress(i)));
        }

        return value;
    }

    /// <summary>Reads a one-word register.</summary>
    public static uint Read32(this ICsrBus bus, CsrRegister register) =>
        register.Words == 1
            ? bus.ReadCsr(bus.Map.ToBarOffset(register.Address))
            : throw new ArgumentException($"{register.Name} has {register.Words} words, not 1", nameof(register));

    /// <summary>
    /// Writes a whole register, most significant word first so that the last write (least significant
    /// word) fires the register's strobe, as LiteX CSRStorage expects.
    /// </summary>
    public static void Write(this ICsrBus bus, CsrRegister register, ulong value)
    {
        if (register.Words > 2)
        {
            throw new ArgumentException($"{register.Name} has {register.Words} words", nameof(register));
        }

        if (register.Words == 1 && value > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:X} does not fit the 32-bit register {register.Name}");
        }

        for (int i = 0; i < register.Words; i++)
        {
            int shift = 32 * (register.Words - 1 - i);
            bus.WriteCsr(bus.Map.ToBarOffset(register.WordAddress(i)), (uint)(value >> shift));
        }
    }

    /// <summary>Reads a register by name.</summary>
    public static ulong Read(this ICsrBus bus, string registerName) => bus.Read(bus.Map.Register(registerName));

    /// <summary>Writes a register by name.</summary>
    public static void Write(this ICsrBus bus, string registerName, ulong value) => bus.Write(bus.Map.Register(registerName), value);

    /// <summary>Reads the identifier ROM up to its NUL (at most 255 characters).</summary>
    public static string ReadIdentifier(this ICsrBus bus)
    {
        var ident = bus.Map.Layout.Identifier;
        var sb = new StringBuilder();
        for (int i = 0; i < IdentifierBlock.MaxLength; i++)
        {
            uint word = bus.ReadCsr(bus.Map.ToBarOffset(ident.CharAddress(i)));
            if (word == uint.MaxValue)
            {
                // All-ones: the device is not answering; report what was read so far with a marker.
                sb.Append("<all-ones>");
                break;
            }

            char c = (char)(word & 0xFF);
            if (c == '\0')
            {
                break;
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    /// <summary>Reads and decodes the PHY link status (null when the design does not export it).</summary>
    public static PhyLinkStatus? ReadLinkStatus(this ICsrBus bus)
    {
        var phy = bus.Map.Layout.Phy;
        return phy?.LinkStatus is { } reg ? PhyLinkStatusCodec.Decode(phy.Family, bus.Read32(reg)) : null;
    }

    /// <summary>A register dump (name, BAR offset, value) of the given registers, for failure reports.</summary>
    public static string Dump(this ICsrBus bus, IEnumerable<CsrRegister> registers)
    {
        var sb = new StringBuilder();
        foreach (var r in registers)
        {
            string value;
            try
            {
                value = r.Words <= 2 ? $"0x{bus.Read(r).ToString(r.Words == 2 ? "X16" : "X8")}" : "(wide)";
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                value = $"<{e.GetType().Name}: {e.Message}>";
            }

            sb.Append($"{r.Name,-48} +0x{bus.Map.ToBarOffset(r.Address):X5} = {value}").AppendLine();
        }

        return sb.ToString();
    }
}
