using System.Collections.Concurrent;
using System.Text;
using FluentAssertions;
using FluentAssertions.Execution;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS.IOKit;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>A user client behind a fake service: what the dext's ExternalMethod and CopyClientMemoryForType answer.</summary>
internal interface IFakeUserClient
{
    int Call(uint selector, ReadOnlySpan<ulong> input, ReadOnlySpan<byte> inputStruct, Span<ulong> output, ref uint outputCount,
        Span<byte> outputStruct, ref nuint outputStructSize);

    /// <summary>Starts an async method; <paramref name="complete"/> is the dext's AsyncCompletion (status, args).</summary>
    int CallAsync(uint selector, ReadOnlySpan<ulong> input, Action<int, ulong[]> complete);

    int Map(uint memoryType, out ulong address, out ulong size);

    void Close();
}

/// <summary>One registry entry of the fake: classes (most derived first), properties, provider, and how it opens.</summary>
internal sealed class FakeService(ulong entryId, string[] classes, Dictionary<string, object> properties, FakeService? parent = null)
{
    public ulong EntryId { get; } = entryId;

    public string[] Classes { get; } = classes;

    /// <summary>Values: string, long/int/uint/ulong, bool, byte[], or a nested Dictionary&lt;string, object&gt;.</summary>
    public Dictionary<string, object> Properties { get; } = properties;

    public FakeService? Parent { get; } = parent;

    public bool Active { get; set; } = true;

    /// <summary>NewUserClient: status and client for an IOServiceOpen type.</summary>
    public Func<uint, (int Status, IFakeUserClient? Client)>? Open { get; init; }
}

/// <summary>
/// A fake IOKit + CoreFoundation + libdispatch behind <see cref="IIOKit"/>. CF objects and io_objects are handles the
/// fake owns, with retain counts, so a test can assert that every Create/Copy had its release
/// (<see cref="LiveCFObjects"/>, <see cref="LiveIOObjects"/>, ports, queues, mappings all back to zero). Dispatch queues are
/// real serial threads; notification ports deliver async completions, interest, matching and power messages on them by
/// calling the C function pointers the code under test registered, exactly as IOKitLib does.
/// </summary>
internal sealed unsafe class FakeIOKit : IIOKit, IDisposable
{
    public const nuint StringType = 7;
    public const nuint NumberType = 22;
    public const nuint BooleanType = 21;
    public const nuint DataType = 20;
    public const nuint DictionaryType = 18;

    private readonly object _gate = new();
    private readonly Dictionary<nint, CFObject> _cf = [];
    private readonly Dictionary<uint, IOObject> _io = [];
    private readonly Dictionary<nint, Port> _ports = [];
    private readonly Dictionary<nint, Queue> _queues = [];
    private readonly List<FakeService> _services = [];
    private readonly List<MatchingRegistration> _matching = [];
    private readonly List<InterestRegistration> _interest = [];
    private readonly List<PowerRegistration> _power = [];
    private readonly ConcurrentQueue<string> _errors = new();
    private nint _nextCF = 0x10000;
    private uint _nextIO = 0x1003;
    private nint _nextPort = 0x7000_0000;
    private uint _nextMachPort = 0x2103;
    private nint _nextQueue = 0x6000_0000;
    private ulong _nextEntryId = 0x1000_0051B;

    /// <summary>Problems the fake saw (over-release, unknown handles, callbacks that threw); a test asserts it is empty.</summary>
    public IReadOnlyList<string> Errors => [.. _errors];

    /// <summary>Every IOConnectCallMethod / IOConnectCallAsyncMethod as (selector, scalar in, struct in, scalar out capacity, struct out capacity).</summary>
    public ConcurrentQueue<(uint Selector, int ScalarIn, int StructIn, int ScalarOut, int StructOut, bool Async)> Calls { get; } = new();

    /// <summary>Every IOConnectMapMemory64 memory type.</summary>
    public ConcurrentQueue<uint> MappedTypes { get; } = new();

    /// <summary>Every IOAllowPowerChange (root port, notification ID).</summary>
    public ConcurrentQueue<(uint RootPort, nint NotificationId)> PowerAllowed { get; } = new();

