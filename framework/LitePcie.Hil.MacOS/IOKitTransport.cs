using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS.IOKit;

namespace LitePcie.Hil.MacOS;

/// <summary>
/// One open user client of the LitePCIe dext through IOKit: <see cref="Call"/> is <c>IOConnectCallMethod</c> with the
/// exact scalar and struct counts of the method table, <see cref="CallAsync"/> is <c>IOConnectCallAsyncMethod</c>
/// whose completion arrives on this transport's notification port, <see cref="Map"/> is <c>IOConnectMapMemory64</c>
/// with <see cref="DextAbi.MemoryType"/> as the memory type.
/// </summary>
/// <remarks>
/// <para>Notifications: the transport owns an <c>IONotificationPort</c> serviced by a private serial dispatch queue
/// (<c>IONotificationPortSetDispatchQueue</c>), not a run-loop thread. Async completions and the service's
/// <c>IOGeneralInterest</c> messages run there.</para>
/// <para>Termination (<c>kIOMessageServiceIsTerminated</c>, or a call answered with a code that means the client is
/// gone): <see cref="IsTerminated"/> latches, pending waits complete with <c>kIOReturnOffline</c> and every later call
/// answers <c>kIOReturnOffline</c> without reaching IOKit. Mappings stay until <see cref="Dispose"/>: the session
/// still reads its status page, and the kernel keeps mapped memory alive until it is unmapped.</para>
/// <para><see cref="Dispose"/> aborts pending waits (<c>kIOReturnAborted</c>), removes the interest notification,
/// unmaps every mapping, closes the connection (<c>IOServiceClose</c>), destroys the port (waiting, bounded, for
/// callbacks already queued) and releases the service.</para>
/// </remarks>
internal sealed unsafe class IOKitTransport : IDextTransport
{
    private static readonly ConcurrentDictionary<nint, PendingCall> s_pending = new();
    private static long s_nextCall;

    private readonly IIOKit _io;
    private readonly uint _service;
    private readonly uint _connection;
    private readonly NotificationQueue _notifications;
    private readonly nint _refcon;
    private readonly uint _interest;
    private readonly object _gate = new();
    private readonly Dictionary<uint, DextMapping> _mappings = [];
    private readonly HashSet<nint> _calls = [];
    private int _terminated;
    private int _disposed;

    /// <summary>
    /// Wraps an open connection. Takes ownership of <paramref name="service"/> and <paramref name="connection"/>
    /// (both released on <see cref="Dispose"/>, and on failure here). Registers for the service's termination.
    /// </summary>
    /// <param name="io">IOKit (the real one on macOS, a fake in tests).</param>
    /// <param name="service">The LitePCIeDriver service (<c>io_service_t</c>).</param>
    /// <param name="connection">The user client from <c>IOServiceOpen(service, task, 0, &amp;connection)</c>.</param>
    /// <param name="device">The device address (for messages).</param>
    internal IOKitTransport(IIOKit io, uint service, uint connection, string device)
    {
        _io = io;
        _service = service;
        _connection = connection;
        Device = device;
        try
        {
            _notifications = new NotificationQueue(io, $"org.litepcie.hil.transport {device}");
        }
        catch
        {
            io.IOServiceClose(connection);
            io.IOObjectRelease(service);
            throw;
        }

        _refcon = CallbackTargets.Add(this);
        int status = io.IOServiceAddInterestNotification(_notifications.Port, service, IOKitConstants.GeneralInterest,
            (nint)(delegate* unmanaged[Cdecl]<nint, uint, uint, nint, void>)&OnInterest, _refcon, out _interest);
        if (status != IOReturn.Success)
        {
            ReleaseAll();
            throw new DeviceException(DeviceErrorCode.IoError, device,
                $"IOServiceAddInterestNotification({IOKitConstants.GeneralInterest}) on the LitePCIeDriver service failed with {IOKitConstants.Name(status)}: " +
                "the session could not learn of the board's removal") { NativeCode = status };
        }
    }

