using System.Runtime.InteropServices;

namespace LitePcie.Hil.Linux;

/// <summary>
/// The system calls the Linux backend makes, behind a seam so the transport is tested against a fake kernel.
/// Every call returns a non-negative result or <c>-errno</c> (never throws for an errno).
/// </summary>
internal unsafe interface ILinuxSyscalls
{
    /// <summary><c>open(2)</c>: a file descriptor or −errno.</summary>
    int Open(string path, int flags);

    /// <summary><c>close(2)</c>: 0 or −errno.</summary>
    int Close(int fd);

    /// <summary><c>ioctl(2)</c>: ≥ 0 or −errno.</summary>
    int Ioctl(int fd, uint request, void* argument);

    /// <summary><c>mmap(2)</c> with MAP_SHARED: the address, or 0 and <paramref name="error"/> = errno.</summary>
    nint Mmap(nint length, int protection, int fd, long offset, out int error);

    /// <summary><c>munmap(2)</c>: 0 or −errno.</summary>
    int Munmap(nint address, nint length);

    /// <summary><c>poll(2)</c> on one descriptor: 1 ready, 0 timeout, −errno; <paramref name="returned"/> = revents.</summary>
    int Poll(int fd, short events, int timeoutMs, out short returned);

    /// <summary><c>read(2)</c>: bytes read or −errno.</summary>
    nint Read(int fd, void* buffer, nint count);

    /// <summary><c>write(2)</c>: bytes written or −errno.</summary>
    nint Write(int fd, void* buffer, nint count);

    /// <summary><c>fcntl(2)</c> with an integer argument (F_GETFL, F_SETFL): the result or −errno.</summary>
    int Fcntl(int fd, int command, int argument);
}

/// <summary>Linux constants used by the backend (x86_64 and aarch64 agree on these).</summary>
internal static class LinuxConstants
{
    public const int ReadWrite = 0x2;        // O_RDWR
    public const int CloseOnExec = 0x80000;  // O_CLOEXEC
    public const int NonBlocking = 0x800;    // O_NONBLOCK
    public const int ProtRead = 0x1;
    public const int ProtWrite = 0x2;
    public const int GetStatusFlags = 3;     // F_GETFL
    public const int SetStatusFlags = 4;     // F_SETFL
    public const short PollIn = 0x1;
    public const short PollOut = 0x4;

    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14,
        EBUSY = 16, ENODEV = 19, EINVAL = 22, ENOTTY = 25, ETIMEDOUT = 110, ESHUTDOWN = 108;
}

/// <summary>The real system calls (libc), used only on Linux.</summary>
internal sealed unsafe partial class LibcSyscalls : ILinuxSyscalls
{
    /// <inheritdoc />
    public int Open(string path, int flags) => Result(open(path, flags));

    /// <inheritdoc />
    public int Close(int fd) => Result(close(fd));

    /// <inheritdoc />
    public int Ioctl(int fd, uint request, void* argument) => Result(ioctl(fd, request, argument));

    /// <inheritdoc />
    public nint Mmap(nint length, int protection, int fd, long offset, out int error)
    {
        nint p = mmap(0, length, protection, 0x01 /* MAP_SHARED */, fd, offset);
        if (p == -1)
        {
            error = Marshal.GetLastPInvokeError();
            return 0;
        }

        error = 0;
        return p;
    }

    /// <inheritdoc />
    public int Munmap(nint address, nint length) => Result(munmap(address, length));

    /// <inheritdoc />
    public int Poll(int fd, short events, int timeoutMs, out short returned)
    {
        var p = new PollFd { Fd = fd, Events = events };
        int r = poll(&p, 1, timeoutMs);
        returned = p.Revents;
        return Result(r);
    }

    /// <inheritdoc />
    public nint Read(int fd, void* buffer, nint count)
    {
        nint r = read(fd, buffer, count);
        return r < 0 ? -Marshal.GetLastPInvokeError() : r;
    }

    /// <inheritdoc />
    public nint Write(int fd, void* buffer, nint count)
    {
        nint r = write(fd, buffer, count);
        return r < 0 ? -Marshal.GetLastPInvokeError() : r;
    }

    /// <inheritdoc />
    public int Fcntl(int fd, int command, int argument) => Result(fcntl(fd, command, argument));

    private static int Result(int r) => r < 0 ? -Marshal.GetLastPInvokeError() : r;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint mmap(nint address, nint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int munmap(nint address, nint length);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint read(int fd, void* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nint count);
}
