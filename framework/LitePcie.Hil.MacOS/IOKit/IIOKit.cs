namespace LitePcie.Hil.MacOS.IOKit;

/// <summary>
/// The IOKit, CoreFoundation and libdispatch calls the macOS backend makes, one member per C function and
/// nothing more (IOKitLib.h, IOPMLib.h, CFString.h, CFNumber.h, CFData.h, CFDictionary.h, dispatch/queue.h).
/// The real implementation is loaded only on macOS; tests run the same backend code against a fake.
/// </summary>
/// <remarks>
/// <para>Handle types: <c>io_object_t</c>/<c>io_service_t</c>/<c>io_connect_t</c>/<c>io_iterator_t</c> and
/// <c>mach_port_t</c> are <see cref="uint"/>; <c>CFTypeRef</c>, <c>IONotificationPortRef</c> and
/// <c>dispatch_queue_t</c> are <see cref="nint"/>; <c>kern_return_t</c>/<c>IOReturn</c> is <see cref="int"/>.</para>
/// <para>Ownership follows CoreFoundation's rules and is stated on each member: "+1" results are owned by the
/// caller (one <see cref="CFRelease"/> or <see cref="IOObjectRelease"/> each), "borrowed" results are not,
/// "consumed" arguments are released by the callee (never release them again).</para>
/// <para>Callbacks are passed as unmanaged C function pointers (<c>delegate* unmanaged[Cdecl]</c> to an
/// <c>[UnmanagedCallersOnly]</c> method) cast to <see cref="nint"/>, with the C signature named on the member.</para>
/// </remarks>
internal interface IIOKit
{
    // ---- CoreFoundation ----

    /// <summary><c>CFStringCreateWithCString(NULL, value, kCFStringEncodingUTF8)</c>: +1.</summary>
    nint CFStringCreateWithCString(string value);

    /// <summary><c>CFStringGetLength</c>: UTF-16 code units.</summary>
    nint CFStringGetLength(nint str);

    /// <summary><c>CFStringGetMaximumSizeForEncoding(length, kCFStringEncodingUTF8)</c>: bytes, without the NUL.</summary>
    nint CFStringGetMaximumSizeForEncoding(nint length);

    /// <summary><c>CFStringGetCString(str, buffer, buffer.Length, kCFStringEncodingUTF8)</c>: NUL-terminated UTF-8; false when the buffer is too small.</summary>
    bool CFStringGetCString(nint str, Span<byte> buffer);

    /// <summary><c>CFGetTypeID</c>.</summary>
    nuint CFGetTypeID(nint cf);

    /// <summary><c>CFStringGetTypeID</c>.</summary>
    nuint CFStringGetTypeID();

    /// <summary><c>CFNumberGetTypeID</c>.</summary>
    nuint CFNumberGetTypeID();

    /// <summary><c>CFBooleanGetTypeID</c>.</summary>
    nuint CFBooleanGetTypeID();

    /// <summary><c>CFDataGetTypeID</c>.</summary>
    nuint CFDataGetTypeID();

    /// <summary><c>CFDictionaryGetTypeID</c>.</summary>
    nuint CFDictionaryGetTypeID();

    /// <summary><c>CFNumberGetValue(number, kCFNumberSInt64Type, &amp;value)</c>: false when the value was converted lossily.</summary>
    bool CFNumberGetInt64(nint number, out long value);

    /// <summary><c>CFBooleanGetValue</c>.</summary>
    bool CFBooleanGetValue(nint boolean);

    /// <summary><c>CFDataGetLength</c>.</summary>
    nint CFDataGetLength(nint data);

    /// <summary><c>CFDataGetBytes(data, CFRangeMake(start, buffer.Length), buffer)</c>.</summary>
    void CFDataGetBytes(nint data, nint start, Span<byte> buffer);

