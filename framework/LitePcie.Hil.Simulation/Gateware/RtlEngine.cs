using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>How the RTL engine's root complex and the board's user logic behave.</summary>
public sealed record RtlEngineOptions
{
    /// <summary>Read completion boundary: completions are split at multiples of it (64 or 128; 0 = at the max payload size).</summary>
    public int ReadCompletionBoundary { get; init; } = 64;

    /// <summary>Cycles from a device read request to its first completion.</summary>
    public int CompletionLatencyCycles { get; init; }

    /// <summary>Clock cycles per hardware step (the board lock is held that long).</summary>
    public int StepCycles { get; init; } = 1024;

    /// <summary>Cycles without any TLP or user-stream beat after which a step ends early (the hardware is idle).</summary>
    public int IdleCycles { get; init; } = 256;

    /// <summary>Cycles an MMIO read waits for its completion (16 ms at 125 MHz; LiteX's bus timeout answers after 1,000,000).</summary>
    public int MmioTimeoutCycles { get; init; } = 2_000_000;
}

/// <summary>
/// The real LitePCIe RTL of a board, verilated (<c>rtl/boards/&lt;board&gt;</c>, built by <c>rtl/host</c> into
/// <c>liblpc_rtl_&lt;board&gt;</c>), behind our root-complex model: MMIO becomes MRd/MWr TLPs on the PHY's RX stream,
/// the device's requests are served from host memory through <see cref="IBusAddressSpace"/> (completions tag-matched and
/// split at the read completion boundary, UR/CA for what the IOMMU refuses), its interrupt messages come back as
/// <see cref="DeviceMessage"/>s, and the hard IP's configuration inputs follow the PCI function model.
/// </summary>
internal sealed unsafe class RtlEngine : IGatewareEngine
{
    private const uint AbiVersion = 1;
    private readonly IGatewareHost _host;
    private readonly CsrMap _map;
    private readonly RtlEngineOptions _options;
    private readonly string _engineName;
    private readonly Queue<DeviceMessage> _messages = new();
    private readonly Native _native;
    private GCHandle _self;
    private nint _rtl;
    private readonly EngineTable[] _tables;
    private readonly Dictionary<uint, (EngineTable Table, TableRegister Register)> _tableRegisters = [];
    private RtlConfig _applied;
    private string? _rom;
    private ulong _sampledAtCycle = ulong.MaxValue; // the cycle count when the loop_status samples were taken

    private RtlEngine(BoardProfile profile, IGatewareHost host, RtlEngineOptions options, Native native, UserLogic user)
    {
        _host = host;
        _map = profile.CsrMap;
        _options = options;
        _native = native;
        _engineName = $"{profile.Name} endpoint (RTL)";
        var tables = new List<EngineTable>();
        foreach (var channel in _map.Layout.DmaChannels)
        {
            foreach (var e in new[] { channel.Writer, channel.Reader })
            {
                var t = new EngineTable(channel.Index, e.Direction, _map.BarOffsetOf(e.LoopStatus));
                tables.Add(t);
                _tableRegisters[_map.BarOffsetOf(e.Enable)] = (t, TableRegister.Enable);
                _tableRegisters[_map.BarOffsetOf(e.TableWe)] = (t, TableRegister.We);
                _tableRegisters[_map.BarOffsetOf(e.LoopProgN)] = (t, TableRegister.LoopProgN);
                _tableRegisters[_map.BarOffsetOf(e.TableReset)] = (t, TableRegister.Reset);
            }
        }

        _tables = [.. tables];
        _self = GCHandle.Alloc(this);
        var callbacks = new RtlCallbacks { Context = GCHandle.ToIntPtr(_self), Translate = &OnTranslate };
        var o = new RtlOptions
        {
            Rcb = (uint)options.ReadCompletionBoundary,
            CompletionLatency = (uint)options.CompletionLatencyCycles,
            MmioTimeout = (uint)options.MmioTimeoutCycles,
            UserWriterPattern = user.WriterPattern ? 1u : 0u,
            UserBufferSize = (uint)user.BufferSize,
            UserReaderSink = user.ReaderSink ? 1u : 0u,
            UserSeed = user.Seed,
        };
        _rtl = native.Create(&callbacks, &o);
        if (_rtl == 0)
        {
            _self.Free();
            throw new InvalidOperationException($"{native.Path}: lpc_rtl_create refused the callback table");
        }

        Configure(force: true);
        native.PowerOn(_rtl);
    }