    public int LiveCFObjects
    {
        get
        {
            lock (_gate)
            {
                return _cf.Count;
            }
        }
    }

    public int LiveIOObjects
    {
        get
        {
            lock (_gate)
            {
                return _io.Count;
            }
        }
    }

    public int LivePorts
    {
        get
        {
            lock (_gate)
            {
                return _ports.Count;
            }
        }
    }

    public int LiveQueues
    {
        get
        {
            lock (_gate)
            {
                return _queues.Count(q => !q.Value.Released);
            }
        }
    }

    public int LiveMappings
    {
        get
        {
            lock (_gate)
            {
                return _io.Values.OfType<ConnectionObject>().Sum(c => c.Mappings.Count);
            }
        }
    }

    public int OpenConnections
    {
        get
        {
            lock (_gate)
            {
                return _io.Values.OfType<ConnectionObject>().Count();
            }
        }
    }

    /// <summary>What is still alive, for assertion messages.</summary>
    public string Describe()
    {
        lock (_gate)
        {
            return $"{_cf.Count} CF objects [{string.Join(", ", _cf.Values.Take(8).Select(o => $"{o.Value}×{o.RetainCount}"))}], " +
                   $"{_io.Count} io objects [{string.Join(", ", _io.Values.Take(8).Select(o => o.GetType().Name))}], " +
                   $"{_ports.Count} ports, {_queues.Count(q => !q.Value.Released)} queues, errors: {string.Join(" | ", _errors)}";
        }
    }

    // ---- registry scripting ----

    /// <summary>Adds (publishes) a service: first-match notifications whose matching it satisfies fire.</summary>
    public FakeService Publish(string[] classes, Dictionary<string, object> properties, FakeService? parent = null,
        Func<uint, (int, IFakeUserClient?)>? open = null)
    {
        FakeService service;
        lock (_gate)
        {
            service = new FakeService(_nextEntryId++, classes, properties, parent) { Open = open };
            _services.Add(service);
        }

        Notify(service, IOKitConstants.FirstMatchNotification);
        return service;
    }

    /// <summary>Terminates a service: its user clients answer kIOReturnNotAttached, interest and terminate notifications fire.</summary>
    public void Terminate(FakeService service)
    {
        List<InterestRegistration> interested;
        lock (_gate)
        {
            service.Active = false;
            _services.Remove(service);
            foreach (var c in _io.Values.OfType<ConnectionObject>().Where(c => c.Service == service))
            {
                c.Terminated = true;
            }

            interested = [.. _interest.Where(r => r.Service == service)];
        }

        foreach (var r in interested)
        {
            Post(r.Port, () => ((delegate* unmanaged[Cdecl]<nint, uint, uint, nint, void>)r.Callback)(r.Refcon, 0, IOKitConstants.MessageServiceIsTerminated, 0));
        }

        Notify(service, IOKitConstants.TerminatedNotification);
    }

    /// <summary>Sends a system power message to every IORegisterForSystemPower client.</summary>
    public void SendPower(uint messageType, nint notificationId)
    {
        List<PowerRegistration> targets;
        lock (_gate)
        {
            targets = [.. _power];
        }

        foreach (var r in targets)
        {
            Post(r.Port, () => ((delegate* unmanaged[Cdecl]<nint, uint, uint, nint, void>)r.Callback)(r.Refcon, r.RootPort, messageType, notificationId));
        }
    }

    /// <summary>Clients registered for system power now.</summary>
    public int PowerClients
    {
        get
        {
            lock (_gate)
            {
                return _power.Count;
            }
        }
    }