    /// <summary><c>CFDictionaryCreateMutable(NULL, 0, &amp;kCFTypeDictionaryKeyCallBacks, &amp;kCFTypeDictionaryValueCallBacks)</c>: +1.</summary>
    nint CFDictionaryCreateMutable();

    /// <summary><c>CFDictionarySetValue</c>: the dictionary retains key and value.</summary>
    void CFDictionarySetValue(nint dictionary, nint key, nint value);

    /// <summary><c>CFDictionaryGetValue</c>: borrowed (0 when absent).</summary>
    nint CFDictionaryGetValue(nint dictionary, nint key);

    /// <summary><c>CFRelease</c>.</summary>
    void CFRelease(nint cf);

    // ---- libdispatch ----

    /// <summary><c>dispatch_queue_create(label, DISPATCH_QUEUE_SERIAL)</c>: +1 (<see cref="DispatchRelease"/>).</summary>
    nint DispatchQueueCreate(string label);

    /// <summary>
    /// Waits until every block queued so far on <paramref name="queue"/> has run (<c>dispatch_async_f</c> of a
    /// marker, then a bounded wait for it). False when <paramref name="timeout"/> expired first.
    /// </summary>
    bool DispatchQueueDrain(nint queue, TimeSpan timeout);

    /// <summary><c>dispatch_release</c>.</summary>
    void DispatchRelease(nint queue);

    // ---- IOKit: registry and matching ----

    /// <summary><c>IOServiceMatching(className)</c>: +1 mutable matching dictionary.</summary>
    nint IOServiceMatching(string className);

    /// <summary><c>IOServiceGetMatchingServices(kIOMainPortDefault, matching, &amp;iterator)</c>: <paramref name="matching"/> is consumed; the iterator is +1.</summary>
    int IOServiceGetMatchingServices(nint matching, out uint iterator);

    /// <summary><c>IOIteratorNext</c>: +1 object, 0 at the end.</summary>
    uint IOIteratorNext(uint iterator);

    /// <summary><c>IOObjectRelease</c>.</summary>
    int IOObjectRelease(uint obj);

    /// <summary><c>IORegistryEntryCreateCFProperty(entry, key, NULL, 0)</c>: +1 (0 when absent).</summary>
    nint IORegistryEntryCreateCFProperty(uint entry, nint key);

    /// <summary><c>IORegistryEntrySearchCFProperty(entry, plane, key, NULL, options)</c>: +1 (0 when absent).</summary>
    nint IORegistryEntrySearchCFProperty(uint entry, string plane, nint key, uint options);

    /// <summary><c>IORegistryEntryGetRegistryEntryID</c>.</summary>
    int IORegistryEntryGetRegistryEntryID(uint entry, out ulong entryId);

    // ---- IOKit: user client ----

    /// <summary><c>IOServiceOpen(service, mach_task_self(), type, &amp;connect)</c>: the connection is +1 (<see cref="IOServiceClose"/>).</summary>
    int IOServiceOpen(uint service, uint type, out uint connection);

    /// <summary><c>IOServiceClose</c>.</summary>
    int IOServiceClose(uint connection);

    /// <summary>
    /// <c>IOConnectCallMethod(connection, selector, input, input.Length, inputStruct, inputStruct.Length, output,
    /// &amp;outputCount, outputStruct, &amp;outputStructSize)</c>. On entry <paramref name="outputCount"/> and
    /// <paramref name="outputStructSize"/> are the capacities; on return, what the driver wrote.
    /// </summary>
    int IOConnectCallMethod(uint connection, uint selector, ReadOnlySpan<ulong> input, ReadOnlySpan<byte> inputStruct,
        Span<ulong> output, ref uint outputCount, Span<byte> outputStruct, ref nuint outputStructSize);

