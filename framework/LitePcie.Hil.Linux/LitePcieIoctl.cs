using System.Runtime.InteropServices;

namespace LitePcie.Hil.Linux;

/// <summary>
/// The ioctls of the upstream <c>litepcie</c> driver (<c>litepcie.h</c>, type <c>'S'</c>) for LP64 Linux
/// (x86_64, aarch64), computed the way <c>_IOR</c>/<c>_IOW</c>/<c>_IOWR</c> compute them and pinned by tests
/// against docs/linux-driver.md#ioctls and a C compiler.
/// </summary>
internal static class LitePcieIoctl
{
    private const uint Type = 'S';
    private const uint None = 0, Write = 1, Read = 2;

    /// <summary><c>_IOC(dir, type, nr, size)</c>.</summary>
    public static uint Ioc(uint direction, uint type, uint number, int size) =>
        (direction << 30) | ((uint)size << 16) | (type << 8) | number;

    internal static readonly uint Reg = Ioc(Read | Write, Type, 0, Marshal.SizeOf<LitePcieReg>());
    internal static readonly uint Flash = Ioc(Read | Write, Type, 1, Marshal.SizeOf<LitePcieFlash>());
    internal static readonly uint Icap = Ioc(Read | Write, Type, 2, Marshal.SizeOf<LitePcieIcap>());
    internal static readonly uint Dma = Ioc(Write, Type, 20, Marshal.SizeOf<LitePcieDma>());
    internal static readonly uint DmaWriter = Ioc(Read | Write, Type, 21, Marshal.SizeOf<LitePcieDmaControl>());
    internal static readonly uint DmaReader = Ioc(Read | Write, Type, 22, Marshal.SizeOf<LitePcieDmaControl>());
    internal static readonly uint MmapDmaInfo = Ioc(Read, Type, 24, Marshal.SizeOf<LitePcieMmapDmaInfo>());
    internal static readonly uint Lock = Ioc(Read | Write, Type, 25, Marshal.SizeOf<LitePcieLock>());
    internal static readonly uint MmapDmaWriterUpdate = Ioc(Write, Type, 26, Marshal.SizeOf<LitePcieMmapDmaUpdate>());
    internal static readonly uint MmapDmaReaderUpdate = Ioc(Write, Type, 27, Marshal.SizeOf<LitePcieMmapDmaUpdate>());

    /// <summary>Name of a request number (for logs and errors).</summary>
    public static string Name(uint request) =>
        request == Reg ? "LITEPCIE_IOCTL_REG"
        : request == Flash ? "LITEPCIE_IOCTL_FLASH"
        : request == Icap ? "LITEPCIE_IOCTL_ICAP"
        : request == Dma ? "LITEPCIE_IOCTL_DMA"
        : request == DmaWriter ? "LITEPCIE_IOCTL_DMA_WRITER"
        : request == DmaReader ? "LITEPCIE_IOCTL_DMA_READER"
        : request == MmapDmaInfo ? "LITEPCIE_IOCTL_MMAP_DMA_INFO"
        : request == Lock ? "LITEPCIE_IOCTL_LOCK"
        : request == MmapDmaWriterUpdate ? "LITEPCIE_IOCTL_MMAP_DMA_WRITER_UPDATE"
        : request == MmapDmaReaderUpdate ? "LITEPCIE_IOCTL_MMAP_DMA_READER_UPDATE"
        : $"ioctl 0x{request:X8}";
}

/// <summary><c>struct litepcie_ioctl_reg</c> (12 bytes): a 32-bit access at an absolute CSR address.</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
internal struct LitePcieReg
{
    [FieldOffset(0)] public uint Address;
    [FieldOffset(4)] public uint Value;
    [FieldOffset(8)] public byte IsWrite;
}

/// <summary><c>struct litepcie_ioctl_flash</c> (24 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct LitePcieFlash
{
    [FieldOffset(0)] public int TxLength;
    [FieldOffset(8)] public ulong TxData;
    [FieldOffset(16)] public ulong RxData;
}

/// <summary><c>struct litepcie_ioctl_icap</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct LitePcieIcap
{
    [FieldOffset(0)] public byte Address;
    [FieldOffset(4)] public uint Data;
}

/// <summary><c>struct litepcie_ioctl_dma</c> (1 byte): the loopback enable the driver writes at DMA base + 0x40.</summary>
[StructLayout(LayoutKind.Explicit, Size = 1)]
internal struct LitePcieDma
{
    [FieldOffset(0)] public byte LoopbackEnable;
}

/// <summary><c>struct litepcie_ioctl_dma_writer</c> / <c>_reader</c> (24 bytes): enable in, counts out.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct LitePcieDmaControl
{
    [FieldOffset(0)] public byte Enable;
    [FieldOffset(8)] public long HwCount;
    [FieldOffset(16)] public long SwCount;
}

/// <summary><c>struct litepcie_ioctl_mmap_dma_info</c> (48 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct LitePcieMmapDmaInfo
{
    [FieldOffset(0)] public ulong TxBufferOffset;
    [FieldOffset(8)] public ulong TxBufferSize;
    [FieldOffset(16)] public ulong TxBufferCount;
    [FieldOffset(24)] public ulong RxBufferOffset;
    [FieldOffset(32)] public ulong RxBufferSize;
    [FieldOffset(40)] public ulong RxBufferCount;
}

/// <summary><c>struct litepcie_ioctl_lock</c> (6 bytes, in this order).</summary>
[StructLayout(LayoutKind.Explicit, Size = 6)]
internal struct LitePcieLock
{
    [FieldOffset(0)] public byte ReaderRequest;
    [FieldOffset(1)] public byte WriterRequest;
    [FieldOffset(2)] public byte ReaderRelease;
    [FieldOffset(3)] public byte WriterRelease;
    [FieldOffset(4)] public byte ReaderStatus;
    [FieldOffset(5)] public byte WriterStatus;
}

/// <summary><c>struct litepcie_ioctl_mmap_dma_update</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct LitePcieMmapDmaUpdate
{
    [FieldOffset(0)] public long SwCount;
}
