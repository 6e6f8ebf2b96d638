using System.Collections.Concurrent;

namespace LitePcie.Hil.MacOS.IOKit;

/// <summary>
/// Objects reachable from native callbacks through an integer refcon. A refcon is an id, never a GCHandle: a callback
/// that arrives after its target was removed finds nothing and does nothing, so no late callback can touch freed state.
/// </summary>
internal static class CallbackTargets
{
    private static readonly ConcurrentDictionary<nint, object> s_targets = new();
    private static long s_next;

    [ThreadStatic]
    private static int t_depth;

    /// <summary>Whether the current thread is running one of the backend's IOKit callbacks.</summary>
    public static bool InCallback => t_depth > 0;

    /// <summary>Registers a target; returns its refcon.</summary>
    public static nint Add(object target)
    {
        nint id = (nint)Interlocked.Increment(ref s_next);
        s_targets[id] = target;
        return id;
    }

    /// <summary>The target of a refcon, or null once removed.</summary>
    public static T? Get<T>(nint refcon) where T : class => s_targets.TryGetValue(refcon, out var target) ? target as T : null;

    /// <summary>Removes a target: later callbacks with its refcon are ignored.</summary>
    public static void Remove(nint refcon) => s_targets.TryRemove(refcon, out _);

    /// <summary>Marks the current thread as inside a callback until the scope is disposed.</summary>
    public static Scope Enter()
    {
        t_depth++;
        return default;
    }

    /// <summary>The extent of one callback.</summary>
    public readonly struct Scope : IDisposable
    {
        public void Dispose() => t_depth--;
    }
}

/// <summary>
/// An <c>IONotificationPort</c> serviced by its own serial dispatch queue (<c>IONotificationPortSetDispatchQueue</c>):
/// async completions, interest, matching and power messages run there, one at a time, with no run-loop thread to
/// own. Disposal destroys the port, then waits (bounded) for callbacks already queued to finish before the queue
/// is released, so nothing the callbacks use is freed under them.
/// </summary>
internal sealed class NotificationQueue : IDisposable
{
    /// <summary>How long disposal waits for callbacks already queued.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly IIOKit _io;
    private readonly nint _queue;
    private nint _port;

    /// <summary>Creates a port (or adopts <paramref name="existingPort"/>, e.g. from IORegisterForSystemPower) and its queue.</summary>
    public NotificationQueue(IIOKit io, string label, nint existingPort = 0)
    {
        _io = io;
        _port = existingPort != 0 ? existingPort : io.IONotificationPortCreate();
        if (_port == 0)
        {
            throw new InvalidOperationException($"IONotificationPortCreate returned NULL ({label})");
        }

        _queue = io.DispatchQueueCreate(label);
        if (_queue == 0)
        {
            io.IONotificationPortDestroy(_port);
            _port = 0;
            throw new InvalidOperationException($"dispatch_queue_create(\"{label}\") returned NULL");
        }

        io.IONotificationPortSetDispatchQueue(_port, _queue);
        Label = label;
    }

    /// <summary>The queue's label (for messages).</summary>
    public string Label { get; }

    /// <summary>The <c>IONotificationPortRef</c>.</summary>
    public nint Port => _port;

    /// <summary>The port's Mach port: the wake port of async methods.</summary>
    public uint MachPort => _io.IONotificationPortGetMachPort(_port);

    /// <summary>Whether the last disposal's drain finished in time (diagnostics).</summary>
    public bool Drained { get; private set; }

    public void Dispose()
    {
        if (_port == 0)
        {
            return;
        }

        _io.IONotificationPortDestroy(_port);
        _port = 0;

        // A callback that disposes its own queue must not wait for itself.
        Drained = CallbackTargets.InCallback || _io.DispatchQueueDrain(_queue, DrainTimeout);
        _io.DispatchRelease(_queue);
    }
}