    /// <inheritdoc />
    public string Device { get; }

    /// <summary>Whether the service was terminated (board gone, dext stopped or crashed). Latched.</summary>
    public bool IsTerminated => Volatile.Read(ref _terminated) != 0;

    /// <summary>Raised once, on the notification queue, when the service is terminated.</summary>
    internal event Action<IOKitTransport>? Terminated;

    /// <summary>Async calls still waiting for their completion.</summary>
    public int PendingCalls
    {
        get
        {
            lock (_gate)
            {
                return _calls.Count;
            }
        }
    }

    /// <inheritdoc />
    public int Call(DextSelector selector, ReadOnlySpan<ulong> scalarInput, ReadOnlySpan<byte> structInput,
        Span<ulong> scalarOutput, Span<byte> structOutput, out int structOutputSize)
    {
        structOutputSize = 0;
        if (Volatile.Read(ref _disposed) != 0)
        {
            return IOReturn.NotOpen;
        }

        if (IsTerminated)
        {
            return IOReturn.Offline;
        }

        uint outputCount = (uint)scalarOutput.Length;
        nuint outputSize = (nuint)structOutput.Length;
        int status = _io.IOConnectCallMethod(_connection, (uint)selector, scalarInput, structInput, scalarOutput, ref outputCount,
            structOutput, ref outputSize);
        if (status == IOReturn.Success)
        {
            structOutputSize = (int)Math.Min(outputSize, (nuint)structOutput.Length);
            if (outputCount < scalarOutput.Length)
            {
                scalarOutput[(int)outputCount..].Clear();
            }
        }

        return Normalize(status);
    }

    /// <inheritdoc />
    public int CallAsync(DextSelector selector, ReadOnlySpan<ulong> scalarInput, out Task<DextCompletion> completion)
    {
        if (Volatile.Read(ref _disposed) != 0 || IsTerminated)
        {
            int refused = Volatile.Read(ref _disposed) != 0 ? IOReturn.NotOpen : IOReturn.Offline;
            completion = Task.FromResult(new DextCompletion(refused, 0, 0));
            return refused;
        }

        var call = new PendingCall(this);
        nint token = (nint)Interlocked.Increment(ref s_nextCall);
        s_pending[token] = call;
        lock (_gate)
        {
            _calls.Add(token);
        }

        Span<ulong> reference = stackalloc ulong[IOKitConstants.AsyncRef64Count];
        reference.Clear();
        reference[IOKitConstants.AsyncCalloutFuncIndex] = (ulong)(nint)(delegate* unmanaged[Cdecl]<nint, int, ulong*, uint, void>)&OnAsyncCompletion;
        reference[IOKitConstants.AsyncCalloutRefconIndex] = (ulong)token;
        uint outputCount = 0;
        nuint outputSize = 0;
        int status = _io.IOConnectCallAsyncMethod(_connection, (uint)selector, _notifications.MachPort,
            reference[..IOKitConstants.AsyncCalloutCount], scalarInput, [], [], ref outputCount, [], ref outputSize);
        status = Normalize(status);
        if (status != IOReturn.Success)
        {
            // The dext did not keep the reference: no completion will come.
            Forget(token);
            call.Completion.TrySetResult(new DextCompletion(status, 0, 0));
        }

        completion = call.Completion.Task;
        return status;
    }

    /// <inheritdoc />
    public DextMapping Map(DextMemoryKind kind, int channel)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        uint type = (uint)DextAbi.MemoryType(kind, channel);
        lock (_gate)
        {
            if (_mappings.TryGetValue(type, out var existing))
            {
                return existing;
            }

            int status;
            ulong address = 0, size = 0;
            if (IsTerminated)
            {
                status = IOReturn.Offline;
            }
            else
            {
                status = Normalize(_io.IOConnectMapMemory64(_connection, type, ref address, ref size, IOKitConstants.MapAnywhere));
            }

            if (status != IOReturn.Success)
            {
                throw DextClient.ToException(Device, DextSelector.GetInfo, status,
                    $"IOConnectMapMemory64(type 0x{type:X}: {kind}, channel {channel}) refused with {IOKitConstants.Name(status)}");
            }

            // Status page and writer rings are mapped read-only by the dext (kIOUserClientMemoryReadOnly); reader rings are the client's to fill.
            var mapping = new DextMapping((nint)address, checked((long)size), kind != DextMemoryKind.ReaderRing);
            _mappings[type] = mapping;
            return mapping;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AbortPending(IOReturn.Aborted);
        ReleaseAll();
    }

