using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS.IOKit;

namespace LitePcie.Hil.MacOS.Platform;

/// <summary>What an IOKit matching notification said about a board.</summary>
public enum AttachChange
{
    /// <summary>A LitePCIeDriver service was first matched (<c>IOServiceFirstMatch</c>): the dext started on a board.</summary>
    Arrived,

    /// <summary>A LitePCIeDriver service was terminated (<c>IOServiceTerminate</c>): the board or the dext left.</summary>
    Departed,
}

/// <summary>One matching notification.</summary>
/// <param name="Sequence">Increasing number of the notification (compare with <see cref="MacOSAttachWatcher.Mark"/>).</param>
/// <param name="Change">Arrival or departure.</param>
/// <param name="Address">The device address (as <see cref="MacOSBackend"/> enumerates it).</param>
/// <param name="RegistryEntryId">The service's registry entry ID.</param>
/// <param name="At">When it was seen, since the watcher started.</param>
public sealed record AttachNotification(long Sequence, AttachChange Change, string Address, ulong RegistryEntryId, TimeSpan At);

/// <summary>
/// Watches LitePCIeDriver services come and go through <c>IOServiceAddMatchingNotification</c> (first-match and
/// terminated), on its own notification port and serial dispatch queue. The address of a departing service is the one
/// it had when it arrived (looked up by registry entry ID): a terminated service may already be detached from its
/// provider, whose <c>pcidebug</c> the address comes from.
/// </summary>
public sealed class MacOSAttachWatcher : IDisposable
{
    private readonly IIOKit _io;
    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly NotificationQueue _notifications;
    private readonly nint _refcon;
    private readonly uint _arrivals;
    private readonly uint _departures;
    private readonly object _gate = new();
    private readonly List<AttachNotification> _events = [];
    private readonly Dictionary<ulong, string> _present = [];
    private readonly List<(Func<AttachNotification, bool> Match, TaskCompletionSource<AttachNotification> Done)> _waiters = [];
    private long _sequence;
    private int _disposed;

    /// <summary>Watches through this machine's IOKit; on another system this reports why it cannot.</summary>
    /// <exception cref="DeviceCapabilityException">Not macOS.</exception>
    public MacOSAttachWatcher(TimeProvider? time = null)
        : this(IOKitRuntime.Current ?? throw new DeviceCapabilityException("-", "IOKit attach notifications", IOKitRuntime.NotMacOSReason!), time)
    {
    }

