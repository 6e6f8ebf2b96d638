namespace LitePcie.Hil.Csr;

/// <summary>LiteX <c>SoCController</c> (<c>ctrl</c>): reset, scratch and bus-error counter.</summary>
public sealed record CtrlBlock(CsrRegister? Reset, CsrRegister Scratch, CsrRegister? BusErrors)
{
    /// <summary>Reset value of <c>ctrl_scratch</c>; doubles as an endianness check.</summary>
    public const uint ScratchResetValue = 0x12345678;

    /// <summary><c>ctrl_reset</c> bit 0: one-cycle SoC reset pulse.</summary>
    public const uint SocResetBit = 1;
}

/// <summary>The identifier ROM (<c>identifier_mem</c>): one character per 32-bit word, NUL-terminated.</summary>
public sealed record IdentifierBlock(uint BaseAddress)
{
    /// <summary>Longest identifier LiteX writes (the ROM holds at most 255 characters + NUL).</summary>
    public const int MaxLength = 255;

    /// <summary>Absolute address of character <paramref name="index"/>.</summary>
    public uint CharAddress(int index) => BaseAddress + (uint)index * 4;
}

/// <summary>PHY status registers (<c>pcie_phy_phy_*</c>), all read-only.</summary>
public sealed record PhyBlock(
    PhyFamily Family,
    CsrRegister? LinkStatus,
    CsrRegister? MsiEnable,
    CsrRegister? MsixEnable,
    CsrRegister? BusMasterEnable,
    CsrRegister? MaxRequestSize,
    CsrRegister? MaxPayloadSize);

/// <summary>LitePCIe MSI controller flavours (docs/gateware.md#msi-controllers, #interrupts).</summary>
public enum MsiFlavour
{
    /// <summary><c>LitePCIeMSI</c>: one vector; pending bits in <c>pcie_msi_vector</c>, cleared through <c>pcie_msi_clear</c>.</summary>
    Single,

    /// <summary><c>LitePCIeMSIMultiVector</c>: one MSI vector per interrupt bit; no vector/clear registers.</summary>
    MultiVector,

    /// <summary><c>LitePCIeMSIX</c>: MSI-X table in <c>pcie_msi_table</c> and PBA in <c>pcie_msi_pba</c>.</summary>
    MsiX,
}

/// <summary>The MSI block of a design.</summary>
public sealed record MsiBlock(
    MsiFlavour Flavour,
    CsrRegister Enable,
    CsrRegister? Clear,
    CsrRegister? Vector,
    CsrRegister? Pba,
    uint? TableBaseAddress,
    int Width)
{
    /// <summary>The <c>cores</c> class name for a flavour.</summary>
    public static string CoreClassOf(MsiFlavour flavour) => flavour switch
    {
        MsiFlavour.Single => "LitePCIeMSI",
        MsiFlavour.MultiVector => "LitePCIeMSIMultiVector",
        _ => "LitePCIeMSIX",
    };
}

/// <summary>One DMA engine (writer or reader) of a channel: enable and descriptor table registers.</summary>
public sealed record DmaEngineLayout(
    DmaDirection Direction,
    CsrRegister Enable,
    CsrRegister TableValue,
    CsrRegister TableWe,
    CsrRegister LoopProgN,
    CsrRegister LoopStatus,
    CsrRegister Level,
    CsrRegister TableReset)
{
    /// <summary>The seven registers in driver (creation) order.</summary>
    public IReadOnlyList<CsrRegister> All => [Enable, TableValue, TableWe, LoopProgN, LoopStatus, Level, TableReset];

    /// <summary>Register suffixes in creation order, as the kernel driver's <c>config.h</c> offsets assume.</summary>
    public static IReadOnlyList<string> Suffixes { get; } =
        ["enable", "table_value", "table_we", "table_loop_prog_n", "table_loop_status", "table_level", "table_reset"];

    /// <summary>Offsets the kernel driver hard-codes relative to the engine start (+0x00 writer, +0x20 reader).</summary>
    public static IReadOnlyList<uint> DriverOffsets { get; } = [0x00, 0x04, 0x0C, 0x10, 0x14, 0x18, 0x1C];

    /// <summary>Size in words the driver assumes for each register.</summary>
    public static IReadOnlyList<int> DriverWords { get; } = [1, 2, 1, 1, 1, 1, 1];
}

/// <summary>Synchronizer plugin registers.</summary>
public sealed record SynchronizerLayout(CsrRegister Bypass, CsrRegister Enable);

/// <summary>Buffering plugin registers.</summary>
public sealed record BufferingLayout(
    CsrRegister ReaderFifoControl,
    CsrRegister ReaderFifoStatus,
    CsrRegister WriterFifoControl,
    CsrRegister WriterFifoStatus);

/// <summary>Monitor plugin registers.</summary>
public sealed record MonitorLayout(
    CsrRegister WriterReset,
    CsrRegister WriterLatch,
    CsrRegister WriterOverflows,
    CsrRegister ReaderReset,
    CsrRegister ReaderLatch,
    CsrRegister ReaderUnderflows);

/// <summary>Optional DMA status writer (<c>with_dma_status</c>).</summary>
public sealed record DmaStatusLayout(CsrRegister Control, CsrRegister AddressLsb, CsrRegister AddressMsb);

/// <summary>One <c>pcie_dmaN</c> block.</summary>
public sealed record DmaChannelLayout(
    int Index,
    string BlockName,
    uint BaseAddress,
    DmaEngineLayout Writer,
    DmaEngineLayout Reader,
    CsrRegister? LoopbackEnable,
    SynchronizerLayout? Synchronizer,
    BufferingLayout? Buffering,
    MonitorLayout? Monitor,
    DmaStatusLayout? Status,
    int WriterInterrupt,
    int ReaderInterrupt,
    DmaChannelGuard Guard)
{
    /// <summary>The engine for a direction.</summary>
    public DmaEngineLayout Engine(DmaDirection direction) => direction == DmaDirection.Writer ? Writer : Reader;

    /// <summary>MSI bit number of a direction's interrupt source.</summary>
    public int Interrupt(DmaDirection direction) => direction == DmaDirection.Writer ? WriterInterrupt : ReaderInterrupt;

    /// <summary>Every register of the block (engines, loopback and plugins) — what a register dump shows.</summary>
    public IEnumerable<CsrRegister> AllRegisters()
    {
        foreach (var r in Writer.All)
        {
            yield return r;
        }

        foreach (var r in Reader.All)
        {
            yield return r;
        }

        IEnumerable<CsrRegister?> rest =
        [
            LoopbackEnable, Synchronizer?.Bypass, Synchronizer?.Enable,
            Buffering?.ReaderFifoControl, Buffering?.ReaderFifoStatus, Buffering?.WriterFifoControl, Buffering?.WriterFifoStatus,
            Monitor?.WriterReset, Monitor?.WriterLatch, Monitor?.WriterOverflows,
            Monitor?.ReaderReset, Monitor?.ReaderLatch, Monitor?.ReaderUnderflows,
            Status?.Control, Status?.AddressLsb, Status?.AddressMsb,
        ];
        foreach (var r in rest)
        {
            if (r is not null)
            {
                yield return r;
            }
        }
    }
}