    /// <summary>The user logic the board's profile declares (standalone boards drive the DMA user ports).</summary>
    internal readonly record struct UserLogic(bool WriterPattern, int BufferSize, bool ReaderSink, ulong Seed);

    /// <inheritdoc />
    public SimEngine Kind => SimEngine.Rtl;

    /// <inheritdoc />
    public TimeSpan IdleWait => TimeSpan.FromMilliseconds(20);

    /// <summary>Facts compiled into the board's library.</summary>
    internal RtlInfo Info => _native.Info;

    /// <inheritdoc />
    public string RomIdentifier => _rom ??= ReadIdentifierRom();

    /// <inheritdoc />
    public GatewareStatistics Statistics
    {
        get
        {
            var s = Stats();
            return new GatewareStatistics(0, (long)s.DmaWriteBytes, (long)s.DmaReadBytes, 0, 0, (long)s.Cycles)
            {
                ReadRequests = (long)s.ReadRequests,
                WriteRequests = (long)s.WriteRequests,
                Requests4KCrossing = (long)s.Crossing4K,
            };
        }
    }

    /// <inheritdoc />
    public uint BusErrors => _map.Layout.Ctrl.BusErrors is { } r ? Read32(_map.ToBarOffset((uint)r.Address)) : 0;

    /// <summary>The root complex's counters.</summary>
    internal RtlStats Stats()
    {
        RtlStats s;
        _native.GetStats(_rtl, &s);
        return s;
    }

    /// <summary>
    /// Why the RTL engine cannot run <paramref name="profile"/> here (no RTL for the board, or its library was not
    /// built), or null when it can.
    /// </summary>
    public static string? Unavailable(BoardProfile profile)
    {
        if (!File.Exists(Path.Combine(Path.GetDirectoryName(profile.Path)!, "gateware.json")))
        {
            return $"board {profile.Name} has no RTL (no fixtures/boards/{profile.Name}/gateware.json, so rtl/generate.py made none)";
        }

        return FindLibrary(profile.Name) is null
            ? $"the RTL engine of {profile.Name} ({LibraryFileName(profile.Name)}) was not built: install verilator (apt-get install --no-install-recommends verilator) and rebuild, or build rtl/host with CMake (docs/rtl.md)"
            : null;
    }

    /// <summary>Loads the board's RTL engine.</summary>
    public static RtlEngine Create(BoardProfile profile, IGatewareHost host, RtlEngineOptions? options = null)
    {
        if (Unavailable(profile) is { } why)
        {
            throw new InvalidOperationException($"SimEngine=rtl: {why}");
        }

        var native = Native.Load(FindLibrary(profile.Name)!, profile.Name);
        var user = new UserLogic(profile.WriterSource == UserWriterSource.SequencePattern, profile.DmaGeometry.BufferSize,
            profile.ReaderSink == UserReaderSink.Discard, new Dma.SequencePattern(8).Seed);
        return new RtlEngine(profile, host, options ?? new RtlEngineOptions(), native, user);
    }

    /// <summary>The library file of a board's engine.</summary>
    public static string LibraryFileName(string board) => OperatingSystem.IsMacOS() ? $"liblpc_rtl_{board}.dylib" : $"liblpc_rtl_{board}.so";

    /// <inheritdoc />
    public uint Read32(uint barOffset)
    {
        Configure();
        uint v;
        _native.MmioRead(_rtl, barOffset, &v);
        DrainMessages();
        return v;
    }

    /// <inheritdoc />
    public void Write32(uint barOffset, uint value)
    {
        Configure();
        _native.MmioWrite(_rtl, barOffset, value);
        DrainMessages();
        if (_tableRegisters.TryGetValue(barOffset, out var r))
        {
            r.Table.Written(r.Register, value);
        }
    }

    /// <inheritdoc />
    public void Reset(bool powerOn)
    {
        Configure();
        if (powerOn)
        {
            _native.PowerOn(_rtl);
        }
        else
        {
            _native.Reset(_rtl);
        }

        _messages.Clear();
        DrainMessages();
        _messages.Clear();
        foreach (var t in _tables)
        {
            t.Written(TableRegister.Reset, 1);
            t.Written(TableRegister.Enable, 0);
        }
    }

    /// <inheritdoc />
    public bool Step()
    {
        Configure();
        if (_host.FlowControl is { } flow && !MayRun(flow))
        {
            return false; // the clock is gated: not one cycle runs until the host lets every engine go on
        }

        uint activity = 0;
        _native.Run(_rtl, (ulong)_options.StepCycles, 1, (uint)_options.IdleCycles, &activity);
        DrainMessages();
        return activity != 0;
    }

