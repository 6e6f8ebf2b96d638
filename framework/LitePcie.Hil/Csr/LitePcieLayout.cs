namespace LitePcie.Hil.Csr;

/// <summary>
/// Typed view of the LitePCIe blocks of a CSR map (ctrl, identifier, PHY, MSI, every <c>pcie_dmaN</c>)
/// and the layout guard. Built when a map is loaded; a design that lacks a register the framework needs
/// is rejected with a <see cref="CsrMapException"/> naming it.
/// </summary>
public sealed class LitePcieLayout
{
    /// <summary>Size of a LiteX CSR bank page (<c>csr_paging</c>).</summary>
    public const uint BlockPageSize = 0x800;

    /// <summary>Depth of the DMA descriptor table (LitePCIe default).</summary>
    public const int DefaultTableDepth = 256;

    private LitePcieLayout(
        CtrlBlock ctrl, IdentifierBlock identifier, PhyBlock? phy, MsiBlock msi,
        IReadOnlyList<DmaChannelLayout> channels, int dmaAddressWidth, IReadOnlySet<string> features)
    {
        Ctrl = ctrl;
        Identifier = identifier;
        Phy = phy;
        Msi = msi;
        DmaChannels = channels;
        DmaAddressWidth = dmaAddressWidth;
        OptionalFeatures = features;
        Guard = new LayoutGuardReport(channels.Select(c => c.Guard).ToArray());
    }

    /// <summary><c>ctrl</c> block.</summary>
    public CtrlBlock Ctrl { get; }

    /// <summary>Identifier ROM.</summary>
    public IdentifierBlock Identifier { get; }

    /// <summary>PHY status block; null when the design does not export it.</summary>
    public PhyBlock? Phy { get; }

    /// <summary>MSI controller.</summary>
    public MsiBlock Msi { get; }

    /// <summary>DMA channels in index order (<c>dma_channels</c> of them).</summary>
    public IReadOnlyList<DmaChannelLayout> DmaChannels { get; }

    /// <summary><c>dma_addr_width</c>: 32 or 64.</summary>
    public int DmaAddressWidth { get; }

    /// <summary>Optional tool blocks present: <c>flash_spi</c>, <c>flash_bpi</c>, <c>icap</c>, <c>xadc</c>, <c>dna</c>, <c>uart_xover</c>.</summary>
    public IReadOnlySet<string> OptionalFeatures { get; }

    /// <summary>The layout guard's findings per channel.</summary>
    public LayoutGuardReport Guard { get; }

    internal static LitePcieLayout Create(CsrMap map, PhyFamily? phyFamilyOverride)
    {
        string src = map.Source;
        CsrRegister Required(string name) =>
            map.TryGetRegister(name, out var r) ? r : throw new CsrMapException(src, name, "required register is missing");
        CsrRegister? Optional(string name) => map.TryGetRegister(name, out var r) ? r : null;

        var scratch = Required("ctrl_scratch");
        if (scratch.Access != CsrAccess.ReadWrite)
        {
            throw new CsrMapException(src, scratch.Name, "must be rw");
        }

        var ctrl = new CtrlBlock(Optional("ctrl_reset"), scratch, Optional("ctrl_bus_errors"));

        if (!map.Bases.TryGetValue("identifier_mem", out uint identBase))
        {
            throw new CsrMapException(src, "csr_bases.identifier_mem", "required identifier ROM base is missing (needed to check the bitstream matches this map)");
        }

        var phy = CreatePhy(map, phyFamilyOverride);
        var msi = CreateMsi(map, Required, Optional);

        long channelCount = map.IntegerConstant("dma_channels")
            ?? throw new CsrMapException(src, "constants.dma_channels", "required constant is missing or not an integer");
        if (channelCount is < 0 or > 32)
        {
            throw new CsrMapException(src, "constants.dma_channels", $"value {channelCount} is outside 0..32");
        }

        long addrWidth = map.IntegerConstant("dma_addr_width") ?? 32;
        if (addrWidth is not (32 or 64))
        {
            throw new CsrMapException(src, "constants.dma_addr_width", $"value {addrWidth} is not 32 or 64");
        }

        foreach (var name in map.Bases.Keys)
        {
            if (name.StartsWith("pcie_dma", StringComparison.Ordinal) && int.TryParse(name.AsSpan(8), out int n) && n >= channelCount)
            {
                throw new CsrMapException(src, $"csr_bases.{name}", $"block exists but dma_channels = {channelCount}");
            }
        }

        var channels = new List<DmaChannelLayout>();
        var usedIrqs = new Dictionary<int, string>();
        for (int i = 0; i < channelCount; i++)
        {
            channels.Add(CreateChannel(map, i, msi, usedIrqs, Required, Optional));
        }

        var features = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (feature, register) in new[]
        {
            ("flash_spi", "flash_spi_control"), ("flash_bpi", "flash_bpi_control"), ("icap", "icap_write"),
            ("xadc", "xadc_temperature"), ("dna", "dna_id"), ("uart_xover", "uart_xover_rxtx"),
        })
        {
            if (map.RegistersByName.ContainsKey(register))
            {
                features.Add(feature);
            }
        }

