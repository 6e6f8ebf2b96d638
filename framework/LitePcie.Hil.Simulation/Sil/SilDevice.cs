using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.Simulation.Sil;

/// <summary>Options of one SIL device host.</summary>
/// <param name="HostFlowControl">Hold the engines when the client has not released buffers (lossless SIL).</param>
/// <param name="DmaSegmentSize">Split DMA rings into segments of this size at scattered bus addresses (0 = one segment).</param>
public sealed record SilDeviceOptions(bool HostFlowControl = true, long DmaSegmentSize = 0);

/// <summary>
/// Hosts the dext core (<c>liblpc_sil</c>) for one simulated board, the way DriverKit hosts it on macOS:
/// the core's MMIO and config accesses reach the board model, its DMA rings are allocated in the board's
/// bus address space, the board's MSIs enter the core's interrupt path and async completions come back
/// to C#. One instance per attached board; clients connect through <see cref="OpenClient"/>.
/// </summary>
public sealed unsafe class SilDevice : IMsiSink, IHostFlowControl, IDisposable
{
    private readonly SimulatedBoard _board;
    private readonly SilDeviceOptions _options;
    private readonly GCHandle _self;
    private readonly ConcurrentDictionary<ulong, HostAllocation> _dma = new();
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<DextCompletion>> _waits = new();
    private readonly ConcurrentQueue<string> _log = new();
    private readonly object _lifecycle = new();
    private nint _native;
    private long _nextDmaHandle;
    private long _nextToken;
    private nint _statusPage;
    private int _ringSize = 256;
    private int _inFlight;
    private volatile bool _closing;
    private bool _started;
    private int _clients;
    private bool _retired;
    private long _mmioWhileAbsent;

    /// <summary>An instance of the dext core hosted for <paramref name="board"/> at bus address <paramref name="address"/>.</summary>
    public SilDevice(SimulatedBoard board, string address, SilDeviceOptions? options = null)
    {
        _board = board;
        Address = address;
        _options = options ?? new SilDeviceOptions();
        uint abi = LpcSilNative.AbiVersion();
        if (abi >> 16 != DextAbi.AbiMajor)
        {
            throw new InvalidOperationException($"liblpc_sil ABI {abi >> 16}.{abi & 0xFFFF} does not match the framework's {DextAbi.AbiMajor}.{DextAbi.AbiMinor}: rebuild dext/");
        }

        _self = GCHandle.Alloc(this);
        var cb = new SilCallbacks
        {
            Context = GCHandle.ToIntPtr(_self),
            MmioRead32 = &OnMmioRead32,
            MmioWrite32 = &OnMmioWrite32,
            ConfigRead32 = &OnConfigRead32,
            ConfigWrite16 = &OnConfigWrite16,
            AllocateDma = &OnAllocateDma,
            FreeDma = &OnFreeDma,
            CompleteAsync = &OnCompleteAsync,
            ResetFunction = &OnResetFunction,
            Log = &OnLog,
        };
        _native = LpcSilNative.Create(&cb);
        if (_native == 0)
        {
            _self.Free();
            throw new InvalidOperationException("lpc_sil_create refused the callback table");
        }
    }

    /// <summary>PCI address of the device.</summary>
    public string Address { get; }

    /// <summary>The simulated board behind it.</summary>
    public SimulatedBoard Board => _board;

    /// <summary>Whether the driver is started.</summary>
    public bool IsStarted
    {
        get
        {
            lock (_lifecycle)
            {
                return _started;
            }
        }
    }

    /// <summary>
    /// MMIO the core issued while the board was off the bus. On real hardware each such read waits for a
    /// completion timeout; a driver that knows the device is gone issues none.
    /// </summary>
    public long MmioWhileAbsent => Interlocked.Read(ref _mmioWhileAbsent);

    /// <summary>What the core logged (most recent last, bounded).</summary>
    public IReadOnlyList<string> Log => [.. _log];

    /// <summary>Driver Start with the board's layout; returns the IOReturn.</summary>
    internal int Start(LpcBoardLayout layout)
    {
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_native == 0, this);
            _ringSize = (int)layout.BufferCount;
            _board.InterruptSink = this;
            int status = LpcSilNative.Start(_native, &layout);
            if (status == IOReturn.Success)
            {
                _started = true;
                if (_options.HostFlowControl)
                {
                    _board.FlowControl = this;
                }
            }
            else
            {
                _board.InterruptSink = null;
            }

