using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LitePcie.Hil.MacOS.IOKit;

/// <summary>
/// The real <see cref="IIOKit"/>: <c>[LibraryImport]</c> against IOKit.framework, CoreFoundation.framework and
/// libSystem. All functions are fixed-arity C functions, so the arm64 variadic convention never applies. Nothing
/// here is touched before <see cref="IOKitRuntime.Current"/> has checked <see cref="OperatingSystem.IsMacOS"/>: on any other
/// system no native library is ever loaded.
/// </summary>
[SupportedOSPlatform("macos")]
internal sealed unsafe partial class IOKitNative : IIOKit
{
    private const string IOKitLibrary = "/System/Library/Frameworks/IOKit.framework/IOKit";
    private const string CFLibrary = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation";
    private const string SystemLibrary = "/usr/lib/libSystem.B.dylib";
    private const uint Utf8 = 0x08000100; // kCFStringEncodingUTF8
    private const nint SInt64Type = 4; // kCFNumberSInt64Type
    private const uint MainPortDefault = 0; // kIOMainPortDefault (MACH_PORT_NULL)

    private static readonly Lazy<IIOKit> s_instance = new(() => new IOKitNative());

    private readonly nint _keyCallbacks;
    private readonly nint _valueCallbacks;
    private readonly uint _task;

    private IOKitNative()
    {
        nint cf = NativeLibrary.Load(CFLibrary);
        _keyCallbacks = NativeLibrary.GetExport(cf, "kCFTypeDictionaryKeyCallBacks"); // a struct: pass its address
        _valueCallbacks = NativeLibrary.GetExport(cf, "kCFTypeDictionaryValueCallBacks");
        // mach_task_self() is a macro over the exported variable mach_task_self_: read the variable.
        _task = (uint)Marshal.ReadInt32(NativeLibrary.GetExport(NativeLibrary.Load(SystemLibrary), "mach_task_self_"));
    }

    /// <summary>The process-wide instance (see <see cref="IOKitRuntime.Current"/> for the guarded way in).</summary>
    public static IIOKit Instance => s_instance.Value;

    // ---- CoreFoundation ----

    public nint CFStringCreateWithCString(string value) => CFStringCreateWithCString(0, value, Utf8);

    public nint CFStringGetLength(nint str) => CFStringGetLengthNative(str);

    public nint CFStringGetMaximumSizeForEncoding(nint length) => CFStringGetMaximumSizeForEncodingNative(length, Utf8);

    public bool CFStringGetCString(nint str, Span<byte> buffer)
    {
        fixed (byte* b = buffer)
        {
            return CFStringGetCStringNative(str, b, buffer.Length, Utf8) != 0;
        }
    }

    public nuint CFGetTypeID(nint cf) => CFGetTypeIDNative(cf);

    public nuint CFStringGetTypeID() => CFStringGetTypeIDNative();

    public nuint CFNumberGetTypeID() => CFNumberGetTypeIDNative();

    public nuint CFBooleanGetTypeID() => CFBooleanGetTypeIDNative();

    public nuint CFDataGetTypeID() => CFDataGetTypeIDNative();

    public nuint CFDictionaryGetTypeID() => CFDictionaryGetTypeIDNative();

    public bool CFNumberGetInt64(nint number, out long value)
    {
        long v = 0;
        bool exact = CFNumberGetValue(number, SInt64Type, &v) != 0;
        value = v;
        return exact;
    }

    public bool CFBooleanGetValue(nint boolean) => CFBooleanGetValueNative(boolean) != 0;

    public nint CFDataGetLength(nint data) => CFDataGetLengthNative(data);

    public void CFDataGetBytes(nint data, nint start, Span<byte> buffer)
    {
        fixed (byte* b = buffer)
        {
            CFDataGetBytesNative(data, new CFRange(start, buffer.Length), b);
        }
    }

    public nint CFDictionaryCreateMutable() => CFDictionaryCreateMutableNative(0, 0, _keyCallbacks, _valueCallbacks);

    public void CFDictionarySetValue(nint dictionary, nint key, nint value) => CFDictionarySetValueNative(dictionary, key, value);

    public nint CFDictionaryGetValue(nint dictionary, nint key) => CFDictionaryGetValueNative(dictionary, key);

    public void CFRelease(nint cf) => CFReleaseNative(cf);

    // ---- libdispatch ----

    public nint DispatchQueueCreate(string label) => dispatch_queue_create(label, 0);

