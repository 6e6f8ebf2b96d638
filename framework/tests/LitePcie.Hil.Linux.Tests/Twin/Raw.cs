using LitePcie.Hil.Csr;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>
/// Raw calls into litepcie.ko through the syscall seam, for tests that pin the driver's own semantics (the same code
/// runs against the fake kernel and the real one).
/// </summary>
internal static unsafe class Raw
{
    /// <summary>ioctl with a struct argument: the result (≥ 0 or −errno); the struct is updated in place.</summary>
    public static int Ioctl<T>(ILinuxSyscalls sys, int fd, uint request, ref T argument)
        where T : unmanaged
    {
        fixed (T* p = &argument)
        {
            return sys.Ioctl(fd, request, p);
        }
    }

    /// <summary>Opens a node; fails the test with the errno when it cannot.</summary>
    public static int Open(ILinuxSyscalls sys, string node, bool nonBlocking = true)
    {
        int fd = sys.Open(node, ReadWrite | CloseOnExec | (nonBlocking ? NonBlocking : 0));
        return fd >= 0 ? fd : throw new InvalidOperationException($"open {node}: {LinuxErrors.Name(-fd)}");
    }

    /// <summary>LITEPCIE_IOCTL_LOCK with the given request/release bits; returns the struct as the driver left it.</summary>
    public static LitePcieLock Lock(ILinuxSyscalls sys, int fd, DmaDirection direction, bool request = false, bool release = false)
    {
        var l = new LitePcieLock();
        if (direction == DmaDirection.Writer)
        {
            l.WriterRequest = request ? (byte)1 : (byte)0;
            l.WriterRelease = release ? (byte)1 : (byte)0;
        }
        else
        {
            l.ReaderRequest = request ? (byte)1 : (byte)0;
            l.ReaderRelease = release ? (byte)1 : (byte)0;
        }

        Check(Ioctl(sys, fd, LitePcieIoctl.Lock, ref l), "LITEPCIE_IOCTL_LOCK");
        return l;
    }

    /// <summary>The lock status of a direction in a LOCK answer.</summary>
    public static byte Status(this LitePcieLock l, DmaDirection direction) => direction == DmaDirection.Writer ? l.WriterStatus : l.ReaderStatus;

    /// <summary>LITEPCIE_IOCTL_DMA_WRITER/READER with an enable value; the counts it returned.</summary>
    public static LitePcieDmaControl Dma(ILinuxSyscalls sys, int fd, DmaDirection direction, byte enable)
    {
        var c = new LitePcieDmaControl { Enable = enable };
        Check(Ioctl(sys, fd, direction == DmaDirection.Writer ? LitePcieIoctl.DmaWriter : LitePcieIoctl.DmaReader, ref c), "LITEPCIE_IOCTL_DMA_WRITER/READER");
        return c;
    }

    /// <summary>LITEPCIE_IOCTL_MMAP_DMA_*_UPDATE.</summary>
    public static void Update(ILinuxSyscalls sys, int fd, DmaDirection direction, long sw)
    {
        var u = new LitePcieMmapDmaUpdate { SwCount = sw };
        Check(Ioctl(sys, fd, direction == DmaDirection.Writer ? LitePcieIoctl.MmapDmaWriterUpdate : LitePcieIoctl.MmapDmaReaderUpdate, ref u), "MMAP_DMA_UPDATE");
    }

    /// <summary>LITEPCIE_IOCTL_DMA (loopback at DMA base + 0x40).</summary>
    public static void Loopback(ILinuxSyscalls sys, int fd, bool enabled)
    {
        var d = new LitePcieDma { LoopbackEnable = enabled ? (byte)1 : (byte)0 };
        Check(Ioctl(sys, fd, LitePcieIoctl.Dma, ref d), "LITEPCIE_IOCTL_DMA");
    }

    /// <summary>A register through LITEPCIE_IOCTL_REG (absolute CSR address).</summary>
    public static uint Read(ILinuxSyscalls sys, int fd, CsrRegister register)
    {
        var r = new LitePcieReg { Address = (uint)register.Address };
        Check(Ioctl(sys, fd, LitePcieIoctl.Reg, ref r), "LITEPCIE_IOCTL_REG");
        return r.Value;
    }

    /// <summary>A register write through LITEPCIE_IOCTL_REG.</summary>
    public static void Write(ILinuxSyscalls sys, int fd, CsrRegister register, uint value)
    {
        var r = new LitePcieReg { Address = (uint)register.Address, Value = value, IsWrite = 1 };
        Check(Ioctl(sys, fd, LitePcieIoctl.Reg, ref r), "LITEPCIE_IOCTL_REG");
    }

    /// <summary>read(2) into a managed buffer: bytes or −errno.</summary>
    public static long Read(ILinuxSyscalls sys, int fd, byte[] buffer)
    {
        fixed (byte* p = buffer)
        {
            return sys.Read(fd, p, buffer.Length);
        }
    }

    /// <summary>write(2) from a managed buffer: bytes or −errno.</summary>
    public static long Write(ILinuxSyscalls sys, int fd, byte[] buffer)
    {
        fixed (byte* p = buffer)
        {
            return sys.Write(fd, p, buffer.Length);
        }
    }

    private static void Check(int r, string what)
    {
        if (r < 0)
        {
            throw new InvalidOperationException($"{what}: {LinuxErrors.Name(-r)}");
        }
    }
}
