using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LitePcie.Hil.Platform;

/// <summary>
/// The test process itself: managed heap after a full collection (so garbage does not read as growth), the C heap
/// in use (glibc's <c>mallinfo2</c>: native allocations, without the GC heap's commit changes that move private bytes),
/// private (native + managed) bytes, the GC's committed memory, private bytes outside it, open handles (file descriptors
/// on Linux and macOS) and threads. The GC commits and decommits by its own policy (budgets that follow allocation rate
/// and load), so private bytes move with that policy; private bytes minus the GC's commit is the rest of the process
/// (C heap, JIT code, stacks, mappings), the figure a native leak shows in.
/// </summary>
public sealed partial class ProcessResourceProbe : IResourceProbe
{
    /// <inheritdoc />
    public string Description => "test process (managed heap after GC, C heap in use, private bytes, GC commit, private bytes outside the GC, handles, threads)";

    /// <inheritdoc />
    public IReadOnlyList<ResourceReading> Sample(string device)
    {
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        GC.WaitForPendingFinalizers();
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        long committed = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes; // the full collection above is the last one
        long privateBytes = p.PrivateMemorySize64;
        var readings = new List<ResourceReading>
        {
            new("process.managed_bytes", managed, ResourceUnit.Bytes),
            new("process.private_bytes", privateBytes, ResourceUnit.Bytes),
            new("process.gc_committed_bytes", committed, ResourceUnit.Bytes),
            new("process.private_non_gc_bytes", privateBytes - committed, ResourceUnit.Bytes),
            new("process.handles", OpenHandles(p), ResourceUnit.Count),
            new("process.threads", p.Threads.Count, ResourceUnit.Count),
        };
        if (NativeHeapInUse() is { } native)
        {
            readings.Add(new("process.native_heap_bytes", native, ResourceUnit.Bytes));
        }

        return readings;
    }

    /// <summary>Bytes allocated from the C heap (glibc <c>mallinfo2().uordblks + hblkhd</c>); null where there is no glibc.</summary>
    public static long? NativeHeapInUse()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            var m = MallInfo2();
            return (long)(m.Uordblks + m.Hblkhd);
        }
        catch (EntryPointNotFoundException)
        {
            return null; // not glibc (musl), or glibc before 2.33
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallinfo2")]
    private static partial Mallinfo2Result MallInfo2();

    /// <summary>glibc's <c>struct mallinfo2</c> (ten size_t fields).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct Mallinfo2Result
    {
        public readonly nuint Arena;
        public readonly nuint Ordblks;
        public readonly nuint Smblks;
        public readonly nuint Hblks;
        public readonly nuint Hblkhd;
        public readonly nuint Usmblks;
        public readonly nuint Fsmblks;
        public readonly nuint Uordblks;
        public readonly nuint Fordblks;
        public readonly nuint Keepcost;
    }

    private static int OpenHandles(Process p)
    {
        // On Linux the fd table is the honest handle count; Process.HandleCount is the Windows/macOS figure.
        if (OperatingSystem.IsLinux() && Directory.Exists("/proc/self/fd"))
        {
            try
            {
                return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
            }
            catch (IOException)
            {
                // fall back below
            }
        }

        return p.HandleCount;
    }
}