    public bool DispatchQueueDrain(nint queue, TimeSpan timeout)
    {
        // A marker queued behind everything already on the serial queue; waiting for it is waiting for them.
        var done = new ManualResetEventSlim();
        var handle = GCHandle.Alloc(done);
        dispatch_async_f(queue, GCHandle.ToIntPtr(handle), &OnDrainMarker);
        if (done.Wait(timeout))
        {
            done.Dispose();
            return true;
        }

        return false; // the marker frees its handle when it finally runs; the event is left to the GC
    }

    public void DispatchRelease(nint queue) => dispatch_release(queue);

    // ---- IOKit ----

    public nint IOServiceMatching(string className) => IOServiceMatchingNative(className);

    public int IOServiceGetMatchingServices(nint matching, out uint iterator) => IOServiceGetMatchingServicesNative(MainPortDefault, matching, out iterator);

    public uint IOIteratorNext(uint iterator) => IOIteratorNextNative(iterator);

    public int IOObjectRelease(uint obj) => IOObjectReleaseNative(obj);

    public nint IORegistryEntryCreateCFProperty(uint entry, nint key) => IORegistryEntryCreateCFPropertyNative(entry, key, 0, 0);

    public nint IORegistryEntrySearchCFProperty(uint entry, string plane, nint key, uint options) =>
        IORegistryEntrySearchCFPropertyNative(entry, plane, key, 0, options);

    public int IORegistryEntryGetRegistryEntryID(uint entry, out ulong entryId) => IORegistryEntryGetRegistryEntryIDNative(entry, out entryId);

    public int IOServiceOpen(uint service, uint type, out uint connection) => IOServiceOpenNative(service, _task, type, out connection);

    public int IOServiceClose(uint connection) => IOServiceCloseNative(connection);

    public int IOConnectCallMethod(uint connection, uint selector, ReadOnlySpan<ulong> input, ReadOnlySpan<byte> inputStruct,
        Span<ulong> output, ref uint outputCount, Span<byte> outputStruct, ref nuint outputStructSize)
    {
        uint count = Math.Min(outputCount, (uint)output.Length);
        nuint size = Math.Min(outputStructSize, (nuint)outputStruct.Length);
        int status;
        fixed (ulong* i = input)
        fixed (byte* si = inputStruct)
        fixed (ulong* o = output)
        fixed (byte* so = outputStruct)
        {
            status = IOConnectCallMethodNative(connection, selector, i, (uint)input.Length, si, (nuint)inputStruct.Length,
                o, &count, so, &size);
        }

        outputCount = count;
        outputStructSize = size;
        return status;
    }

    public int IOConnectCallAsyncMethod(uint connection, uint selector, uint wakePort, Span<ulong> reference, ReadOnlySpan<ulong> input,
        ReadOnlySpan<byte> inputStruct, Span<ulong> output, ref uint outputCount, Span<byte> outputStruct, ref nuint outputStructSize)
    {
        uint count = Math.Min(outputCount, (uint)output.Length);
        nuint size = Math.Min(outputStructSize, (nuint)outputStruct.Length);
        int status;
        fixed (ulong* r = reference)
        fixed (ulong* i = input)
        fixed (byte* si = inputStruct)
        fixed (ulong* o = output)
        fixed (byte* so = outputStruct)
        {
            status = IOConnectCallAsyncMethodNative(connection, selector, wakePort, r, (uint)reference.Length, i, (uint)input.Length,
                si, (nuint)inputStruct.Length, o, &count, so, &size);
        }

        outputCount = count;
        outputStructSize = size;
        return status;
    }

    public int IOConnectMapMemory64(uint connection, uint memoryType, ref ulong address, ref ulong size, uint options)
    {
        ulong a = address, s = size;
        int status = IOConnectMapMemory64Native(connection, memoryType, _task, &a, &s, options);
        address = a;
        size = s;
        return status;
    }

    public int IOConnectUnmapMemory64(uint connection, uint memoryType, ulong address) =>
        IOConnectUnmapMemory64Native(connection, memoryType, _task, address);

    public nint IONotificationPortCreate() => IONotificationPortCreateNative(MainPortDefault);

    public void IONotificationPortDestroy(nint port) => IONotificationPortDestroyNative(port);

    public uint IONotificationPortGetMachPort(nint port) => IONotificationPortGetMachPortNative(port);

    public void IONotificationPortSetDispatchQueue(nint port, nint queue) => IONotificationPortSetDispatchQueueNative(port, queue);

    public int IOServiceAddMatchingNotification(nint port, string notificationType, nint matching, nint callback, nint refcon, out uint iterator) =>
        IOServiceAddMatchingNotificationNative(port, notificationType, matching, callback, refcon, out iterator);