    /// <summary>
    /// The end-of-test check every macOS test makes: once the posted callbacks have run, every IOKit object, port,
    /// queue, mapping, connection, power registration and CF object the code under test obtained has been released, and
    /// the fake saw no misuse. <paramref name="path"/> says what should have released them.
    /// </summary>
    public void ShouldHaveReleasedEverything(string path)
    {
        Settle();
        string state = Describe();
        using (new AssertionScope())
        {
            LiveIOObjects.Should().Be(0, $"{path} releases every iterator, service and notifier ({state})");
            LivePorts.Should().Be(0, $"{path} destroys every notification port");
            LiveQueues.Should().Be(0, $"{path} releases every dispatch queue");
            LiveMappings.Should().Be(0, $"{path} unmaps every memory mapping");
            OpenConnections.Should().Be(0, $"{path} closes every connection");
            PowerClients.Should().Be(0, $"{path} deregisters every power client");
            LiveCFObjects.Should().Be(0, $"{path} releases every CF object created or copied ({state})");
            Errors.Should().BeEmpty($"{path} neither over-releases nor uses a released object");
        }
    }

    /// <summary>Waits until every callback posted so far has run.</summary>
    public void Settle()
    {
        List<Queue> queues;
        lock (_gate)
        {
            queues = [.. _queues.Values.Where(q => !q.Released)];
        }

        foreach (var q in queues)
        {
            if (!q.Drain(TimeSpan.FromSeconds(5)))
            {
                throw new TimeoutException($"fake dispatch queue '{q.Label}' did not drain within 5 s");
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var q in _queues.Values)
            {
                q.Stop();
            }
        }
    }

    // ---- CoreFoundation ----

    public nint CFStringCreateWithCString(string value) => NewCF(StringType, value);

    public nint CFStringGetLength(nint str) => ((string)Get(str, StringType).Value).Length;

    public nint CFStringGetMaximumSizeForEncoding(nint length) => length * 3;

    public bool CFStringGetCString(nint str, Span<byte> buffer)
    {
        byte[] bytes = Encoding.UTF8.GetBytes((string)Get(str, StringType).Value);
        if (bytes.Length + 1 > buffer.Length)
        {
            return false;
        }

        bytes.CopyTo(buffer);
        buffer[bytes.Length] = 0;
        return true;
    }

    public nuint CFGetTypeID(nint cf) => Get(cf).TypeId;

    public nuint CFStringGetTypeID() => StringType;

    public nuint CFNumberGetTypeID() => NumberType;

    public nuint CFBooleanGetTypeID() => BooleanType;

    public nuint CFDataGetTypeID() => DataType;

    public nuint CFDictionaryGetTypeID() => DictionaryType;

    public bool CFNumberGetInt64(nint number, out long value)
    {
        value = (long)Get(number, NumberType).Value;
        return true;
    }

    public bool CFBooleanGetValue(nint boolean) => (bool)Get(boolean, BooleanType).Value;

    public nint CFDataGetLength(nint data) => ((byte[])Get(data, DataType).Value).Length;

    public void CFDataGetBytes(nint data, nint start, Span<byte> buffer) =>
        ((byte[])Get(data, DataType).Value).AsSpan((int)start, buffer.Length).CopyTo(buffer);

    public nint CFDictionaryCreateMutable() => NewCF(DictionaryType, new Dictionary<string, (nint Key, nint Value)>(StringComparer.Ordinal));

    public void CFDictionarySetValue(nint dictionary, nint key, nint value)
    {
        lock (_gate)
        {
            var entries = (Dictionary<string, (nint Key, nint Value)>)Get(dictionary, DictionaryType).Value;
            string k = (string)Get(key, StringType).Value;
            Get(value).RetainCount++;
            Get(key).RetainCount++;
            if (entries.Remove(k, out var old))
            {
                ReleaseLocked(old.Key);
                ReleaseLocked(old.Value);
            }

            entries[k] = (key, value);
        }
    }

    public nint CFDictionaryGetValue(nint dictionary, nint key)
    {
        lock (_gate)
        {
            var entries = (Dictionary<string, (nint Key, nint Value)>)Get(dictionary, DictionaryType).Value;
            return entries.TryGetValue((string)Get(key, StringType).Value, out var e) ? e.Value : 0;
        }
    }

    public void CFRelease(nint cf)
    {
        lock (_gate)
        {
            ReleaseLocked(cf);
        }
    }

    // ---- libdispatch ----

