using System.Globalization;
using System.Text;
using System.Text.Json;
using LitePcie.Hil.Csr;

namespace LitePcie.Hil.Simulation.Csr;

/// <summary>
/// Options of a LitePCIe design whose CSR map is to be generated. Mirrors the knobs of
/// <c>litepcie_gen</c> / <c>add_pcie</c> that change the map.
/// </summary>
public sealed record LitePcieDesign
{
    /// <summary>Identifier string (identifier ROM and <c>config_identifier</c>); no commas.</summary>
    public required string Identifier { get; init; }

    /// <summary>Number of DMA channels.</summary>
    public int DmaChannels { get; init; } = 1;

    /// <summary><c>with_loopback</c>.</summary>
    public bool Loopback { get; init; } = true;

    /// <summary><c>with_synchronizer</c>.</summary>
    public bool Synchronizer { get; init; }

    /// <summary><c>with_buffering</c>.</summary>
    public bool Buffering { get; init; }

    /// <summary><c>with_monitor</c>.</summary>
    public bool Monitor { get; init; }

    /// <summary><c>with_dma_status</c>.</summary>
    public bool DmaStatus { get; init; }

    /// <summary>MSI controller flavour.</summary>
    public MsiFlavour Msi { get; init; } = MsiFlavour.Single;

    /// <summary>MSI-X vector count W (32 uses reserved padding words, 64 uses 2-word registers).</summary>
    public int MsiXWidth { get; init; } = 32;

    /// <summary>PHY family.</summary>
    public PhyFamily Phy { get; init; } = PhyFamily.Series7;

    /// <summary>CSR base (0 for CPU-less designs, e.g. 0xF0000000 with a CPU).</summary>
    public uint CsrBase { get; init; }

    /// <summary>CSR region size.</summary>
    public uint CsrRegionSize { get; init; } = 0x10000;

    /// <summary><c>dma_addr_width</c>.</summary>
    public int DmaAddressWidth { get; init; } = 32;

    /// <summary>System clock in Hz.</summary>
    public long ClockFrequency { get; init; } = 125_000_000;

    /// <summary>
    /// <c>csr_map</c> page reservations. Default: the standalone generator's (ctrl 0, crg 1, pcie_phy 2,
    /// pcie_msi 3, pcie_msi_table 4, ptm_capabilities 5, ptm_requester 6).
    /// </summary>
    public IReadOnlyDictionary<string, int> Reservations { get; init; } = StandaloneReservations;

    /// <summary>Whether to export the user Wishbone window (<c>mmap</c> memory region), as the standalone core does.</summary>
    public bool UserMmapRegion { get; init; } = true;

    /// <summary>The standalone generator's reservations.</summary>
    public static IReadOnlyDictionary<string, int> StandaloneReservations { get; } = new Dictionary<string, int>
    {
        ["ctrl"] = 0, ["crg"] = 1, ["pcie_phy"] = 2, ["pcie_msi"] = 3, ["pcie_msi_table"] = 4,
        ["ptm_capabilities"] = 5, ["ptm_requester"] = 6,
    };
}

/// <summary>
/// Generates LiteX <c>csr.json</c>/<c>csr.csv</c> for a LitePCIe design following the layout rules of
/// docs/gateware.md#layout-rules: one 0x800-byte page per block, reserved pages first, remaining blocks at the first
/// free page in the order LiteX's CSR bank array scans them (modules by name; within a module its memories,
/// e.g. <c>pcie_msi_table</c>, before its register bank), CSRs consecutive in creation order, interrupt bits
/// numbered by sorted source name.
/// </summary>
public static class LiteXMapGenerator
{
    private sealed record Reg(string Name, int Words, bool ReadOnly);

    private sealed record Block(string Name, List<Reg> Registers, bool IsMemory)
    {
        /// <summary>The module the block belongs to: a memory region is named module_memory (identifier_mem, pcie_msi_table).</summary>
        public string Module => IsMemory ? Name[..Name.LastIndexOf('_')] : Name;
    }

