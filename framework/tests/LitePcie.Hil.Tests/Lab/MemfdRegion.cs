using System.Runtime.InteropServices;
using NUnit.Framework;

namespace LitePcie.Hil.DeviceServer.Tests;

/// <summary>A memfd standing in for QEMU's shared guest RAM in tests (the owner's view of the same pages).</summary>
internal sealed unsafe partial class MemfdRegion : IDisposable
{
    private readonly int _fd;
    private readonly byte* _map;
    private readonly long _size;

    public MemfdRegion(long size)
    {
        _size = size;
        _fd = MemfdCreate("litepcie-hil-test", 0);
        if (_fd < 0 || Ftruncate(_fd, size) != 0)
        {
            throw new IOException($"memfd_create/ftruncate: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        _map = (byte*)Mmap(null, (nuint)size, 3, 1, _fd, 0);
        if (_map == (byte*)-1)
        {
            throw new IOException($"mmap: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    public int Fd => _fd;

    /// <summary>A duplicate fd (the receiver closes what it is given).</summary>
    public int Dup() => DupFd(_fd);

    public T Read<T>(long offset) where T : unmanaged => *(T*)(_map + offset);

    public void Write<T>(long offset, T value) where T : unmanaged => *(T*)(_map + offset) = value;

    public void Dispose()
    {
        _ = Munmap(_map, (nuint)_size);
        _ = Close(_fd);
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int DupFd(int fd);
}

/// <summary>Skips tests that need Linux (memfd, unix sockets with fd passing).</summary>
internal static class Guard
{
    public static void RequireLinux()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("needs Linux (memfd_create, SCM_RIGHTS)");
        }
    }
}