            return status;
        }
    }

    /// <summary>NewUserClient: returns the IOReturn and the client id.</summary>
    public int OpenClient(out uint client)
    {
        client = 0;
        if (!TryEnter())
        {
            return IOReturn.Offline;
        }

        try
        {
            uint id = 0;
            int status = LpcSilNative.Open(_native, 0, &id);
            client = id;
            if (status == IOReturn.Success)
            {
                Interlocked.Increment(ref _clients);
            }

            return status;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>User client Stop. The last client of a retired device lets the device go (driver Stop and free).</summary>
    public void CloseClient(uint client)
    {
        if (TryEnter())
        {
            try
            {
                LpcSilNative.Close(_native, client);
            }
            finally
            {
                Exit();
            }
        }

        bool release;
        lock (_lifecycle)
        {
            release = Interlocked.Decrement(ref _clients) <= 0 && _retired;
        }

        if (release)
        {
            Dispose();
        }
    }

    /// <summary>Whether the native device has been freed.</summary>
    public bool IsDisposed
    {
        get
        {
            lock (_lifecycle)
            {
                return _native == 0;
            }
        }
    }

    /// <summary>Clients connected now.</summary>
    public int Clients => Volatile.Read(ref _clients);

    /// <summary>Whether the device was detached (it is freed once its last client closed).</summary>
    public bool IsRetired
    {
        get
        {
            lock (_lifecycle)
            {
                return _retired;
            }
        }
    }

    /// <summary>
    /// The board left the bus: the core learns the device is gone (engines stopped, waits aborted with
    /// kIOReturnOffline), and the device is torn down (driver Stop, memory freed) as soon as no client holds
    /// it — as IOKit terminates a service only after its user clients closed, so a client's mappings stay
    /// valid until it unmaps them.
    /// </summary>
    public void Retire()
    {
        bool release;
        lock (_lifecycle)
        {
            if (_retired || _native == 0)
            {
                return;
            }

            _retired = true;
            release = Volatile.Read(ref _clients) <= 0;
        }

        if (TryEnter())
        {
            try
            {
                LpcSilNative.DeviceRemoved(_native);
            }
            finally
            {
                Exit();
            }
        }

        if (release)
        {
            Dispose();
        }
    }

    /// <summary>One synchronous external method.</summary>
    internal int Call(uint client, DextSelector selector, ReadOnlySpan<ulong> scalarInput, ReadOnlySpan<byte> structInput,
        Span<ulong> scalarOutput, Span<byte> structOutput, out int structOutputSize)
    {
        ulong written = 0;
        uint taken = 0;
        int status;
        if (!TryEnter())
        {
            structOutputSize = 0;
            return IOReturn.Offline; // the service is gone: what a terminated user client answers
        }

        try
        {
            fixed (ulong* si = scalarInput)
            fixed (byte* bi = structInput)
            fixed (ulong* so = scalarOutput)
            fixed (byte* bo = structOutput)
            {
                status = LpcSilNative.Call(_native, client, (ulong)selector, si, (uint)scalarInput.Length, bi, (ulong)structInput.Length,
                    so, (uint)scalarOutput.Length, bo, (ulong)structOutput.Length, &written, 0, 0, &taken);
            }
        }
        finally
        {
            Exit();
        }

        structOutputSize = (int)written;
        if (selector is DextSelector.UpdateSwCount or DextSelector.DmaStart or DextSelector.SetLoopback)
        {
            _board.Kick(); // the engines may proceed now
        }
        else if (status == IOReturn.Success && selector is DextSelector.CsrRead32 or DextSelector.BarRead32 or DextSelector.ConfigRead32)
        {
            // A read's completion arrives after every MSI the device posted before it: those reach the interrupt handler
            // before the client sees the value (the core's lock is released by now; delivery takes it).
            _board.FlushPostedMessages();
        }

        return status;
    }

    /// <summary>An asynchronous external method; the task completes when the core calls CompleteAsync.</summary>
    internal int CallAsync(uint client, DextSelector selector, ReadOnlySpan<ulong> scalarInput, out Task<DextCompletion> completion)
    {
        ulong token = (ulong)Interlocked.Increment(ref _nextToken);
        var tcs = new TaskCompletionSource<DextCompletion>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waits[token] = tcs;
        ulong written = 0;
        uint taken = 0;
        int status;
        if (!TryEnter())
        {
            _waits.TryRemove(token, out _);
            completion = tcs.Task;
            return IOReturn.Offline;
        }

        try
        {
            fixed (ulong* si = scalarInput)
            {
                status = LpcSilNative.Call(_native, client, (ulong)selector, si, (uint)scalarInput.Length, null, 0, null, 0, null, 0,
                    &written, 1, token, &taken);
            }
        }
        finally
        {
            Exit();
        }

        if (taken == 0)
        {
            _waits.TryRemove(token, out _); // the core did not keep it: release, as the glue releases the OSAction
        }

        completion = tcs.Task;
        return status;
    }

    /// <summary>CopyClientMemoryForType + mapping.</summary>
    internal int Map(uint client, DextMemoryKind kind, int channel, out DextMapping mapping)
    {
        ulong address = 0, length = 0;
        uint readOnly = 0;
        int status;
        if (!TryEnter())
        {
            mapping = default;
            return IOReturn.Offline;
        }

        try
        {
            status = LpcSilNative.Map(_native, client, DextAbi.MemoryType(kind, channel), &address, &length, &readOnly);
        }
        finally
        {
            Exit();
        }

        mapping = new DextMapping((nint)address, (long)length, readOnly != 0);
        if (status == IOReturn.Success && kind == DextMemoryKind.Status)
        {
            Volatile.Write(ref _statusPage, (nint)address);
        }

        return status;
    }

    /// <summary>SetPowerState(on/off) of the driver.</summary>
    public void SetPowerState(bool on) => Native(n => LpcSilNative.SetPower(n, on ? 1u : 0u));

    /// <summary>Tells the core the device is gone (what a terminate notification does).</summary>
    public void DeviceRemoved() => Native(LpcSilNative.DeviceRemoved);

    /// <summary>Driver-side resource counters (zero once the device is freed).</summary>
    internal SilStats Stats()
    {
        SilStats s = default;
        if (!TryEnter())
        {
            return s;
        }

        try
        {
            LpcSilNative.Stats(_native, &s);
        }
        finally
        {
            Exit();
        }

        return s;
    }

    /// <summary>Process-wide count of live SIL devices.</summary>
    public static ulong LiveDevices()
    {
        SilStats s;
        LpcSilNative.Stats(0, &s);
        return s.LiveDevices;
    }

    /// <summary>The board's MSIs enter the core's interrupt path (as InterruptOccurred).</summary>
    public void OnMessage(MsiMessage message, long timestamp)
    {
        if (!TryEnter())
        {
            return;
        }

        try
        {
            LpcSilNative.Interrupt(_native, (uint)message.Vector, LpcSilNative.NowNs());
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Lossless SIL: a writer may overwrite buffer k − ring only once the client consumed it; a reader may fetch k once filled.</summary>
    public bool MayProcess(int channel, DmaDirection direction, long completed)
    {
        nint page = Volatile.Read(ref _statusPage);
        if (page == 0)
        {
            return true;
        }

        ref var s = ref *(LpcDirStatus*)((byte*)page + DextAbi.DirStatusOffset(channel, direction));
        if (Volatile.Read(ref s.Running) == 0)
        {
            return true;
        }

        long ack = (long)Volatile.Read(ref s.ClientAck);
        return direction == DmaDirection.Writer ? completed < ack + _ringSize : completed < ack;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lifecycle)
        {
            if (_native == 0)
            {
                return;
            }

            _closing = true;
            _board.InterruptSink = null;
            _board.FlowControl = null;
            var spin = new SpinWait();
            while (Volatile.Read(ref _inFlight) != 0)
            {
                spin.SpinOnce();
            }

            LpcSilNative.Destroy(_native); // stops the core if needed and joins its timer thread
            _native = 0;
            _started = false;
            foreach (var (_, tcs) in _waits)
            {
                tcs.TrySetResult(new DextCompletion(IOReturn.Aborted, 0, 0));
            }

            _waits.Clear();
            foreach (var (_, a) in _dma)
            {
                if (!a.IsFreed)
                {
                    _board.Memory.Free(a);
                }
            }

            _dma.Clear();
            _self.Free();
        }
    }

    private void Native(Action<nint> call)
    {
        if (!TryEnter())
        {
            return;
        }

        try
        {
            call(_native);
        }
        finally
        {
            Exit();
        }
    }

    private bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (_closing)
        {
            Interlocked.Decrement(ref _inFlight);
            return false;
        }

        return true;
    }

    private void Exit() => Interlocked.Decrement(ref _inFlight);

    private void Record(string message)
    {
        _log.Enqueue(message);
        while (_log.Count > 200 && _log.TryDequeue(out _))
        {
        }
    }

    private static SilDevice Get(nint context) => (SilDevice)GCHandle.FromIntPtr(context).Target!;

    private void CountAbsent()
    {
        if (!_board.IsPresent)
        {
            Interlocked.Increment(ref _mmioWhileAbsent);
        }
    }

    // ---- callbacks from the core (never let an exception cross into native code) ----

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static uint OnMmioRead32(nint context, uint bar, ulong offset)
    {
        try
        {
            var self = Get(context);
            self.CountAbsent();
            return self._board.ReadBar((int)bar, offset);
        }
        catch (Exception e)
        {
            Get(context).Record($"MMIO read BAR{bar}+0x{offset:X} failed: {e.Message}");
            return uint.MaxValue;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMmioWrite32(nint context, uint bar, ulong offset, uint value)
    {
        try
        {
            var self = Get(context);
            self.CountAbsent();
            self._board.WriteBar((int)bar, offset, value);
        }
        catch (Exception e)
        {
            Get(context).Record($"MMIO write BAR{bar}+0x{offset:X} failed: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static uint OnConfigRead32(nint context, uint offset)
    {
        try
        {
            return Get(context)._board.ReadConfig((int)offset, 4);
        }
        catch (Exception e)
        {
            Get(context).Record($"config read 0x{offset:X} failed: {e.Message}");
            return uint.MaxValue;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnConfigWrite16(nint context, uint offset, ushort value)
    {
        try
        {
            Get(context)._board.WriteConfig((int)offset, 2, value);
        }
        catch (Exception e)
        {
            Get(context).Record($"config write 0x{offset:X} failed: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnAllocateDma(nint context, ulong bytes, uint maxAddressBits, SilDmaBuffer* output)
    {
        var self = Get(context);
        try
        {
            if (maxAddressBits < self._board.Memory.DmaAddressWidth)
            {
                return IOReturn.Unsupported;
            }

            long segment = self._options.DmaSegmentSize;
            if (segment > 0 && (long)bytes / segment > DextAbi.MaxSegments)
            {
                segment = ((long)bytes / DextAbi.MaxSegments + 4095) & ~4095L;
            }

            var a = self._board.Memory.Allocate((long)bytes, $"{self.Address} dext ring", segment);
            ulong handle = (ulong)Interlocked.Increment(ref self._nextDmaHandle);
            self._dma[handle] = a;
            output->CpuAddress = (ulong)a.Pointer;
            output->Length = (ulong)a.Length;
            output->Handle = handle;
            output->SegmentCount = (uint)a.Segments.Count;
            for (int i = 0; i < a.Segments.Count; i++)
            {
                output->Segments[i] = new SilSegment { BusAddress = a.Segments[i].BusAddress, Length = (ulong)a.Segments[i].Length };
            }

            return IOReturn.Success;
        }
        catch (Exception e)
        {
            self.Record($"DMA allocation of {bytes} bytes failed: {e.Message}");
            return IOReturn.NoMemory;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFreeDma(nint context, ulong handle)
    {
        var self = Get(context);
        try
        {
            if (self._dma.TryRemove(handle, out var a))
            {
                self._board.Memory.Free(a);
            }
            else
            {
                self.Record($"free of unknown DMA handle {handle}");
            }
        }
        catch (Exception e)
        {
            self.Record($"DMA free failed: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnCompleteAsync(nint context, ulong token, int status, ulong* args, uint count)
    {
        var self = Get(context);
        try
        {
            if (self._waits.TryRemove(token, out var tcs))
            {
                tcs.TrySetResult(new DextCompletion(status, count > 0 ? args[0] : 0, count > 1 ? args[1] : 0));
            }
            else
            {
                self.Record($"completion for unknown token {token}");
            }
        }
        catch (Exception e)
        {
            self.Record($"completion failed: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnResetFunction(nint context, uint type)
    {
        var self = Get(context);
        try
        {
            // What the PCI family does around a reset: save the config header and capabilities, reset,
            // restore (RestoreDeviceState).
            var board = self._board;
            var saved = new uint[64];
            for (int i = 1; i < saved.Length; i++)
            {
                saved[i] = board.ReadConfig(i * 4, 4);
            }

            board.FunctionReset();
            for (int i = 1; i < saved.Length; i++)
            {
                if (i != 1)
                {
                    board.WriteConfig(i * 4, 4, saved[i]);
                }
            }

            board.WriteConfig(4, 2, saved[1] & 0xFFFF); // command last: BARs first, then decode on
            return IOReturn.Success;
        }
        catch (Exception e)
        {
            self.Record($"reset type {type} failed: {e.Message}");
            return IOReturn.IOError;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(nint context, byte* message)
    {
        try
        {
            Get(context).Record(Marshal.PtrToStringUTF8((nint)message) ?? "");
        }
        catch (Exception)
        {
            // Logging must never fail the core.
        }
    }
}
