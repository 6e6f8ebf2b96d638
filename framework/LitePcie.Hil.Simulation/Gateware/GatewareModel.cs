using System.Globalization;
using System.Text.RegularExpressions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Faults;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>Build options of the modelled gateware that a csr.json does not carry.</summary>
/// <param name="DataWidthBits">DMA stream data width.</param>
/// <param name="TableDepth">Descriptor table depth.</param>
/// <param name="BufferingDepth">Buffering plugin FIFO depth in bytes (reset value of <c>*_fifo_control</c>).</param>
/// <param name="UserWriterPattern">User logic feeding the writer when loopback is off (null = nothing arrives).</param>
/// <param name="SocResetWired">
/// Whether <c>ctrl_reset</c>'s soc_rst reaches the logic (a LiteX SoC's CRG has a reset; LitePCIe's standalone core
/// has none, so there the write resets nothing and the field reads back 1).
/// </param>
/// <param name="MaxPendingRequests">The endpoint's max_pending_requests (sizes the reader's data FIFO).</param>
/// <param name="SplitStreams">Separate request and completion streams to the host (UltraScale PHYs).</param>
/// <param name="UserReaderSink">User logic that takes the reader's stream when loopback is off (false = nothing takes it: the reader holds).</param>
internal sealed record GatewareOptions(int DataWidthBits = 64, int TableDepth = 256, int BufferingDepth = 8192, LitePcie.Hil.Dma.SequencePattern? UserWriterPattern = null,
    bool SocResetWired = true, int MaxPendingRequests = 4, bool SplitStreams = false, bool UserReaderSink = true);

/// <summary>
/// Everything behind BAR0 of a LitePCIe design, built from its CSR map: SoC controller, identifier ROM,
/// PHY status, MSI controller, DMA channels and any plain registers or memory windows of the map.
/// Not thread-safe: the board serialises access.
/// </summary>
internal sealed partial class GatewareModel : IGatewareEngine
{
    private readonly IGatewareHost _host;
    private readonly FaultPlan _faults;
    private readonly RegisterFile _registers;
    private readonly byte[] _identifierRom;
    private readonly int _identifierMask;
    private readonly Dictionary<string, (uint Start, uint[] Words)> _windows = [];
    private uint _scratch;
    private uint _busErrors;
    private uint _cpuReset;
    private readonly bool _socResetWired;
    private readonly bool _splitStreams;

    public GatewareModel(CsrMap map, IGatewareHost host, GatewareOptions options, FaultPlan faults)
    {
        Map = map;
        _host = host;
        _faults = faults;
        var layout = map.Layout;
        uint regionSize = (uint)(map.CsrRegionSize
            ?? ((map.Registers.Max(r => r.EndAddress) - map.CsrBase + 0xFFFF) & ~0xFFFFUL));
        _registers = new RegisterFile(map, regionSize);
        Counters = new GatewareCounters();
        Msi = new MsiController(layout.Msi.Flavour, layout.Msi.Width);

        string rom = map.Identifier ?? "";
        if (faults.Has(FaultKind.WrongIdent))
        {
            rom = OtherBuildOf(rom);
        }

        RomIdentifier = rom;
        _identifierRom = [.. rom.Select(c => (byte)c), 0];
        int depthPow2 = 1;
        while (depthPow2 < _identifierRom.Length)
        {
            depthPow2 <<= 1;
        }

        _identifierMask = depthPow2 - 1;

        foreach (var (name, region) in map.Memories)
        {
            if (name != "csr" && region.Size is > 0 and <= 16 << 20 && region.Base <= uint.MaxValue)
            {
                _windows[name] = ((uint)region.Base, new uint[region.Size / 4]);
            }
        }

        _socResetWired = options.SocResetWired;
        _splitStreams = options.SplitStreams;
        Channels = [.. layout.DmaChannels.Select(c => new DmaChannelModel(c, host, Msi, Counters, faults,
            options.DataWidthBits, options.TableDepth, layout.DmaAddressWidth, options.BufferingDepth, options.UserWriterPattern, options.MaxPendingRequests, options.UserReaderSink))];
        BindCtrl(layout.Ctrl);
        BindPhy();
        BindMsi(layout.Msi);
        foreach (var c in Channels)
        {
            c.Bind(_registers);
        }

        Reset(powerOn: true);
    }

    public CsrMap Map { get; }

    public MsiController Msi { get; }