    public nint DispatchQueueCreate(string label)
    {
        lock (_gate)
        {
            nint id = _nextQueue += 0x100;
            _queues[id] = new Queue(label, e => _errors.Enqueue($"callback on '{label}' threw: {e}"));
            return id;
        }
    }

    public bool DispatchQueueDrain(nint queue, TimeSpan timeout)
    {
        Queue q;
        lock (_gate)
        {
            q = _queues[queue];
        }

        return q.Drain(timeout);
    }

    public void DispatchRelease(nint queue)
    {
        lock (_gate)
        {
            if (!_queues.TryGetValue(queue, out var q) || q.Released)
            {
                _errors.Enqueue($"dispatch_release of unknown or released queue 0x{queue:X}");
                return;
            }

            q.Released = true;
            q.Stop();
        }
    }

    // ---- IOKit: registry ----

    public nint IOServiceMatching(string className)
    {
        nint dict = CFDictionaryCreateMutable();
        nint key = CFStringCreateWithCString(IOKitConstants.ProviderClassKey);
        nint value = CFStringCreateWithCString(className);
        CFDictionarySetValue(dict, key, value);
        CFRelease(key);
        CFRelease(value);
        return dict;
    }

    public int IOServiceGetMatchingServices(nint matching, out uint iterator)
    {
        lock (_gate)
        {
            var spec = ParseMatching(matching);
            ReleaseLocked(matching); // consumed
            iterator = NewIO(new IteratorObject([.. _services.Where(s => s.Active && spec.Matches(s))]));
            return IOReturn.Success;
        }
    }

    public uint IOIteratorNext(uint iterator)
    {
        lock (_gate)
        {
            var it = (IteratorObject)GetIO(iterator);
            return it.Pending.TryDequeue(out var service) ? NewIO(new ServiceObject(service)) : 0;
        }
    }

    public int IOObjectRelease(uint obj)
    {
        lock (_gate)
        {
            if (!_io.Remove(obj, out var o))
            {
                _errors.Enqueue($"IOObjectRelease of unknown object 0x{obj:X}");
                return IOReturn.BadArgument;
            }

            if (o is ConnectionObject)
            {
                _errors.Enqueue($"IOObjectRelease of a connection 0x{obj:X} (IOServiceClose it)");
            }

            _matching.RemoveAll(r => r.Iterator == obj);
            _interest.RemoveAll(r => r.Notification == obj);
            return IOReturn.Success;
        }
    }

    public nint IORegistryEntryCreateCFProperty(uint entry, nint key)
    {
        lock (_gate)
        {
            var service = ServiceOf(entry);
            return service.Properties.TryGetValue((string)Get(key, StringType).Value, out var value) ? Materialize(value) : 0;
        }
    }

    public nint IORegistryEntrySearchCFProperty(uint entry, string plane, nint key, uint options)
    {
        lock (_gate)
        {
            if (plane != IOKitConstants.ServicePlane)
            {
                _errors.Enqueue($"IORegistryEntrySearchCFProperty in plane {plane}");
            }

            string k = (string)Get(key, StringType).Value;
            for (var s = ServiceOf(entry); s is not null; s = (options & IOKitConstants.IterateParents) != 0 ? s.Parent : null)
            {
                if (s.Properties.TryGetValue(k, out var value))
                {
                    return Materialize(value);
                }
            }

            return 0;
        }
    }

    public int IORegistryEntryGetRegistryEntryID(uint entry, out ulong entryId)
    {
        lock (_gate)
        {
            entryId = ServiceOf(entry).EntryId;
            return IOReturn.Success;
        }
    }

    // ---- IOKit: user client ----

    public int IOServiceOpen(uint service, uint type, out uint connection)
    {
        connection = 0;
        FakeService s;
        lock (_gate)
        {
            s = ServiceOf(service);
            if (!s.Active)
            {
                return IOKitConstants.ReturnNotAttached;
            }
        }

        var (status, client) = s.Open?.Invoke(type) ?? (IOReturn.Unsupported, null);
        if (status != IOReturn.Success)
        {
            return status;
        }

        lock (_gate)
        {
            connection = NewIO(new ConnectionObject(s, client!));
            return IOReturn.Success;
        }
    }

