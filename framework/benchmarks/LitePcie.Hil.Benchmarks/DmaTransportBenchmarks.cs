using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace LitePcie.Hil.Benchmarks;

/// <summary>
/// The two ways the device server's DMA could reach a VM's guest RAM (docs/linux-guest.md), one 2 MiB ring
/// (256 × 8 KiB buffers, litepcie.ko's geometry) per operation:
/// <list type="bullet">
/// <item><see cref="SharedGuestRam"/> — what the server does: guest RAM is QEMU's memfd, mapped by the server; a
/// buffer the board writes is one copy into it (baseline).</item>
/// <item><see cref="BatchedWriteMessages"/> — the alternative for writes: each 8 KiB buffer is a message on a unix
/// socket to a "QEMU" thread that copies it into guest RAM; the sender waits for the receiver once per 32
/// buffers (an MSI may only follow its data).</item>
/// <item><see cref="ReadRoundTrips"/> — the alternative for reads (host → device): a request per buffer, answered
/// with its 8 KiB.</item>
/// </list>
/// The "QEMU" side is a thread of this process over a socketpair: the cost of the socket and copies only, no QEMU
/// event loop, so the message figures are upper bounds.
/// </summary>
public unsafe partial class DmaTransportBenchmarks
{
    private const int BufferSize = PatternBenchmarks.BufferSize;
    private const int BufferCount = PatternBenchmarks.BufferCount;
    private const int Batch = 32;
    private const int HeaderBytes = 16;

    private int _memfd;
    private byte* _guestRam;
    private byte* _source;
    private int _server;
    private int _qemu;
    private Thread? _qemuThread;
    private volatile bool _stop;

    [GlobalSetup]
    public void Setup()
    {
        _memfd = MemfdCreate("lph-bench", 0);
        _ = Ftruncate(_memfd, PatternBenchmarks.RingBytes);
        _guestRam = (byte*)Mmap(null, (nuint)PatternBenchmarks.RingBytes, 3, 1, _memfd, 0);
        _source = (byte*)NativeMemory.AlignedAlloc((nuint)PatternBenchmarks.RingBytes, 4096);
        new Span<byte>(_source, (int)PatternBenchmarks.RingBytes).Fill(0x5A);
        int* pair = stackalloc int[2];
        if (SocketPair(1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0, pair) != 0)
        {
            throw new IOException("socketpair failed");
        }

        _server = pair[0];
        _qemu = pair[1];
        _qemuThread = new Thread(Qemu) { IsBackground = true, Name = "bench qemu" };
        _qemuThread.Start();
        CpuMeter.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        CpuMeter.Stop(typeof(DmaTransportBenchmarks));
        _stop = true;
        _ = Shutdown(_server, 2);
        _qemuThread?.Join();
        _ = Close(_server);
        _ = Close(_qemu);
        _ = Munmap(_guestRam, (nuint)PatternBenchmarks.RingBytes);
        _ = Close(_memfd);
        NativeMemory.AlignedFree(_source);
    }

    /// <summary>Baseline: the board's writer stores each buffer straight into the mapped guest RAM.</summary>
    [Benchmark(Baseline = true)]
    [BytesPerOperation(PatternBenchmarks.RingBytes)]
    public void SharedGuestRam()
    {
        CpuMeter.Running(nameof(SharedGuestRam));
        Buffer.MemoryCopy(_source, _guestRam, PatternBenchmarks.RingBytes, PatternBenchmarks.RingBytes);
    }

    /// <summary>Each buffer as a write message; the "QEMU" thread copies it into guest RAM; one acknowledgement per 32.</summary>
    [Benchmark]
    [BytesPerOperation(PatternBenchmarks.RingBytes)]
    public void BatchedWriteMessages()
    {
        CpuMeter.Running(nameof(BatchedWriteMessages));
        byte* header = stackalloc byte[HeaderBytes];
        for (int b = 0; b < BufferCount; b++)
        {
            *(int*)header = 1; // write
            *(int*)(header + 4) = b;
            *(int*)(header + 8) = (b % Batch) == Batch - 1 ? 1 : 0; // ack wanted
            SendAll(_server, header, HeaderBytes);
            SendAll(_server, _source + ((long)b * BufferSize), BufferSize);
            if ((b % Batch) == Batch - 1)
            {
                RecvAll(_server, header, 4);
            }
        }
    }

    /// <summary>Each buffer the board reads as a request answered with its data.</summary>
    [Benchmark]
    [BytesPerOperation(PatternBenchmarks.RingBytes)]
    public void ReadRoundTrips()
    {
        CpuMeter.Running(nameof(ReadRoundTrips));
        byte* header = stackalloc byte[HeaderBytes];
        for (int b = 0; b < BufferCount; b++)
        {
            *(int*)header = 2; // read
            *(int*)(header + 4) = b;
            SendAll(_server, header, HeaderBytes);
            RecvAll(_server, _source + ((long)b * BufferSize), BufferSize);
        }
    }

    private void Qemu()
    {
        byte* header = stackalloc byte[HeaderBytes];
        byte* staging = (byte*)NativeMemory.Alloc(BufferSize);
        try
        {
            while (!_stop && RecvAll(_qemu, header, HeaderBytes))
            {
                int kind = *(int*)header;
                long offset = (long)*(int*)(header + 4) * BufferSize;
                if (kind == 1)
                {
                    RecvAll(_qemu, staging, BufferSize);
                    Buffer.MemoryCopy(staging, _guestRam + offset, BufferSize, BufferSize); // pci_dma_write
                    if (*(int*)(header + 8) == 1)
                    {
                        SendAll(_qemu, header, 4);
                    }
                }
                else
                {
                    SendAll(_qemu, _guestRam + offset, BufferSize); // pci_dma_read, then the answer
                }
            }
        }
        finally
        {
            NativeMemory.Free(staging);
        }
    }

    private static void SendAll(int fd, byte* p, int n)
    {
        while (n > 0)
        {
            nint sent = Send(fd, p, (nuint)n, 0x4000);
            if (sent <= 0)
            {
                throw new IOException("send failed");
            }

            p += sent;
            n -= (int)sent;
        }
    }

    private static bool RecvAll(int fd, byte* p, int n)
    {
        while (n > 0)
        {
            nint got = Recv(fd, p, (nuint)n, 0);
            if (got <= 0)
            {
                return false;
            }

            p += got;
            n -= (int)got;
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "socketpair")]
    private static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate")]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "send")]
    private static partial nint Send(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv")]
    private static partial nint Recv(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "shutdown")]
    private static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