    /// <summary>Runs exactly <paramref name="cycles"/> clock cycles (tests and conformance scenarios).</summary>
    public ulong RunCycles(ulong cycles)
    {
        Configure();
        uint activity = 0;
        ulong n = _native.Run(_rtl, cycles, 0, 0, &activity);
        DrainMessages();
        return n;
    }

    /// <summary>Runs until nothing moved for <paramref name="quietCycles"/> cycles, at most <paramref name="maxCycles"/>.</summary>
    public ulong RunUntilQuiet(ulong maxCycles, uint quietCycles = 2048)
    {
        Configure();
        uint activity = 0;
        ulong n = _native.Run(_rtl, maxCycles, 1, quietCycles, &activity);
        DrainMessages();
        return n;
    }

    /// <inheritdoc />
    public bool TryTakeMessage(out DeviceMessage message) => _messages.TryDequeue(out message);

    /// <inheritdoc />
    public int PendingMessages
    {
        get
        {
            DrainMessages(); // what the root complex already captured but the queue has not seen
            return _messages.Count;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_rtl != 0)
        {
            _native.Destroy(_rtl);
            _rtl = 0;
        }

        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }

    /// <summary>
    /// Asks the host's flow control (the device server's guest coupling, <c>GuestPacing</c>) whether the hardware may
    /// run: the RTL cannot hold one engine before a descriptor as the model does, so a hold stops the whole clock. Each
    /// enabled engine's completed count comes from its <c>loop_status</c> (read through the root complex, as software
    /// would; <c>count·N + index</c> with N the descriptors written in loop mode, the driver's ring), and every enabled
    /// engine is asked, so each one's window follows it. Only the free-running hardware thread steps through here;
    /// <see cref="RunCycles"/> and <see cref="RunUntilQuiet"/> (conformance scenarios) run the hardware as it is.
    /// </summary>
    private bool MayRun(IHostFlowControl flow)
    {
        // Reading loop_status runs the clock (a request and its completion): sample only when the clock ran since the
        // last samples, so a held board runs not one cycle until the host's side changes (or its register accesses do).
        if (Stats().Cycles != _sampledAtCycle)
        {
            foreach (var t in _tables)
            {
                uint raw;
                if (t.Enabled && _native.MmioRead(_rtl, t.LoopStatusOffset, &raw) == 0)
                {
                    t.Sample(raw);
                }
            }

            DrainMessages();
            _sampledAtCycle = Stats().Cycles;
        }

        bool run = true;
        foreach (var t in _tables)
        {
            if (t.Enabled)
            {
                run &= flow.MayProcess(t.Channel, t.Direction, t.Completed);
            }
        }

        return run;
    }

    private static string? FindLibrary(string board)
    {
        string file = LibraryFileName(board);
        var dirs = new List<string>();
        if (Environment.GetEnvironmentVariable("LITEPCIE_HIL_RTL_DIR") is { Length: > 0 } env)
        {
            dirs.Add(env);
        }

        dirs.Add(AppContext.BaseDirectory);
        dirs.Add(Path.GetDirectoryName(typeof(RtlEngine).Assembly.Location) ?? AppContext.BaseDirectory);
        return dirs.Select(d => Path.Combine(d, file)).FirstOrDefault(File.Exists);
    }

    private string ReadIdentifierRom()
    {
        uint start = _map.ToBarOffset(_map.Layout.Identifier.BaseAddress);
        var chars = new System.Text.StringBuilder();
        for (uint i = 0; i < LitePcieLayout.BlockPageSize / 4; i++)
        {
            uint c = Read32(start + i * 4) & 0xFF;
            if (c == 0)
            {
                break;
            }

            chars.Append((char)c);
        }

        return chars.ToString();
    }

    private void Configure(bool force = false)
    {
        int Code(int bytes) => Math.Clamp(System.Numerics.BitOperations.Log2((uint)Math.Max(bytes, 128) / 128), 0, 5);
        var c = new RtlConfig
        {
            Id = 0x0100,
            MpsCode = (byte)Code(_host.MaxPayloadSize),
            MrrsCode = (byte)Code(_host.MaxReadRequestSize),
            BusMaster = _host.BusMasterEnabled ? (byte)1 : (byte)0,
            MsiEnable = _host.MsiEnabled ? (byte)1 : (byte)0,
            MsixEnable = _host.MsixEnabled ? (byte)1 : (byte)0,
            LinkStatus = _host.LinkStatusRaw,
            Bar0 = _host.CsrBarAddress,
        };
        if (force || !c.Equals(_applied))
        {
            _applied = c;
            _native.Configure(_rtl, &c);
        }
    }