    public IReadOnlyList<DmaChannelModel> Channels { get; }

    public GatewareCounters Counters { get; }

    /// <summary>The string the identifier ROM holds (differs from the map under <c>wrong-ident</c>).</summary>
    public string RomIdentifier { get; }

    public uint BusErrors => _busErrors;

    /// <inheritdoc />
    public SimEngine Kind => SimEngine.Model;

    /// <inheritdoc />
    public TimeSpan IdleWait => TimeSpan.FromMilliseconds(1);

    /// <inheritdoc />
    public GatewareStatistics Statistics => new(Counters.BuffersMoved, Counters.BytesMoved[0], Counters.BytesMoved[1],
        Counters.DroppedBuffers, Counters.FlippedBits, 0)
    {
        ReadRequests = Counters.ReadRequests,
        WriteRequests = Counters.WriteRequests,
        Requests4KCrossing = Counters.Requests4KCrossing,
    };

    /// <inheritdoc />
    public int PendingMessages => Msi.PendingMessages;

    /// <inheritdoc />
    public bool TryTakeMessage(out DeviceMessage message)
    {
        message = default;
        // The MSI logic has no MSI-enable, function-mask or bus-master input: the MSI port always completes its
        // handshake (the hard IP decides, in SimulatedBoard) and MSI-X writes leave whatever the config space says.
        if (!Msi.TryTakeMessage(deliveryEnabled: true, _host.MsiGrantedVectors, out var m))
        {
            return false;
        }

        message = Msi.Flavour == MsiFlavour.MsiX
            ? new DeviceMessage(DeviceMessageKind.InterruptWrite, m.Vector, m.Address, m.Data)
            : new DeviceMessage(DeviceMessageKind.PhyMsi, m.Vector, 0, 0);
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <summary>Reads a BAR0 offset (already reduced modulo the BAR size).</summary>
    public uint Read32(uint barOffset)
    {
        if (!_splitStreams && Channels.Any(c => c.Writer.Hogging))
        {
            // A writer descriptor of length 0 sends one endless TLP on the one stream to the host: the completion of
            // this read cannot leave the device, and the root port's completion timeout answers all-ones.
            return uint.MaxValue;
        }

        ulong address = (ulong)barOffset + Map.CsrBase;
        ulong regionOffset = address - Map.CsrBase;
        if (regionOffset < _registers.RegionSize)
        {
            uint off = (uint)regionOffset & ~3u;
            uint abs = (uint)address & ~3u;
            if (InPage(abs, Map.Layout.Identifier.BaseAddress, LitePcieLayout.BlockPageSize))
            {
                int index = (int)((abs - Map.Layout.Identifier.BaseAddress) / 4) & _identifierMask;
                return index < _identifierRom.Length ? _identifierRom[index] : 0u;
            }

            if (Map.Layout.Msi.TableBaseAddress is { } tb && InPage(abs, tb, (uint)Msi.Width * 16))
            {
                return Msi.ReadTable((int)((abs - tb) / 4));
            }

            _registers.TryRead(off, out uint v);
            return v;
        }

        foreach (var (start, words) in _windows.Values)
        {
            if (address >= start && address < start + (ulong)words.Length * 4)
            {
                return words[(address - start) / 4];
            }
        }

        // Outside every Wishbone slave: the bus times out, the read returns all-ones and counts a bus error.
        _busErrors = _busErrors == uint.MaxValue ? uint.MaxValue : _busErrors + 1;
        return uint.MaxValue;
    }

    /// <summary>Writes a BAR0 offset (already reduced modulo the BAR size).</summary>
    public void Write32(uint barOffset, uint value)
    {
        ulong address = (ulong)barOffset + Map.CsrBase;
        ulong regionOffset = address - Map.CsrBase;
        if (regionOffset < _registers.RegionSize)
        {
            uint abs = (uint)address & ~3u;
            if (InPage(abs, Map.Layout.Identifier.BaseAddress, LitePcieLayout.BlockPageSize))
            {
                return; // ROM
            }

            if (Map.Layout.Msi.TableBaseAddress is { } tb && InPage(abs, tb, (uint)Msi.Width * 16))
            {
                Msi.WriteTable((int)((abs - tb) / 4), value);
                return;
            }

            _registers.Write((uint)regionOffset & ~3u, value);
            return;
        }

        foreach (var (start, words) in _windows.Values)
        {
            if (address >= start && address < start + (ulong)words.Length * 4)
            {
                words[(address - start) / 4] = value;
                return;
            }
        }

        _busErrors = _busErrors == uint.MaxValue ? uint.MaxValue : _busErrors + 1;
    }

    /// <summary>
    /// SoC reset (<c>ctrl_reset</c> bit 0, D3hot): every register to its reset value. <paramref name="powerOn"/>
    /// also clears block RAM contents (the MSI-X table), as a fresh FPGA configuration does.
    /// </summary>
    public void Reset(bool powerOn = false)
    {
        _registers.ResetPlainRegisters();
        _scratch = CtrlBlock.ScratchResetValue;
        _busErrors = 0;
        _cpuReset = 0;
        Msi.Reset(powerOn);
        foreach (var c in Channels)
        {
            c.PowerOnReset();
        }

        foreach (var (_, words) in _windows.Values)
        {
            Array.Clear(words);
        }
    }

    /// <summary>Moves at most one descriptor per engine of every channel.</summary>
    public bool Step()
    {
        Counters.RequestStreamHeld = Channels.Any(c => c.Writer.Enabled && c.Writer.Hogging);
        bool progress = false;
        foreach (var c in Channels)
        {
            progress |= c.Step();
        }

        return progress;
    }

    private static bool InPage(uint address, uint start, uint size) => address >= start && address < start + size;

    private uint ApplyScratchFault(uint value) =>
        _faults.Has(FaultKind.ScratchStuckBit) ? value & ~(1u << (int)_faults.Value(FaultKind.ScratchStuckBit)) : value;

    private void BindCtrl(CtrlBlock ctrl)
    {
        if (ctrl.Reset is { } reset)
        {
            _registers.Bind(reset, _ => _cpuReset, (_, v) =>
            {
                if ((v & CtrlBlock.SocResetBit) != 0 && _socResetWired)
                {
                    Reset(); // through the CRG: every register back to its reset value, this one included
                    return;
                }

                _cpuReset = v & 3; // a CSRStorage: without a CRG reset it holds what was written
            });
        }

        _registers.Bind(ctrl.Scratch, _ => ApplyScratchFault(_scratch), (_, v) => _scratch = v);
        if (ctrl.BusErrors is { } be)
        {
            _registers.Bind(be, _ => _busErrors, null);
        }
    }

    private void BindPhy()
    {
        foreach (var prefix in new[] { "pcie_phy_phy_", "pcie_endpoint_phy_" })
        {
            void B(string suffix, Func<uint> value)
            {
                if (Map.TryGetRegister(prefix + suffix, out var r))
                {
                    _registers.Bind(r, _ => value(), null);
                }
            }

            B("link_status", () => _host.LinkStatusRaw);
            B("msi_enable", () => _host.MsiEnabled ? 1u : 0u);
            B("msix_enable", () => _host.MsixEnabled ? 1u : 0u);
            B("bus_master_enable", () => _host.BusMasterEnabled ? 1u : 0u);
            B("max_request_size", () => (uint)Math.Min(_host.MaxReadRequestSize, 512));
            B("max_payload_size", () => (uint)Math.Min(_host.MaxPayloadSize, 512));
        }
    }

    private void BindMsi(MsiBlock msi)
    {
        int words = msi.Enable.Words;
        _registers.Bind(msi.Enable, w => MsiController.ReadWord(Msi.Enable, w, words), (w, v) => Msi.WriteEnableWord(w, words, v));
        if (msi.Clear is { } clear)
        {
            _registers.Bind(clear, _ => Msi.LastClear, (_, v) => Msi.Clear(v));
        }

        if (msi.Vector is { } vector)
        {
            _registers.Bind(vector, _ => (uint)(Msi.Pending & Msi.Enable), null);
        }

        if (msi.Pba is { } pba)
        {
            _registers.Bind(pba, w => MsiController.ReadWord(Msi.Pending, w, pba.Words), null);
        }
    }

    /// <summary>The identifier of "another build" of the same design (for <c>wrong-ident</c>).</summary>
    internal static string OtherBuildOf(string identifier)
    {
        var m = TimestampRegex().Match(identifier);
        if (m.Success && DateTime.TryParseExact(m.Value, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t))
        {
            return identifier[..m.Index] + t.AddHours(-26).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        }

        return identifier + " (other build)";
    }

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")]
    private static partial Regex TimestampRegex();
}