    /// <summary>Maps the codes that mean "the client or its service is gone" to kIOReturnOffline and latches termination.</summary>
    private int Normalize(int status)
    {
        if (status != IOReturn.Success && IOKitConstants.MeansGone(status))
        {
            MarkTerminated();
            return IOReturn.Offline;
        }

        return status;
    }

    private void MarkTerminated()
    {
        if (Interlocked.Exchange(ref _terminated, 1) != 0)
        {
            return;
        }

        AbortPending(IOReturn.Offline);
        try
        {
            Terminated?.Invoke(this);
        }
        catch (Exception)
        {
            // A subscriber's failure must not stop the termination from being recorded.
        }
    }

    private void AbortPending(int status)
    {
        nint[] tokens;
        lock (_gate)
        {
            tokens = [.. _calls];
            _calls.Clear();
        }

        foreach (nint token in tokens)
        {
            if (s_pending.TryRemove(token, out var call))
            {
                call.Completion.TrySetResult(new DextCompletion(status, 0, 0));
            }
        }
    }

    private void Forget(nint token)
    {
        s_pending.TryRemove(token, out _);
        lock (_gate)
        {
            _calls.Remove(token);
        }
    }

    private void ReleaseAll()
    {
        if (_interest != 0)
        {
            _io.IOObjectRelease(_interest);
        }

        lock (_gate)
        {
            foreach (var (type, mapping) in _mappings)
            {
                _io.IOConnectUnmapMemory64(_connection, type, (ulong)mapping.Address);
            }

            _mappings.Clear();
        }

        _io.IOServiceClose(_connection);
        _notifications.Dispose();
        CallbackTargets.Remove(_refcon);
        _io.IOObjectRelease(_service);
    }

    private void Complete(nint token, int status, ulong hwCount, ulong lost)
    {
        lock (_gate)
        {
            _calls.Remove(token);
        }

        if (s_pending.TryRemove(token, out var call))
        {
            call.Completion.TrySetResult(new DextCompletion(Normalize(status), hwCount, lost));
        }
    }

    /// <summary><c>IOAsyncCallback</c>: the dext's AsyncCompletion for one call (refcon = the call's token).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnAsyncCompletion(nint refcon, int result, ulong* args, uint count)
    {
        using var scope = CallbackTargets.Enter();
        try
        {
            if (s_pending.TryGetValue(refcon, out var call))
            {
                ulong hw = count > 0 && args != null ? args[0] : 0;
                ulong lost = count > 1 && args != null ? args[1] : 0;
                call.Owner.Complete(refcon, result, hw, lost);
            }
        }
        catch (Exception)
        {
            // Never let an exception cross into IOKit's dispatch.
        }
    }

    /// <summary><c>IOServiceInterestCallback</c> for <c>IOGeneralInterest</c> on the service (refcon = the transport's id).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnInterest(nint refcon, uint service, uint messageType, nint argument)
    {
        using var scope = CallbackTargets.Enter();
        try
        {
            if (messageType == IOKitConstants.MessageServiceIsTerminated)
            {
                CallbackTargets.Get<IOKitTransport>(refcon)?.MarkTerminated();
            }
        }
        catch (Exception)
        {
            // Never let an exception cross into IOKit's dispatch.
        }
    }

    private sealed class PendingCall(IOKitTransport owner)
    {
        internal IOKitTransport Owner { get; } = owner;

        internal TaskCompletionSource<DextCompletion> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