    public int IOServiceClose(uint connection)
    {
        IOObject? o;
        lock (_gate)
        {
            if (!_io.Remove(connection, out o) || o is not (ConnectionObject or RootPortObject))
            {
                _errors.Enqueue($"IOServiceClose of unknown connection 0x{connection:X}");
                return IOReturn.BadArgument;
            }

            if (o is ConnectionObject { Mappings.Count: > 0 } leaked)
            {
                _errors.Enqueue($"IOServiceClose with {leaked.Mappings.Count} mapping(s) still mapped (unmap before close)");
                leaked.Mappings.Clear();
            }
        }

        (o as ConnectionObject)?.Client.Close();
        return IOReturn.Success;
    }

    public int IOConnectCallMethod(uint connection, uint selector, ReadOnlySpan<ulong> input, ReadOnlySpan<byte> inputStruct,
        Span<ulong> output, ref uint outputCount, Span<byte> outputStruct, ref nuint outputStructSize)
    {
        Calls.Enqueue((selector, input.Length, inputStruct.Length, (int)outputCount, (int)outputStructSize, false));
        var c = Connection(connection);
        if (c.Terminated)
        {
            return IOKitConstants.ReturnNotAttached;
        }

        return c.Client.Call(selector, input, inputStruct, output[..(int)outputCount], ref outputCount, outputStruct[..(int)outputStructSize], ref outputStructSize);
    }

    public int IOConnectCallAsyncMethod(uint connection, uint selector, uint wakePort, Span<ulong> reference, ReadOnlySpan<ulong> input,
        ReadOnlySpan<byte> inputStruct, Span<ulong> output, ref uint outputCount, Span<byte> outputStruct, ref nuint outputStructSize)
    {
        Calls.Enqueue((selector, input.Length, inputStruct.Length, (int)outputCount, (int)outputStructSize, true));
        var c = Connection(connection);
        if (c.Terminated)
        {
            return IOKitConstants.ReturnNotAttached;
        }

        if (reference.Length < IOKitConstants.AsyncCalloutCount || reference[IOKitConstants.AsyncCalloutFuncIndex] == 0)
        {
            _errors.Enqueue($"async call {selector} without a callout in its reference ({reference.Length} words)");
            return IOReturn.BadArgument;
        }

        Port port;
        lock (_gate)
        {
            port = _ports.Values.FirstOrDefault(p => p.MachPort == wakePort) ?? throw new InvalidOperationException($"no notification port with Mach port 0x{wakePort:X}");
        }

        reference[0] = wakePort; // IOKitLib fills the reserved word
        nint fn = (nint)reference[IOKitConstants.AsyncCalloutFuncIndex];
        nint refcon = (nint)reference[IOKitConstants.AsyncCalloutRefconIndex];
        return c.Client.CallAsync(selector, input, (status, args) => Post(port, () =>
        {
            fixed (ulong* a = args)
            {
                ((delegate* unmanaged[Cdecl]<nint, int, ulong*, uint, void>)fn)(refcon, status, a, (uint)args.Length);
            }
        }));
    }

    public int IOConnectMapMemory64(uint connection, uint memoryType, ref ulong address, ref ulong size, uint options)
    {
        MappedTypes.Enqueue(memoryType);
        var c = Connection(connection);
        if (c.Terminated)
        {
            return IOKitConstants.ReturnNotAttached;
        }

        if ((options & IOKitConstants.MapAnywhere) == 0)
        {
            _errors.Enqueue($"IOConnectMapMemory64 of type 0x{memoryType:X} without kIOMapAnywhere");
        }

        int status = c.Client.Map(memoryType, out address, out size);
        if (status == IOReturn.Success)
        {
            lock (_gate)
            {
                c.Mappings[memoryType] = address;
            }
        }

        return status;
    }

    public int IOConnectUnmapMemory64(uint connection, uint memoryType, ulong address)
    {
        var c = Connection(connection);
        lock (_gate)
        {
            if (!c.Mappings.TryGetValue(memoryType, out ulong mapped) || mapped != address)
            {
                _errors.Enqueue($"IOConnectUnmapMemory64 of type 0x{memoryType:X} at 0x{address:X}, which is not mapped");
                return IOReturn.BadArgument;
            }

            c.Mappings.Remove(memoryType);
            return IOReturn.Success;
        }
    }

