using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LitePcie.Hil.Dext;

namespace LitePcie.Hil.Simulation.Sil;

[InlineArray(DextAbi.MaxSegments)]
internal struct SilSegmentArray
{
    private SilSegment _element0;
}

/// <summary>One bus segment (<c>LpcSilSegment</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SilSegment
{
    public ulong BusAddress;
    public ulong Length;
}

/// <summary>A DMA buffer the C# host hands to the core (<c>LpcSilDmaBuffer</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SilDmaBuffer
{
    public ulong CpuAddress;
    public ulong Length;
    public ulong Handle;
    public uint SegmentCount;
    public uint Reserved;
    internal SilSegmentArray Segments;
}

/// <summary>Driver-side resource counters (<c>LpcSilStats</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SilStats
{
    public ulong LiveDmaBuffers;
    public ulong LiveDmaBytes;
    public ulong LiveSharedBytes;
    public ulong PendingWaits;
    public ulong ClientsOpened;
    public ulong Interrupts;
    public ulong LiveDevices;
    public ulong LiveTimers;
    public ulong NativeAllocations;
    public ulong NativeBytes;
}

/// <summary>The callback table (<c>LpcSilCallbacks</c>); the native side copies it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SilCallbacks
{
    public nint Context;
    public delegate* unmanaged[Cdecl]<nint, uint, ulong, uint> MmioRead32;
    public delegate* unmanaged[Cdecl]<nint, uint, ulong, uint, void> MmioWrite32;
    public delegate* unmanaged[Cdecl]<nint, uint, uint> ConfigRead32;
    public delegate* unmanaged[Cdecl]<nint, uint, ushort, void> ConfigWrite16;
    internal delegate* unmanaged[Cdecl]<nint, ulong, uint, SilDmaBuffer*, int> AllocateDma;
    public delegate* unmanaged[Cdecl]<nint, ulong, void> FreeDma;
    public delegate* unmanaged[Cdecl]<nint, ulong, int, ulong*, uint, void> CompleteAsync;
    public delegate* unmanaged[Cdecl]<nint, uint, int> ResetFunction;
    public delegate* unmanaged[Cdecl]<nint, byte*, void> Log;
}

/// <summary>P/Invoke surface of <c>liblpc_sil</c> (dext/sil/lpc_sil.h).</summary>
internal static unsafe partial class LpcSilNative
{
    public const string Library = "lpc_sil";

    [LibraryImport(Library, EntryPoint = "lpc_sil_abi_version")]
    public static partial uint AbiVersion();

    [LibraryImport(Library, EntryPoint = "lpc_sil_now_ns")]
    public static partial ulong NowNs();

    [LibraryImport(Library, EntryPoint = "lpc_sil_create")]
    public static partial nint Create(SilCallbacks* callbacks);

    [LibraryImport(Library, EntryPoint = "lpc_sil_start")]
    internal static partial int Start(nint device, LpcBoardLayout* layout);

    [LibraryImport(Library, EntryPoint = "lpc_sil_stop")]
    public static partial void Stop(nint device);

    [LibraryImport(Library, EntryPoint = "lpc_sil_destroy")]
    public static partial void Destroy(nint device);

    [LibraryImport(Library, EntryPoint = "lpc_sil_open")]
    public static partial int Open(nint device, uint type, uint* client);

    [LibraryImport(Library, EntryPoint = "lpc_sil_close")]
    public static partial void Close(nint device, uint client);

    [LibraryImport(Library, EntryPoint = "lpc_sil_call")]
    public static partial int Call(nint device, uint client, ulong selector, ulong* scalarInput, uint scalarInputCount,
        byte* structInput, ulong structInputSize, ulong* scalarOutput, uint scalarOutputCount, byte* structOutput,
        ulong structOutputCapacity, ulong* structOutputSize, uint hasCompletion, ulong asyncToken, uint* asyncTokenTaken);

    [LibraryImport(Library, EntryPoint = "lpc_sil_map")]
    public static partial int Map(nint device, uint client, ulong type, ulong* address, ulong* length, uint* readOnly);

    [LibraryImport(Library, EntryPoint = "lpc_sil_interrupt")]
    public static partial void Interrupt(nint device, uint vector, ulong timeNs);

    [LibraryImport(Library, EntryPoint = "lpc_sil_set_power")]
    public static partial void SetPower(nint device, uint on);

    [LibraryImport(Library, EntryPoint = "lpc_sil_device_removed")]
    public static partial void DeviceRemoved(nint device);

    [LibraryImport(Library, EntryPoint = "lpc_sil_stats")]
    internal static partial void Stats(nint device, SilStats* output);

    [LibraryImport(Library, EntryPoint = "lpc_sil_debug_leak")]
    public static partial void DebugLeak(ulong bytes);
}
