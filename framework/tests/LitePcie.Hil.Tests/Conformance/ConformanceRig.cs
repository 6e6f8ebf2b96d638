using System.Globalization;
using System.Security.Cryptography;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.Tests.Conformance;

/// <summary>
/// One simulated board driven at register level for a conformance scenario: the host side (BARs assigned, bus mastering
/// and MSI/MSI-X enabled in config space, DMA buffers in host memory, an interrupt controller recording messages) and the
/// observations the scenario makes. The same scenario runs on a rig of each engine; the observations are compared.
/// </summary>
internal sealed class ConformanceRig : IDisposable, IMsiSink
{
    private readonly List<(string Key, string Value)> _observations = [];
    private readonly List<MsiMessage> _messages = [];
    private readonly List<HostAllocation> _allocations = [];

    public ConformanceRig(string board, SimEngine engine)
    {
        Profile = BoardCatalog.Load(board);
        Board = new SimulatedBoard(Profile, new SimulationOptions { RunHardwareThread = false, Engine = engine });
        SimulatedHostEnumeration.AssignBars(Board);
        Board.WriteConfig(0x04, 2, (uint)(PciCommand.MemorySpace | PciCommand.BusMaster));
        SimulatedHostEnumeration.EnableInterrupts(Board);
        Board.InterruptSink = this;
        Csr = Board.CsrBus;
    }

    public BoardProfile Profile { get; }

    public SimulatedBoard Board { get; }

    public ICsrBus Csr { get; }

    public LitePcieLayout L => Board.Map.Layout;

    public DmaChannelLayout Ch => L.DmaChannels[0];

    public DmaEngineLayout Writer => Ch.Writer;

    public DmaEngineLayout Reader => Ch.Reader;

    public IReadOnlyList<(string Key, string Value)> Observations => _observations;

    /// <summary>Interrupt messages received so far.</summary>
    public IReadOnlyList<MsiMessage> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    public void OnMessage(MsiMessage message, long timestamp)
    {
        lock (_messages)
        {
            _messages.Add(message);
        }
    }

    public uint R(CsrRegister register) => Csr.Read32(register);

    public ulong R64(CsrRegister register) => Csr.Read(register);

    public void W(CsrRegister register, ulong value) => Csr.Write(register, value);

    /// <summary>Zeroed host memory mapped for the device.</summary>
    public HostAllocation Alloc(int bytes)
    {
        var a = Board.Memory.Allocate(bytes, "conformance");
        _allocations.Add(a);
        return a;
    }

    /// <summary>Host memory filled with a recognisable byte pattern (byte i = (i * 7 + seed) mod 251).</summary>
    public HostAllocation Source(int bytes, int seed = 3)
    {
        var a = Alloc(bytes);
        var span = a.Span(0, bytes);
        for (int i = 0; i < bytes; i++)
        {
            span[i] = (byte)((i * 7 + seed) % 251);
        }

        return a;
    }

    /// <summary>Pushes a descriptor into an engine's table (the driver's protocol: value, then we with the address MSBs).</summary>
    public void Push(DmaEngineLayout e, ulong bus, int length, bool irqDisable = false, bool lastDisable = false)
    {
        ulong control = (uint)length & 0xFF_FFFF;
        if (irqDisable)
        {
            control |= 1u << 24;
        }

        if (lastDisable)
        {
            control |= 1u << 25;
        }

        W(e.TableValue, (control << 32) | (uint)bus);
        W(e.TableWe, bus >> 32);
    }

    public void Enable(DmaEngineLayout e, bool on = true) => W(e.Enable, on ? 1u : 0u);

    /// <summary>Enables every MSI source in the MSI block.</summary>
    public void EnableAllMsi() => W(L.Msi.Enable, L.Msi.Enable.Words == 2 ? ulong.MaxValue : (1UL << Math.Min(32, L.Msi.Width)) - 1);

    /// <summary>The driver's stop sequence for one engine (litepcie.ko / dext core order), the flush delay being a settle.</summary>
    public void DriverStop(DmaEngineLayout e)
    {
        W(e.LoopProgN, 0);
        W(e.TableReset, 1);
        Settle();
        W(e.Enable, 0);
        W(e.TableReset, 1);
    }

    /// <summary>Runs the hardware until nothing moves (bounded).</summary>
    public void Settle(long maxCycles = 4 << 20) => Board.Settle(maxCycles);

    /// <summary>Runs a bounded number of RTL cycles (the model settles).</summary>
    public void RunCycles(long cycles) => Board.RunCycles(cycles);

    public void See(string key, object? value) =>
        _observations.Add((key, value switch
        {
            null => "null",
            uint u => $"0x{u:X8}",
            ulong u => $"0x{u:X16}",
            bool b => b ? "true" : "false",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
        }));

    /// <summary>loop_status (count, index), level and the enable register (bit 0 enable, bit 1 idle) of an engine.</summary>
    public void SeeEngine(string name, DmaEngineLayout e)
    {
        uint st = R(e.LoopStatus);
        See($"{name} loop_status", $"count {st >> 16}, index {st & 0xFFFF}");
        See($"{name} level", R(e.Level));
        uint en = R(e.Enable);
        See($"{name} enable", $"enabled {en & 1}, idle {(en >> 1) & 1}");
    }

    /// <summary>Interrupt messages so far, in order (vectors), and their count.</summary>
    public void SeeMessages(string key = "MSI messages")
    {
        var m = Messages;
        See(key, m.Count == 0 ? "none" : $"{m.Count}: vectors {string.Join(",", m.Select(x => x.Vector))}");
    }

    /// <summary>A digest of host memory plus how many of its bytes are still zero.</summary>
    public void SeeMemory(string key, HostAllocation a, long offset = 0, int length = -1)
    {
        var span = a.Span(offset, length < 0 ? (int)(a.Length - offset) : length);
        int zero = span.Count((byte)0);
        See(key, $"{span.Length} B, {zero} zero, sha256 {Convert.ToHexString(SHA256.HashData(span))[..16]}");
    }

    /// <summary>Whether <paramref name="length"/> bytes of <paramref name="a"/> at <paramref name="offset"/> equal <paramref name="source"/> at <paramref name="sourceOffset"/>.</summary>
    public string Same(HostAllocation a, long offset, HostAllocation source, long sourceOffset, int length)
    {
        var x = a.Span(offset, length);
        var y = source.Span(sourceOffset, length);
        int i = x.CommonPrefixLength(y);
        if (i == length)
        {
            return "yes";
        }

        int last = length - 1;
        while (last > i && x[last] != y[last])
        {
            last--;
        }

        return $"no: differs from byte {i}" + (x[i..].SequenceEqual(y[i..]) ? "" : $" ({x[i..].Count((byte)0)} zero bytes from there)");
    }

    public void SeeBusErrors() => See("bus_errors", L.Ctrl.BusErrors is { } r ? R(r) : 0u);

    public void SeeDmaFaults() => See("IOMMU faults", Board.Memory.Faults.Count > 0 ? $"{Board.Memory.Faults.Count} (first at bus 0x{Board.Memory.Faults[0].BusAddress:X})" : "none");

    public void Dispose()
    {
        Board.InterruptSink = null;
        foreach (var a in _allocations)
        {
            if (!a.IsFreed)
            {
                Board.Memory.Free(a);
            }
        }

        Board.Dispose();
    }
}