    // ---- IOKit: notifications ----

    public nint IONotificationPortCreate()
    {
        lock (_gate)
        {
            return NewPortLocked().Id;
        }
    }

    public void IONotificationPortDestroy(nint port)
    {
        lock (_gate)
        {
            if (!_ports.Remove(port, out var p))
            {
                _errors.Enqueue($"IONotificationPortDestroy of unknown port 0x{port:X}");
                return;
            }

            p.Destroyed = true;
            _matching.RemoveAll(r => r.Port == p);
            _interest.RemoveAll(r => r.Port == p);
        }
    }

    public uint IONotificationPortGetMachPort(nint port)
    {
        lock (_gate)
        {
            return _ports[port].MachPort;
        }
    }

    public void IONotificationPortSetDispatchQueue(nint port, nint queue)
    {
        List<Action> held;
        Queue q;
        Port p;
        lock (_gate)
        {
            p = _ports[port];
            q = _queues[queue];
            p.Queue = q;
            held = [.. p.Held];
            p.Held.Clear();
        }

        foreach (var a in held)
        {
            q.Enqueue(() => Deliver(p, a));
        }
    }

    public int IOServiceAddMatchingNotification(nint port, string notificationType, nint matching, nint callback, nint refcon, out uint iterator)
    {
        lock (_gate)
        {
            var spec = ParseMatching(matching);
            ReleaseLocked(matching); // consumed
            if (notificationType is not (IOKitConstants.FirstMatchNotification or IOKitConstants.TerminatedNotification))
            {
                iterator = 0;
                return IOReturn.Unsupported;
            }

            var existing = notificationType == IOKitConstants.FirstMatchNotification ? _services.Where(s => s.Active && spec.Matches(s)) : [];
            var it = new IteratorObject([.. existing]);
            iterator = NewIO(it);
            _matching.Add(new MatchingRegistration(_ports[port], notificationType, spec, callback, refcon, iterator, it));
            return IOReturn.Success;
        }
    }

    public int IOServiceAddInterestNotification(nint port, uint service, string interestType, nint callback, nint refcon, out uint notification)
    {
        lock (_gate)
        {
            if (interestType != IOKitConstants.GeneralInterest)
            {
                notification = 0;
                return IOReturn.Unsupported;
            }

            notification = NewIO(new NotificationObject());
            _interest.Add(new InterestRegistration(_ports[port], ServiceOf(service), callback, refcon, notification));
            return IOReturn.Success;
        }
    }

    // ---- IOKit: system power ----

    public uint IORegisterForSystemPower(nint refcon, out nint port, nint callback, out uint notifier)
    {
        lock (_gate)
        {
            var p = NewPortLocked();
            port = p.Id;
            uint root = NewIO(new RootPortObject());
            notifier = NewIO(new NotificationObject());
            _power.Add(new PowerRegistration(p, root, callback, refcon, notifier));
            return root;
        }
    }

    public int IODeregisterForSystemPower(ref uint notifier)
    {
        lock (_gate)
        {
            uint n = notifier;
            if (_power.RemoveAll(r => r.Notifier == n) == 0 || !_io.Remove(n))
            {
                _errors.Enqueue($"IODeregisterForSystemPower of unknown notifier 0x{n:X}");
                return IOReturn.BadArgument;
            }

            return IOReturn.Success;
        }
    }

    public int IOAllowPowerChange(uint rootPort, nint notificationId)
    {
        PowerAllowed.Enqueue((rootPort, notificationId));
        return IOReturn.Success;
    }

    // ---- internals ----

    private void Notify(FakeService service, string type)
    {
        List<MatchingRegistration> registrations;
        lock (_gate)
        {
            registrations = [.. _matching.Where(r => r.Type == type && r.Spec.Matches(service))];
            foreach (var r in registrations)
            {
                r.IteratorObject.Pending.Enqueue(service);
            }
        }

        foreach (var r in registrations)
        {
            Post(r.Port, () => ((delegate* unmanaged[Cdecl]<nint, uint, void>)r.Callback)(r.Refcon, r.Iterator));
        }
    }