    /// <summary>Builds the map in memory.</summary>
    public static CsrMap Generate(LitePcieDesign design, string source = "generated csr.json") =>
        CsrMap.FromJson(ToJson(design), source);

    /// <summary>Renders csr.json text.</summary>
    public static string ToJson(LitePcieDesign design)
    {
        var (bases, registers, constants, memories, cores) = Layout(design);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("csr_bases");
            foreach (var (n, a) in bases)
            {
                w.WriteNumber(n, a);
            }

            w.WriteEndObject();
            w.WriteStartObject("csr_registers");
            foreach (var (n, a, words, ro) in registers)
            {
                w.WriteStartObject(n);
                w.WriteNumber("addr", a);
                w.WriteNumber("size", words);
                w.WriteString("type", ro ? "ro" : "rw");
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartObject("constants");
            foreach (var (n, v) in constants)
            {
                switch (v)
                {
                    case null: w.WriteNull(n); break;
                    case long l: w.WriteNumber(n, l); break;
                    case int i: w.WriteNumber(n, i); break;
                    default: w.WriteString(n, v.ToString()); break;
                }
            }

            w.WriteEndObject();
            w.WriteStartObject("memories");
            foreach (var (n, b, s, t) in memories)
            {
                w.WriteStartObject(n);
                w.WriteNumber("base", b);
                w.WriteNumber("size", s);
                w.WriteString("type", t);
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartObject("cores");
            foreach (var (n, c) in cores)
            {
                w.WriteString(n, c);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    /// <summary>Renders csr.csv text (no <c>cores</c> section, as LiteX's CSV has none).</summary>
    public static string ToCsv(LitePcieDesign design)
    {
        var (bases, registers, constants, memories, _) = Layout(design);
        var sb = new StringBuilder();
        sb.Append("#--------------------------------------------------------------------------------\n");
        sb.Append("# Generated by LitePcie.Hil LiteXMapGenerator (LiteX layout rules)\n");
        sb.Append("#--------------------------------------------------------------------------------\n");
        foreach (var (n, a) in bases)
        {
            sb.Append(CultureInfo.InvariantCulture, $"csr_base,{n},0x{a:x8},,\n");
        }

        foreach (var (n, a, words, ro) in registers)
        {
            sb.Append(CultureInfo.InvariantCulture, $"csr_register,{n},0x{a:x8},{words},{(ro ? "ro" : "rw")}\n");
        }

        foreach (var (n, v) in constants)
        {
            sb.Append(CultureInfo.InvariantCulture, $"constant,{n},{v?.ToString() ?? "None"},,\n");
        }

        foreach (var (n, b, s, t) in memories)
        {
            sb.Append(CultureInfo.InvariantCulture, $"memory_region,{n},0x{b:x8},{s},{t}\n");
        }

        return sb.ToString();
    }

    private static (List<(string, uint)> Bases, List<(string, uint, int, bool)> Registers,
        List<(string, object?)> Constants, List<(string, ulong, ulong, string)> Memories, List<(string, string)> Cores)
        Layout(LitePcieDesign d)
    {
        if (d.Identifier.Contains(',', StringComparison.Ordinal) || d.Identifier.Length > IdentifierBlock.MaxLength)
        {
            throw new ArgumentException("identifier must have no commas and at most 255 characters", nameof(d));
        }

        if (d.DmaChannels is < 0 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(d), d.DmaChannels, "DmaChannels must be 0..16");
        }

        var blocks = new List<Block>
        {
            new("ctrl", [new("reset", 1, false), new("scratch", 1, false), new("bus_errors", 1, true)], false),
            new("identifier_mem", [], true),
            PhyBlock("pcie_phy", d.Phy),
            MsiBlock(d),
            PhyBlock("pcie_endpoint", d.Phy),
        };
        if (d.Msi == MsiFlavour.MsiX)
        {
            blocks.Add(new Block("pcie_msi_table", [], true));
        }

        for (int i = 0; i < d.DmaChannels; i++)
        {
            blocks.Add(DmaBlock(i, d));
        }

        // Page allocation: reservations first, then LiteX's scan order (CSRBankArray walks the modules by name and maps a
        // module's memories before its register bank), each at the first free page.
        var pageOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var used = new HashSet<int>();
        foreach (var (name, page) in d.Reservations)
        {
            used.Add(page);
            if (blocks.Any(b => b.Name == name))
            {
                pageOf[name] = page;
            }
        }

        foreach (var b in blocks.Where(b => !pageOf.ContainsKey(b.Name)).OrderBy(b => b.Module, StringComparer.Ordinal).ThenBy(b => b.IsMemory ? 0 : 1))
        {
            int p = 0;
            while (used.Contains(p))
            {
                p++;
            }

            used.Add(p);
            pageOf[b.Name] = p;
        }

        uint maxPages = d.CsrRegionSize / LitePcieLayout.BlockPageSize;
        if (pageOf.Values.Any(p => p >= maxPages))
        {
            throw new ArgumentException($"design needs more than the {maxPages} pages of a 0x{d.CsrRegionSize:X} CSR region", nameof(d));
        }

        var ordered = blocks.OrderBy(b => pageOf[b.Name]).ToList();
        var bases = new List<(string, uint)>();
        var registers = new List<(string, uint, int, bool)>();
        foreach (var b in ordered)
        {
            uint origin = d.CsrBase + (uint)pageOf[b.Name] * LitePcieLayout.BlockPageSize;
            if (b.Registers.Count == 0 && !b.IsMemory)
            {
                continue;
            }

            bases.Add((b.Name, origin));
            uint a = origin;
            foreach (var r in b.Registers)
            {
                registers.Add(($"{b.Name}_{r.Name}", a, r.Words, r.ReadOnly));
                a += (uint)r.Words * 4;
            }
        }

        // LiteX lists CSR bases in page order and registers in address order; so do we.
        var constants = new List<(string, object?)>
        {
            ("config_clock_frequency", d.ClockFrequency),
            ("config_cpu_type_none", null),
            ("config_identifier", d.Identifier),
            ("dma_channels", (long)d.DmaChannels),
            ("dma_addr_width", (long)d.DmaAddressWidth),
        };
        var irqSources = new List<string>();
        for (int i = 0; i < d.DmaChannels; i++)
        {
            irqSources.Add($"pcie_dma{i}_reader_interrupt");
            irqSources.Add($"pcie_dma{i}_writer_interrupt");
        }

        irqSources.Sort(StringComparer.Ordinal);
        for (int i = 0; i < irqSources.Count; i++)
        {
            constants.Add((irqSources[i], (long)i));
        }

        constants.Add(("config_csr_data_width", 32L));
        constants.Add(("config_csr_alignment", 32L));
        constants.Add(("config_csr_ordering_big", null));
        constants.Add(("config_bus_standard", "wishbone"));
        constants.Add(("config_bus_data_width", 32L));
        constants.Add(("config_bus_address_width", 32L));

        var memories = new List<(string, ulong, ulong, string)>();
        if (d.UserMmapRegion)
        {
            memories.Add(("mmap", (ulong)d.CsrBase + 0x20000, 0x20000, "io"));
        }

        memories.Add(("csr", d.CsrBase, d.CsrRegionSize, "io"));

        var cores = new List<(string, string)>
        {
            ("ctrl", "SoCController"),
            ("pcie_phy", PhyLinkStatusCodec.CoreClassOf(d.Phy)),
            ("pcie_msi", global::LitePcie.Hil.Csr.MsiBlock.CoreClassOf(d.Msi)),
        };
        for (int i = 0; i < d.DmaChannels; i++)
        {
            cores.Add(($"pcie_dma{i}", "LitePCIeDMA"));
        }

        cores.Add(("pcie_endpoint", "LitePCIeEndpoint"));
        return (bases, registers, constants, memories, cores);
    }

    private static Block PhyBlock(string name, PhyFamily family)
    {
        var regs = new List<Reg> { new("link_status", 1, true), new("msi_enable", 1, true) };
        if (family == PhyFamily.Series7)
        {
            regs.Add(new Reg("msix_enable", 1, true)); // only the 7-series PHY exports it
        }

        regs.Add(new Reg("bus_master_enable", 1, true));
        regs.Add(new Reg("max_request_size", 1, true));
        regs.Add(new Reg("max_payload_size", 1, true));
        foreach (var i in Enumerable.Range(0, regs.Count))
        {
            regs[i] = regs[i] with { Name = "phy_" + regs[i].Name };
        }

        return new Block(name, regs, false);
    }

    private static Block MsiBlock(LitePcieDesign d)
    {
        switch (d.Msi)
        {
            case MsiFlavour.Single:
                return new Block("pcie_msi", [new("enable", 1, false), new("clear", 1, false), new("vector", 1, true)], false);
            case MsiFlavour.MultiVector:
                return new Block("pcie_msi", [new("enable", 1, false)], false);
            default:
                if (d.MsiXWidth is not (32 or 64))
                {
                    throw new ArgumentOutOfRangeException(nameof(d), d.MsiXWidth, "MsiXWidth must be 32 or 64");
                }

                int words = d.MsiXWidth / 32;
                var regs = new List<Reg> { new("enable", words, false) };
                if (words == 1)
                {
                    regs.Add(new Reg("reserved0", 1, false));
                }

                regs.Add(new Reg("pba", words, true));
                if (words == 1)
                {
                    regs.Add(new Reg("reserved1", 1, false));
                }

                return new Block("pcie_msi", regs, false);
        }
    }

    private static Block DmaBlock(int index, LitePcieDesign d)
    {
        var regs = new List<Reg>();
        foreach (var dir in new[] { "writer", "reader" })
        {
            regs.Add(new Reg($"{dir}_enable", 1, false));
            regs.Add(new Reg($"{dir}_table_value", 2, false));
            regs.Add(new Reg($"{dir}_table_we", 1, false));
            regs.Add(new Reg($"{dir}_table_loop_prog_n", 1, false));
            regs.Add(new Reg($"{dir}_table_loop_status", 1, true));
            regs.Add(new Reg($"{dir}_table_level", 1, true));
            regs.Add(new Reg($"{dir}_table_reset", 1, false));
        }

        if (d.Loopback)
        {
            regs.Add(new Reg("loopback_enable", 1, false));
        }

        if (d.Synchronizer)
        {
            regs.Add(new Reg("synchronizer_bypass", 1, false));
            regs.Add(new Reg("synchronizer_enable", 1, false));
        }

        if (d.Buffering)
        {
            regs.Add(new Reg("buffering_reader_fifo_control", 1, false));
            regs.Add(new Reg("buffering_reader_fifo_status", 1, true));
            regs.Add(new Reg("buffering_writer_fifo_control", 1, false));
            regs.Add(new Reg("buffering_writer_fifo_status", 1, true));
        }

        if (d.Monitor)
        {
            regs.Add(new Reg("writer_monitor_reset", 1, false));
            regs.Add(new Reg("writer_monitor_latch", 1, false));
            regs.Add(new Reg("writer_monitor_overflows", 1, true));
            regs.Add(new Reg("reader_monitor_reset", 1, false));
            regs.Add(new Reg("reader_monitor_latch", 1, false));
            regs.Add(new Reg("reader_monitor_underflows", 1, true));
        }

        if (d.DmaStatus)
        {
            regs.Add(new Reg("status_control", 1, false));
            regs.Add(new Reg("status_address_lsb", 1, false));
            regs.Add(new Reg("status_address_msb", 1, false));
        }

        return new Block($"pcie_dma{index}", regs, false);
    }
}