        return new LitePcieLayout(ctrl, new IdentifierBlock(identBase), phy, msi, channels, (int)addrWidth, features);
    }

    private static PhyBlock? CreatePhy(CsrMap map, PhyFamily? familyOverride)
    {
        // The endpoint keeps a reference to the PHY, so LiteX also exports the same registers as pcie_endpoint_phy_*.
        string prefix = map.RegistersByName.ContainsKey("pcie_phy_phy_link_status") ? "pcie_phy_phy_"
            : map.RegistersByName.ContainsKey("pcie_endpoint_phy_link_status") ? "pcie_endpoint_phy_"
            : "";
        if (prefix.Length == 0)
        {
            return null;
        }

        CsrRegister? R(string suffix) => map.TryGetRegister(prefix + suffix, out var r) ? r : null;
        var family = familyOverride
            ?? (map.Cores.TryGetValue("pcie_phy", out var cls) ? PhyLinkStatusCodec.FamilyOf(cls)
                : R("msix_enable") is not null ? PhyFamily.Series7 // only the 7-series PHY exports msix_enable
                : PhyFamily.Unknown);
        return new PhyBlock(family, R("link_status"), R("msi_enable"), R("msix_enable"), R("bus_master_enable"),
            R("max_request_size"), R("max_payload_size"));
    }

    private static MsiBlock CreateMsi(CsrMap map, Func<string, CsrRegister> required, Func<string, CsrRegister?> optional)
    {
        string src = map.Source;
        var enable = required("pcie_msi_enable");
        var clear = optional("pcie_msi_clear");
        var vector = optional("pcie_msi_vector");
        var pba = optional("pcie_msi_pba");
        MsiFlavour flavour;
        if (map.Cores.TryGetValue("pcie_msi", out var cls))
        {
            flavour = cls switch
            {
                "LitePCIeMSI" => MsiFlavour.Single,
                "LitePCIeMSIMultiVector" => MsiFlavour.MultiVector,
                "LitePCIeMSIX" => MsiFlavour.MsiX,
                _ => throw new CsrMapException(src, "cores.pcie_msi", $"unknown MSI controller class '{cls}' (expected LitePCIeMSI, LitePCIeMSIMultiVector or LitePCIeMSIX)"),
            };
        }
        else
        {
            flavour = pba is not null ? MsiFlavour.MsiX : clear is not null ? MsiFlavour.Single : MsiFlavour.MultiVector;
        }

        uint? table = null;
        switch (flavour)
        {
            case MsiFlavour.Single:
                if (clear is null || vector is null)
                {
                    throw new CsrMapException(src, clear is null ? "pcie_msi_clear" : "pcie_msi_vector", "required by the single-vector MSI controller but missing");
                }

                break;
            case MsiFlavour.MsiX:
                if (pba is null)
                {
                    throw new CsrMapException(src, "pcie_msi_pba", "required by the MSI-X controller but missing");
                }

                if (!map.Bases.TryGetValue("pcie_msi_table", out uint t))
                {
                    throw new CsrMapException(src, "csr_bases.pcie_msi_table", "required by the MSI-X controller but missing");
                }

                table = t;
                break;
        }

        return new MsiBlock(flavour, enable, clear, vector, pba, table, enable.Words * 32);
    }

    private static DmaChannelLayout CreateChannel(
        CsrMap map, int i, MsiBlock msi, Dictionary<int, string> usedIrqs,
        Func<string, CsrRegister> required, Func<string, CsrRegister?> optional)
    {
        string src = map.Source;
        string block = $"pcie_dma{i}";
        if (!map.Bases.TryGetValue(block, out uint baseAddress))
        {
            throw new CsrMapException(src, $"csr_bases.{block}", $"dma_channels says channel {i} exists but its block base is missing");
        }

        DmaEngineLayout Engine(DmaDirection dir)
        {
            string p = $"{block}_{dir.RegisterPrefix()}_";
            var r = DmaEngineLayout.Suffixes.Select(s => required(p + s)).ToArray();
            foreach (var reg in r)
            {
                if (reg.Address < baseAddress || reg.Address >= baseAddress + BlockPageSize)
                {
                    throw new CsrMapException(src, reg.Name, $"lies outside its block page 0x{baseAddress:X8}..0x{baseAddress + BlockPageSize - 1:X8}");
                }
            }

            if (r[1].Words != 2)
            {
                throw new CsrMapException(src, r[1].Name, $"table_value must be 2 words (64-bit descriptor), found {r[1].Words}");
            }

            if (r[4].Access != CsrAccess.ReadOnly || r[5].Access != CsrAccess.ReadOnly)
            {
                throw new CsrMapException(src, r[4].Access != CsrAccess.ReadOnly ? r[4].Name : r[5].Name, "must be ro");
            }

            return new DmaEngineLayout(dir, r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
        }

        var writer = Engine(DmaDirection.Writer);
        var reader = Engine(DmaDirection.Reader);
        string pre = block + "_";
        var loopback = optional(pre + "loopback_enable");
        SynchronizerLayout? sync = optional(pre + "synchronizer_bypass") is { } sb && optional(pre + "synchronizer_enable") is { } se
            ? new SynchronizerLayout(sb, se) : null;
        BufferingLayout? buffering =
            optional(pre + "buffering_reader_fifo_control") is { } brc && optional(pre + "buffering_reader_fifo_status") is { } brs &&
            optional(pre + "buffering_writer_fifo_control") is { } bwc && optional(pre + "buffering_writer_fifo_status") is { } bws
                ? new BufferingLayout(brc, brs, bwc, bws) : null;
        MonitorLayout? monitor =
            optional(pre + "writer_monitor_reset") is { } wmr && optional(pre + "writer_monitor_latch") is { } wml &&
            optional(pre + "writer_monitor_overflows") is { } wmo && optional(pre + "reader_monitor_reset") is { } rmr &&
            optional(pre + "reader_monitor_latch") is { } rml && optional(pre + "reader_monitor_underflows") is { } rmu
                ? new MonitorLayout(wmr, wml, wmo, rmr, rml, rmu) : null;
        DmaStatusLayout? status =
            optional(pre + "status_control") is { } sc && optional(pre + "status_address_lsb") is { } sl && optional(pre + "status_address_msb") is { } sm
                ? new DmaStatusLayout(sc, sl, sm) : null;

        int Irq(string dir)
        {
            string name = $"pcie_dma{i}_{dir}_interrupt";
            long v = map.IntegerConstant(name) ?? throw new CsrMapException(src, $"constants.{name}", "required interrupt bit number is missing");
            if (v < 0 || v >= msi.Width)
            {
                throw new CsrMapException(src, $"constants.{name}", $"interrupt bit {v} is outside the {msi.Width}-bit MSI enable register");
            }

            if (usedIrqs.TryGetValue((int)v, out var other))
            {
                throw new CsrMapException(src, $"constants.{name}", $"interrupt bit {v} is also used by {other}");
            }

            usedIrqs[(int)v] = name;
            return (int)v;
        }

        int writerIrq = Irq("writer");
        int readerIrq = Irq("reader");
        var guard = LayoutGuardReport.Check(map, i, baseAddress, writer, reader, loopback,
            sync is not null, buffering is not null, monitor is not null, status is not null);
        return new DmaChannelLayout(i, block, baseAddress, writer, reader, loopback, sync, buffering, monitor, status,
            writerIrq, readerIrq, guard);
    }
}