    /// <summary>Watches through a given IOKit (a fake in tests).</summary>
    internal unsafe MacOSAttachWatcher(IIOKit io, TimeProvider? time = null)
    {
        _io = io;
        _time = time ?? TimeProvider.System;
        _start = _time.GetTimestamp();
        _notifications = new NotificationQueue(io, "org.litepcie.hil.attach");
        _refcon = CallbackTargets.Add(this);
        try
        {
            _arrivals = Register(IOKitConstants.FirstMatchNotification, (nint)(delegate* unmanaged[Cdecl]<nint, uint, void>)&OnArrived);
            lock (_gate)
            {
                Drain(_arrivals, AttachChange.Arrived, initial: true); // what is there already; draining arms the notification
            }

            _departures = Register(IOKitConstants.TerminatedNotification, (nint)(delegate* unmanaged[Cdecl]<nint, uint, void>)&OnDeparted);
            lock (_gate)
            {
                Drain(_departures, AttachChange.Departed, initial: true);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The sequence number of the latest notification (0 before any): pass it to <see cref="WaitAsync"/>.</summary>
    public long Mark
    {
        get
        {
            lock (_gate)
            {
                return _sequence;
            }
        }
    }

    /// <summary>Every notification seen, oldest first.</summary>
    public IReadOnlyList<AttachNotification> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Addresses of the LitePCIeDriver services present now.</summary>
    public IReadOnlyCollection<string> Present
    {
        get
        {
            lock (_gate)
            {
                return [.. _present.Values.Distinct()];
            }
        }
    }

    /// <summary>Whether a service at <paramref name="address"/> is present.</summary>
    public bool IsPresent(string address)
    {
        lock (_gate)
        {
            return _present.ContainsValue(address);
        }
    }

    /// <summary>
    /// Waits for a <paramref name="change"/> of <paramref name="address"/> with a sequence number above
    /// <paramref name="after"/> (one that happened already counts). Bounded by <paramref name="timeout"/>.
    /// </summary>
    /// <exception cref="DeviceTimeoutException">No such notification within <paramref name="timeout"/>.</exception>
    public async Task<AttachNotification> WaitAsync(AttachChange change, string address, long after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        bool Match(AttachNotification n) => n.Sequence > after && n.Change == change && n.Address == address;
        var waiter = (Match: (Func<AttachNotification, bool>)Match, Done: new TaskCompletionSource<AttachNotification>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_gate)
        {
            if (_events.FirstOrDefault(Match) is { } seen)
            {
                return seen;
            }

            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Done.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            string what = change == AttachChange.Arrived ? $"{IOKitConstants.FirstMatchNotification} (the dext started on the board)" : $"{IOKitConstants.TerminatedNotification} (the board left)";
            throw new DeviceTimeoutException(address, $"the IOKit {what} notification of {MacOSBackend.DriverClass} at {address}", timeout);
        }
        finally
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_arrivals != 0)
        {
            _io.IOObjectRelease(_arrivals);
        }

        if (_departures != 0)
        {
            _io.IOObjectRelease(_departures);
        }

        _notifications.Dispose();
        CallbackTargets.Remove(_refcon);
        lock (_gate)
        {
            foreach (var (_, done) in _waiters)
            {
                done.TrySetException(new ObjectDisposedException(nameof(MacOSAttachWatcher), "the attach watcher was disposed while a wait was pending"));
            }

            _waiters.Clear();
        }
    }

    private uint Register(string type, nint callback)
    {
        var matching = CoreFoundation.CreateMatching(_io, MacOSBackend.KernelServiceClass, [new("IOUserClass", MacOSBackend.DriverClass)]);
        int status = _io.IOServiceAddMatchingNotification(_notifications.Port, type, matching.Handle, callback, _refcon, out uint iterator); // consumes
        return status == IOReturn.Success
            ? iterator
            : throw new DeviceException(DeviceErrorCode.IoError, "-",
                $"IOServiceAddMatchingNotification({type}, {MacOSBackend.DriverClass}) failed with {IOKitConstants.Name(status)}") { NativeCode = status };
    }

    /// <summary>Takes every service off an iterator (which re-arms its notification). Called under <see cref="_gate"/>.</summary>
    private void Drain(uint iterator, AttachChange change, bool initial)
    {
        uint service;
        while ((service = _io.IOIteratorNext(iterator)) != 0)
        {
            try
            {
                _io.IORegistryEntryGetRegistryEntryID(service, out ulong id);
                string address;
                if (change == AttachChange.Arrived)
                {
                    address = AddressOf(service, id);
                    _present[id] = address;
                }
                else
                {
                    address = _present.Remove(id, out var known) ? known : MacOSDextService.AddressOfEntry(id);
                }

                if (!initial)
                {
                    var n = new AttachNotification(++_sequence, change, address, id, _time.GetElapsedTime(_start));
                    _events.Add(n);
                    foreach (var (match, done) in _waiters)
                    {
                        if (match(n))
                        {
                            done.TrySetResult(n);
                        }
                    }
                }
            }
            finally
            {
                _io.IOObjectRelease(service);
            }
        }
    }

    /// <summary>The address of an arriving service; one that cannot be read must not stop the drain (that would disarm the notification).</summary>
    private string AddressOf(uint service, ulong id)
    {
        try
        {
            return MacOSDextService.Read(_io, service).Address;
        }
        catch (Exception e) when (e is InvalidOperationException or OverflowException)
        {
            return MacOSDextService.AddressOfEntry(id);
        }
    }

    private static void OnMatching(nint refcon, uint iterator, AttachChange change)
    {
        using var scope = CallbackTargets.Enter();
        try
        {
            var watcher = CallbackTargets.Get<MacOSAttachWatcher>(refcon);
            if (watcher is null || Volatile.Read(ref watcher._disposed) != 0)
            {
                return;
            }

            lock (watcher._gate)
            {
                watcher.Drain(iterator, change, initial: false);
            }
        }
        catch (Exception)
        {
            // Never let an exception cross into IOKit's dispatch.
        }
    }

    /// <summary><c>IOServiceMatchingCallback</c> for first-match.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnArrived(nint refcon, uint iterator) => OnMatching(refcon, iterator, AttachChange.Arrived);

    /// <summary><c>IOServiceMatchingCallback</c> for terminate.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDeparted(nint refcon, uint iterator) => OnMatching(refcon, iterator, AttachChange.Departed);
}
