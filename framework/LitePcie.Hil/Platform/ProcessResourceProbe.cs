using System.Diagnostics;

namespace LitePcie.Hil.Platform;

/// <summary>
/// The test process itself: managed heap after a full collection (so garbage does not read as growth), private
/// (native + managed) bytes, open handles (file descriptors on Linux and macOS) and threads.
/// </summary>
public sealed class ProcessResourceProbe : IResourceProbe
{
    public string Description => "test process (managed heap after GC, private bytes, handles, threads)";

    public IReadOnlyList<ResourceReading> Sample(string device)
    {
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return
        [
            new("process.managed_bytes", managed, ResourceUnit.Bytes),
            new("process.private_bytes", p.PrivateMemorySize64, ResourceUnit.Bytes),
            new("process.handles", OpenHandles(p), ResourceUnit.Count),
            new("process.threads", p.Threads.Count, ResourceUnit.Count),
        ];
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