    /// <summary>
    /// <c>IOConnectCallAsyncMethod(connection, selector, wakePort, reference, reference.Length, …)</c>, counts as in
    /// <see cref="IOConnectCallMethod"/>. <c>reference[1]</c> is the <c>IOAsyncCallback</c>
    /// (<c>void (*)(void* refcon, IOReturn result, void** args, uint32_t numArgs)</c>), <c>reference[2]</c> its refcon;
    /// IOKitLib writes the wake port into <c>reference[0]</c>.
    /// </summary>
    int IOConnectCallAsyncMethod(uint connection, uint selector, uint wakePort, Span<ulong> reference, ReadOnlySpan<ulong> input,
        ReadOnlySpan<byte> inputStruct, Span<ulong> output, ref uint outputCount, Span<byte> outputStruct, ref nuint outputStructSize);

    /// <summary><c>IOConnectMapMemory64(connection, memoryType, mach_task_self(), &amp;address, &amp;size, options)</c>.</summary>
    int IOConnectMapMemory64(uint connection, uint memoryType, ref ulong address, ref ulong size, uint options);

    /// <summary><c>IOConnectUnmapMemory64(connection, memoryType, mach_task_self(), address)</c>.</summary>
    int IOConnectUnmapMemory64(uint connection, uint memoryType, ulong address);

    // ---- IOKit: notifications ----

    /// <summary><c>IONotificationPortCreate(kIOMainPortDefault)</c>: +1 (<see cref="IONotificationPortDestroy"/>).</summary>
    nint IONotificationPortCreate();

    /// <summary><c>IONotificationPortDestroy</c>.</summary>
    void IONotificationPortDestroy(nint port);

    /// <summary><c>IONotificationPortGetMachPort</c>: borrowed (the wake port of async methods).</summary>
    uint IONotificationPortGetMachPort(nint port);

    /// <summary><c>IONotificationPortSetDispatchQueue</c>: the port's callbacks run on <paramref name="queue"/>.</summary>
    void IONotificationPortSetDispatchQueue(nint port, nint queue);

    /// <summary>
    /// <c>IOServiceAddMatchingNotification(port, type, matching, callback, refcon, &amp;iterator)</c>: <paramref name="matching"/>
    /// is consumed; the iterator is +1 and must be drained to arm the notification. <paramref name="callback"/> is an
    /// <c>IOServiceMatchingCallback</c>: <c>void (*)(void* refcon, io_iterator_t iterator)</c>.
    /// </summary>
    int IOServiceAddMatchingNotification(nint port, string notificationType, nint matching, nint callback, nint refcon, out uint iterator);

    /// <summary>
    /// <c>IOServiceAddInterestNotification(port, service, interestType, callback, refcon, &amp;notification)</c>: the
    /// notification is +1 (releasing it removes it). <paramref name="callback"/> is an <c>IOServiceInterestCallback</c>:
    /// <c>void (*)(void* refcon, io_service_t service, uint32_t messageType, void* messageArgument)</c>.
    /// </summary>
    int IOServiceAddInterestNotification(nint port, uint service, string interestType, nint callback, nint refcon, out uint notification);

    // ---- IOKit: system power (IOPMLib.h) ----

    /// <summary>
    /// <c>IORegisterForSystemPower(refcon, &amp;port, callback, &amp;notifier)</c>: returns the root power domain
    /// connection (0 on failure; <see cref="IOServiceClose"/> it), a notification port the caller services and
    /// destroys, and the notifier for <see cref="IODeregisterForSystemPower"/>. The callback is an
    /// <c>IOServiceInterestCallback</c>; for sleep messages the argument is the notification ID.
    /// </summary>
    uint IORegisterForSystemPower(nint refcon, out nint port, nint callback, out uint notifier);

    /// <summary><c>IODeregisterForSystemPower(&amp;notifier)</c>.</summary>
    int IODeregisterForSystemPower(ref uint notifier);

    /// <summary><c>IOAllowPowerChange(rootPort, notificationId)</c>: the reply every CanSystemSleep/SystemWillSleep needs.</summary>
    int IOAllowPowerChange(uint rootPort, nint notificationId);
}