    public int IOServiceAddInterestNotification(nint port, uint service, string interestType, nint callback, nint refcon, out uint notification) =>
        IOServiceAddInterestNotificationNative(port, service, interestType, callback, refcon, out notification);

    public uint IORegisterForSystemPower(nint refcon, out nint port, nint callback, out uint notifier) =>
        IORegisterForSystemPowerNative(refcon, out port, callback, out notifier);

    public int IODeregisterForSystemPower(ref uint notifier) => IODeregisterForSystemPowerNative(ref notifier);

    public int IOAllowPowerChange(uint rootPort, nint notificationId) => IOAllowPowerChangeNative(rootPort, notificationId);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDrainMarker(nint context)
    {
        try
        {
            var handle = GCHandle.FromIntPtr(context);
            (handle.Target as ManualResetEventSlim)?.Set();
            handle.Free();
        }
        catch (Exception)
        {
            // Never let an exception cross into libdispatch.
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct CFRange(nint location, nint length)
    {
        public readonly nint Location = location;
        public readonly nint Length = length;
    }

    // ---- declarations (IOKitLib.h, IOPMLib.h, CoreFoundation, libdispatch, mach) ----

    [LibraryImport(CFLibrary, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint CFStringCreateWithCString(nint allocator, string value, uint encoding);

    [LibraryImport(CFLibrary, EntryPoint = "CFStringGetLength")]
    private static partial nint CFStringGetLengthNative(nint str);

    [LibraryImport(CFLibrary, EntryPoint = "CFStringGetMaximumSizeForEncoding")]
    private static partial nint CFStringGetMaximumSizeForEncodingNative(nint length, uint encoding);

    [LibraryImport(CFLibrary, EntryPoint = "CFStringGetCString")]
    private static partial byte CFStringGetCStringNative(nint str, byte* buffer, nint bufferSize, uint encoding);

    [LibraryImport(CFLibrary, EntryPoint = "CFGetTypeID")]
    private static partial nuint CFGetTypeIDNative(nint cf);

    [LibraryImport(CFLibrary, EntryPoint = "CFStringGetTypeID")]
    private static partial nuint CFStringGetTypeIDNative();

    [LibraryImport(CFLibrary, EntryPoint = "CFNumberGetTypeID")]
    private static partial nuint CFNumberGetTypeIDNative();

    [LibraryImport(CFLibrary, EntryPoint = "CFBooleanGetTypeID")]
    private static partial nuint CFBooleanGetTypeIDNative();

    [LibraryImport(CFLibrary, EntryPoint = "CFDataGetTypeID")]
    private static partial nuint CFDataGetTypeIDNative();

    [LibraryImport(CFLibrary, EntryPoint = "CFDictionaryGetTypeID")]
    private static partial nuint CFDictionaryGetTypeIDNative();

    [LibraryImport(CFLibrary)]
    private static partial byte CFNumberGetValue(nint number, nint type, long* value);

    [LibraryImport(CFLibrary, EntryPoint = "CFBooleanGetValue")]
    private static partial byte CFBooleanGetValueNative(nint boolean);

    [LibraryImport(CFLibrary, EntryPoint = "CFDataGetLength")]
    private static partial nint CFDataGetLengthNative(nint data);

    [LibraryImport(CFLibrary, EntryPoint = "CFDataGetBytes")]
    private static partial void CFDataGetBytesNative(nint data, CFRange range, byte* buffer);

    [LibraryImport(CFLibrary, EntryPoint = "CFDictionaryCreateMutable")]
    private static partial nint CFDictionaryCreateMutableNative(nint allocator, nint capacity, nint keyCallbacks, nint valueCallbacks);

    [LibraryImport(CFLibrary, EntryPoint = "CFDictionarySetValue")]
    private static partial void CFDictionarySetValueNative(nint dictionary, nint key, nint value);

    [LibraryImport(CFLibrary, EntryPoint = "CFDictionaryGetValue")]
    private static partial nint CFDictionaryGetValueNative(nint dictionary, nint key);

    [LibraryImport(CFLibrary, EntryPoint = "CFRelease")]
    private static partial void CFReleaseNative(nint cf);

    [LibraryImport(SystemLibrary, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dispatch_queue_create(string label, nint attributes);

    [LibraryImport(SystemLibrary)]
    private static partial void dispatch_async_f(nint queue, nint context, delegate* unmanaged[Cdecl]<nint, void> work);

    [LibraryImport(SystemLibrary)]
    private static partial void dispatch_release(nint queue);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOServiceMatching", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint IOServiceMatchingNative(string className);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOServiceGetMatchingServices")]
    private static partial int IOServiceGetMatchingServicesNative(uint mainPort, nint matching, out uint iterator);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOIteratorNext")]
    private static partial uint IOIteratorNextNative(uint iterator);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOObjectRelease")]
    private static partial int IOObjectReleaseNative(uint obj);

    [LibraryImport(IOKitLibrary, EntryPoint = "IORegistryEntryCreateCFProperty")]
    private static partial nint IORegistryEntryCreateCFPropertyNative(uint entry, nint key, nint allocator, uint options);

    [LibraryImport(IOKitLibrary, EntryPoint = "IORegistryEntrySearchCFProperty", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint IORegistryEntrySearchCFPropertyNative(uint entry, string plane, nint key, nint allocator, uint options);

    [LibraryImport(IOKitLibrary, EntryPoint = "IORegistryEntryGetRegistryEntryID")]
    private static partial int IORegistryEntryGetRegistryEntryIDNative(uint entry, out ulong entryId);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOServiceOpen")]
    private static partial int IOServiceOpenNative(uint service, uint owningTask, uint type, out uint connection);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOServiceClose")]
    private static partial int IOServiceCloseNative(uint connection);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOConnectCallMethod")]
    private static partial int IOConnectCallMethodNative(uint connection, uint selector, ulong* input, uint inputCount, byte* inputStruct,
        nuint inputStructSize, ulong* output, uint* outputCount, byte* outputStruct, nuint* outputStructSize);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOConnectCallAsyncMethod")]
    private static partial int IOConnectCallAsyncMethodNative(uint connection, uint selector, uint wakePort, ulong* reference, uint referenceCount,
        ulong* input, uint inputCount, byte* inputStruct, nuint inputStructSize, ulong* output, uint* outputCount, byte* outputStruct,
        nuint* outputStructSize);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOConnectMapMemory64")]
    private static partial int IOConnectMapMemory64Native(uint connection, uint memoryType, uint intoTask, ulong* address, ulong* size, uint options);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOConnectUnmapMemory64")]
    private static partial int IOConnectUnmapMemory64Native(uint connection, uint memoryType, uint fromTask, ulong address);

    [LibraryImport(IOKitLibrary, EntryPoint = "IONotificationPortCreate")]
    private static partial nint IONotificationPortCreateNative(uint mainPort);

    [LibraryImport(IOKitLibrary, EntryPoint = "IONotificationPortDestroy")]
    private static partial void IONotificationPortDestroyNative(nint port);

    [LibraryImport(IOKitLibrary, EntryPoint = "IONotificationPortGetMachPort")]
    private static partial uint IONotificationPortGetMachPortNative(nint port);

    [LibraryImport(IOKitLibrary, EntryPoint = "IONotificationPortSetDispatchQueue")]
    private static partial void IONotificationPortSetDispatchQueueNative(nint port, nint queue);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOServiceAddMatchingNotification", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int IOServiceAddMatchingNotificationNative(nint port, string notificationType, nint matching, nint callback,
        nint refcon, out uint iterator);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOServiceAddInterestNotification", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int IOServiceAddInterestNotificationNative(nint port, uint service, string interestType, nint callback,
        nint refcon, out uint notification);

    [LibraryImport(IOKitLibrary, EntryPoint = "IORegisterForSystemPower")]
    private static partial uint IORegisterForSystemPowerNative(nint refcon, out nint port, nint callback, out uint notifier);

    [LibraryImport(IOKitLibrary, EntryPoint = "IODeregisterForSystemPower")]
    private static partial int IODeregisterForSystemPowerNative(ref uint notifier);

    [LibraryImport(IOKitLibrary, EntryPoint = "IOAllowPowerChange")]
    private static partial int IOAllowPowerChangeNative(uint rootPort, nint notificationId);
}

/// <summary>The one way to the real IOKit: null on every system but macOS, so nothing native is loaded elsewhere.</summary>
internal static class IOKitRuntime
{
    /// <summary>The real IOKit on macOS; null elsewhere.</summary>
    public static IIOKit? Current => OperatingSystem.IsMacOS() ? IOKitNative.Instance : null;

    /// <summary>Why the real IOKit is not available here (null on macOS).</summary>
    public static string? NotMacOSReason => OperatingSystem.IsMacOS()
        ? null
        : $"not macOS: the macos backend reaches boards through the LitePCIe dext's IOKit user client, and this host runs {RuntimeInformation.OSDescription}";
}