    private void DrainMessages()
    {
        var buffer = stackalloc RtlMessage[32];
        uint n;
        do
        {
            n = _native.TakeMessages(_rtl, buffer, 32);
            for (uint i = 0; i < n; i++)
            {
                var m = buffer[i];
                _messages.Enqueue(m.Kind == 0
                    ? new DeviceMessage(DeviceMessageKind.PhyMsi, (int)m.Vector, 0, 0)
                    : new DeviceMessage(DeviceMessageKind.InterruptWrite, 0, m.Address, m.Data));
            }
        }
        while (n == 32);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte* OnTranslate(nint context, ulong bus, uint length, uint isWrite, uint* status)
    {
        try
        {
            var self = (RtlEngine)GCHandle.FromIntPtr(context).Target!;
            byte* p = self._host.Memory.TryTranslate(bus, (int)length, out string? problem);
            if (p is null)
            {
                string what = isWrite != 0 ? "memory write" : "memory read";
                self._host.Memory.RecordFault(new DmaAccessFault(self._engineName, bus, (int)length, $"{what}: {problem}"));
                *status = problem is not null && problem.Contains("past the end", StringComparison.Ordinal) ? 2u : 1u;
            }

            return p;
        }
        catch (Exception)
        {
            *status = 1;
            return null; // never let an exception cross into native code: the request is refused
        }
    }

    /// <summary>The board library's exports.</summary>
    private sealed class Native
    {
        public string Path { get; private init; } = "";

        internal RtlInfo Info { get; private set; }

        public delegate* unmanaged[Cdecl]<RtlCallbacks*, RtlOptions*, nint> Create { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, void> Destroy { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, RtlConfig*, void> Configure { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, void> PowerOn { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, void> Reset { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, ulong, uint*, int> MmioRead { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, ulong, uint, void> MmioWrite { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, ulong, uint, uint, uint*, ulong> Run { get; private init; }

        public delegate* unmanaged[Cdecl]<nint, RtlMessage*, uint, uint> TakeMessages { get; private init; }

        internal delegate* unmanaged[Cdecl]<nint, RtlStats*, void> GetStats { get; private init; }

        private static readonly Dictionary<string, Native> s_loaded = [];

        public static Native Load(string path, string board)
        {
            lock (s_loaded)
            {
                if (s_loaded.TryGetValue(path, out var loaded))
                {
                    return loaded;
                }

                nint lib = NativeLibrary.Load(path);
                nint E(string name) => NativeLibrary.GetExport(lib, name);
                var n = new Native
                {
                    Path = path,
                    Create = (delegate* unmanaged[Cdecl]<RtlCallbacks*, RtlOptions*, nint>)E("lpc_rtl_create"),
                    Destroy = (delegate* unmanaged[Cdecl]<nint, void>)E("lpc_rtl_destroy"),
                    Configure = (delegate* unmanaged[Cdecl]<nint, RtlConfig*, void>)E("lpc_rtl_configure"),
                    PowerOn = (delegate* unmanaged[Cdecl]<nint, void>)E("lpc_rtl_power_on"),
                    Reset = (delegate* unmanaged[Cdecl]<nint, void>)E("lpc_rtl_reset"),
                    MmioRead = (delegate* unmanaged[Cdecl]<nint, ulong, uint*, int>)E("lpc_rtl_mmio_read"),
                    MmioWrite = (delegate* unmanaged[Cdecl]<nint, ulong, uint, void>)E("lpc_rtl_mmio_write"),
                    Run = (delegate* unmanaged[Cdecl]<nint, ulong, uint, uint, uint*, ulong>)E("lpc_rtl_run"),
                    TakeMessages = (delegate* unmanaged[Cdecl]<nint, RtlMessage*, uint, uint>)E("lpc_rtl_take_messages"),
                    GetStats = (delegate* unmanaged[Cdecl]<nint, RtlStats*, void>)E("lpc_rtl_get_stats"),
                };
                var getInfo = (delegate* unmanaged[Cdecl]<RtlInfo*, void>)E("lpc_rtl_get_info");
                RtlInfo info;
                getInfo(&info);
                n.Info = info;
                string built = Marshal.PtrToStringUTF8(info.Board) ?? "";
                if (info.Abi != AbiVersion || built != board)
                {
                    throw new InvalidOperationException($"{path} is the RTL engine of '{built}' (ABI {info.Abi}), not of board {board} (ABI {AbiVersion}): rebuild rtl/host");
                }

                s_loaded[path] = n;
                return n;
            }
        }
    }
}

/// <summary>The table registers whose writes the engine follows to count an engine's descriptors.</summary>
internal enum TableRegister
{
    Enable,
    We,
    LoopProgN,
    Reset,
}

/// <summary>
/// What the host wrote to one DMA engine's table, so its <c>loop_status</c> can be read as a count of descriptors (as
/// the driver extends it): N descriptors written since the table reset, loop or prog mode, enabled or not.
/// </summary>
internal sealed class EngineTable(int channel, LitePcie.Hil.DmaDirection direction, uint loopStatusOffset)
{
    private int _written;
    private bool _loop;
    private LitePcie.Hil.Dma.HwCounter _counter = new(65536);

    public int Channel => channel;

    public LitePcie.Hil.DmaDirection Direction => direction;

    public uint LoopStatusOffset => loopStatusOffset;

    public bool Enabled { get; private set; }

    public void Written(TableRegister register, uint value)
    {
        switch (register)
        {
            case TableRegister.Enable:
                Enabled = (value & 1) != 0;
                break;
            case TableRegister.We:
                _written++;
                break;
            case TableRegister.LoopProgN:
                _loop = (value & 1) != 0;
                _counter = new LitePcie.Hil.Dma.HwCounter(_loop ? Math.Max(1, _written) : 65536);
                break;
            case TableRegister.Reset when (value & 1) != 0:
                _written = 0;
                _counter = new LitePcie.Hil.Dma.HwCounter(_loop ? 1 : 65536);
                Completed = 0;
                break;
        }
    }

    /// <summary>Descriptors taken since the table reset, as of the last <see cref="Sample"/>.</summary>
    public long Completed { get; private set; }

    /// <summary>Folds a loop_status reading in (<c>count·N + index</c>, extended past its 16-bit count).</summary>
    public void Sample(uint loopStatus) => Completed = _counter.Update(loopStatus);
}

/// <summary><c>lpc_rtl_config</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal record struct RtlConfig
{
    public ushort Id;
    public byte MpsCode;
    public byte MrrsCode;
    public byte BusMaster;
    public byte MsiEnable;
    public byte MsixEnable;
    public byte Reserved;
    public uint LinkStatus;
    public uint Reserved2;
    public ulong Bar0;
}

/// <summary><c>lpc_rtl_options</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RtlOptions
{
    public uint Rcb;
    public uint CompletionLatency;
    public uint MmioTimeout;
    public uint UserWriterPattern;
    public uint UserBufferSize;
    public uint UserReaderSink;
    public ulong UserSeed;
}

/// <summary><c>lpc_rtl_callbacks</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct RtlCallbacks
{
    public nint Context;
    public delegate* unmanaged[Cdecl]<nint, ulong, uint, uint, uint*, byte*> Translate;
}

/// <summary><c>lpc_rtl_message</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RtlMessage
{
    public uint Kind;
    public uint Vector;
    public ulong Address;
    public uint Data;
    public uint Reserved;
    public ulong Cycle;
}

/// <summary><c>lpc_rtl_stats</c>: the root complex's counters.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RtlStats
{
    public ulong Cycles;
    public ulong RxTlps;
    public ulong TxTlps;
    public ulong DmaWriteBytes;
    public ulong DmaReadBytes;
    public ulong ReadRequests;
    public ulong Completions;
    public ulong UrCompletions;
    public ulong CaCompletions;
    public ulong DroppedWrites;
    public ulong MmioTimeouts;
    public ulong Messages;
    public ulong BusMasterViolations;
    public ulong UnexpectedTlps;
    public ulong FourDwRequests;
    public ulong MaxReadRequest;
    public ulong WriteRequests;
    public ulong Crossing4K;
    public ulong MalformedTlps;
}

/// <summary><c>lpc_rtl_info</c>: facts compiled into a board's library.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RtlInfo
{
    public uint Abi;
    public uint DataWidth;
    public uint Channels;
    public uint BigEndian;
    public uint UserPorts;
    public uint SocReset;
    public uint Threads;
    public uint Reserved;
    public nint Board;
}