    private void Post(Port port, Action action)
    {
        Queue? q;
        lock (_gate)
        {
            if (port.Destroyed)
            {
                return;
            }

            q = port.Queue;
            if (q is null)
            {
                port.Held.Add(action); // a Mach message waits in the port until it is serviced
                return;
            }
        }

        q.Enqueue(() => Deliver(port, action));
    }

    private void Deliver(Port port, Action action)
    {
        lock (_gate)
        {
            if (port.Destroyed)
            {
                return; // the port's dispatch source was cancelled: undelivered messages are dropped
            }
        }

        action();
    }

    private Port NewPortLocked()
    {
        var p = new Port(_nextPort += 0x40, _nextMachPort += 4);
        _ports[p.Id] = p;
        return p;
    }

    private MatchingSpec ParseMatching(nint matching)
    {
        var entries = (Dictionary<string, (nint Key, nint Value)>)Get(matching, DictionaryType).Value;
        string? className = null;
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, (_, value)) in entries)
        {
            switch (key)
            {
                case IOKitConstants.ProviderClassKey:
                    className = (string)Get(value, StringType).Value;
                    break;
                case IOKitConstants.PropertyMatchKey:
                    foreach (var (k, (_, v)) in (Dictionary<string, (nint Key, nint Value)>)Get(value, DictionaryType).Value)
                    {
                        properties[k] = (string)Get(v, StringType).Value;
                    }

                    break;
                default:
                    _errors.Enqueue($"matching dictionary key {key} is not modelled by the fake");
                    break;
            }
        }

        return new MatchingSpec(className, properties);
    }

    private nint Materialize(object value) => value switch
    {
        string s => NewCF(StringType, s),
        bool b => NewCF(BooleanType, b),
        byte[] d => NewCF(DataType, d.ToArray()),
        int i => NewCF(NumberType, (long)i),
        uint u => NewCF(NumberType, (long)u),
        long l => NewCF(NumberType, l),
        ulong ul => NewCF(NumberType, unchecked((long)ul)),
        Dictionary<string, object> d => MaterializeDictionary(d),
        _ => throw new NotSupportedException($"fake registry value of type {value.GetType().Name}"),
    };

    private nint MaterializeDictionary(Dictionary<string, object> values)
    {
        var entries = new Dictionary<string, (nint Key, nint Value)>(StringComparer.Ordinal);
        foreach (var (k, v) in values)
        {
            entries[k] = (NewCF(StringType, k), Materialize(v)); // owned by the dictionary (count 1 each)
        }

        return NewCF(DictionaryType, entries);
    }

    private nint NewCF(nuint type, object value)
    {
        lock (_gate)
        {
            nint h = _nextCF += 0x10;
            _cf[h] = new CFObject(type, value) { RetainCount = 1 };
            return h;
        }
    }

    private CFObject Get(nint cf, nuint? type = null)
    {
        lock (_gate)
        {
            if (!_cf.TryGetValue(cf, out var o))
            {
                _errors.Enqueue($"use of a released or unknown CF object 0x{cf:X}");
                throw new InvalidOperationException($"use of a released or unknown CF object 0x{cf:X}");
            }

            if (type is { } t && o.TypeId != t)
            {
                throw new InvalidOperationException($"CF object 0x{cf:X} has type {o.TypeId}, not {t}");
            }

            return o;
        }
    }

    private void ReleaseLocked(nint cf)
    {
        if (!_cf.TryGetValue(cf, out var o))
        {
            _errors.Enqueue($"CFRelease of a released or unknown CF object 0x{cf:X}");
            return;
        }

        if (--o.RetainCount > 0)
        {
            return;
        }

        _cf.Remove(cf);
        if (o.Value is Dictionary<string, (nint Key, nint Value)> entries)
        {
            foreach (var (_, (k, v)) in entries)
            {
                ReleaseLocked(k);
                ReleaseLocked(v);
            }
        }
    }

    private uint NewIO(IOObject o)
    {
        uint h = _nextIO += 4;
        _io[h] = o;
        return h;
    }

    private IOObject GetIO(uint handle) =>
        _io.TryGetValue(handle, out var o) ? o : throw new InvalidOperationException($"use of a released or unknown io_object 0x{handle:X}");

    private FakeService ServiceOf(uint handle) =>
        GetIO(handle) is ServiceObject s ? s.Service : throw new InvalidOperationException($"io_object 0x{handle:X} is not a service");

    private ConnectionObject Connection(uint handle)
    {
        lock (_gate)
        {
            return GetIO(handle) as ConnectionObject ?? throw new InvalidOperationException($"io_object 0x{handle:X} is not a connection");
        }
    }

    private sealed class CFObject(nuint typeId, object value)
    {
        public nuint TypeId { get; } = typeId;

        public object Value { get; } = value;

        public int RetainCount { get; set; }
    }

    private abstract class IOObject;

    private sealed class ServiceObject(FakeService service) : IOObject
    {
        public FakeService Service { get; } = service;
    }

    private sealed class IteratorObject(IEnumerable<FakeService> initial) : IOObject
    {
        public Queue<FakeService> Pending { get; } = new(initial);
    }

    private sealed class ConnectionObject(FakeService service, IFakeUserClient client) : IOObject
    {
        public FakeService Service { get; } = service;

        public IFakeUserClient Client { get; } = client;

        public bool Terminated { get; set; }

        public Dictionary<uint, ulong> Mappings { get; } = [];
    }

    private sealed class NotificationObject : IOObject;

    private sealed class RootPortObject : IOObject;

    private sealed class Port(nint id, uint machPort)
    {
        public nint Id { get; } = id;

        public uint MachPort { get; } = machPort;

        public Queue? Queue { get; set; }

        public bool Destroyed { get; set; }

        public List<Action> Held { get; } = [];
    }

    private sealed record MatchingSpec(string? ClassName, Dictionary<string, string> Properties)
    {
        public bool Matches(FakeService s) =>
            (ClassName is null || s.Classes.Contains(ClassName))
            && Properties.All(p => s.Properties.TryGetValue(p.Key, out var v) && v is string text && text == p.Value);
    }

    private sealed record MatchingRegistration(Port Port, string Type, MatchingSpec Spec, nint Callback, nint Refcon, uint Iterator, IteratorObject IteratorObject);

    private sealed record InterestRegistration(Port Port, FakeService Service, nint Callback, nint Refcon, uint Notification);

    private sealed record PowerRegistration(Port Port, uint RootPort, nint Callback, nint Refcon, uint Notifier);

    /// <summary>A serial dispatch queue: one thread running blocks in order.</summary>
    private sealed class Queue
    {
        private readonly BlockingCollection<Action> _blocks = [];
        private readonly Action<Exception> _onError;
        private readonly Thread _thread;

        public Queue(string label, Action<Exception> onError)
        {
            Label = label;
            _onError = onError;
            _thread = new Thread(Run) { IsBackground = true, Name = "fake GCD " + label };
            _thread.Start();
        }

        public string Label { get; }

        public bool Released { get; set; }

        public void Enqueue(Action block)
        {
            try
            {
                _blocks.Add(block);
            }
            catch (InvalidOperationException)
            {
                // Released: GCD would keep the queue alive for blocks already submitted; later ones are the caller's bug.
            }
        }

        public bool Drain(TimeSpan timeout)
        {
            if (Thread.CurrentThread == _thread)
            {
                return true;
            }

            if (_blocks.IsAddingCompleted)
            {
                return _thread.Join(timeout);
            }

            var done = new ManualResetEventSlim(); // not disposed: a marker that runs after a timed-out wait still sets it
            Enqueue(done.Set);
            return done.Wait(timeout);
        }

        public void Stop() => _blocks.CompleteAdding();

        private void Run()
        {
            foreach (var block in _blocks.GetConsumingEnumerable())
            {
                try
                {
                    block();
                }
                catch (Exception e)
                {
                    _onError(e);
                }
            }
        }
    }
}
