using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using LitePcie.Hil.Dma;

namespace LitePcie.Hil.Benchmarks;

/// <summary>
/// The data path of a verified stream over one 8 KiB-buffer ring (256 × 8 KiB = 2 MiB, litepcie.ko's geometry):
/// our pattern's verification and generation against, in the same run, a plain 64-bit read of the same memory
/// (the baseline), a vector read, a memcpy, and dma_test's per-word check loop in C (gcc -O2) and in C#.
/// </summary>
[MemoryDiagnoser(false)]
public unsafe class PatternBenchmarks
{
    public const int BufferSize = 8192;
    public const int BufferCount = 256;
    public const long RingBytes = (long)BufferSize * BufferCount;

    private readonly SequencePattern _pattern = new(BufferSize);
    private byte* _ring;
    private byte* _copy;
    private byte* _dmaTestRing;

    [GlobalSetup]
    public void Setup()
    {
        _ring = (byte*)NativeMemory.AlignedAlloc((nuint)RingBytes, 4096);
        _copy = (byte*)NativeMemory.AlignedAlloc((nuint)RingBytes, 4096);
        _dmaTestRing = (byte*)NativeMemory.AlignedAlloc((nuint)RingBytes, 4096);
        for (int b = 0; b < BufferCount; b++)
        {
            _pattern.Fill(Buffer(_ring, b), b);
            DmaTestCheckLoop.Fill(Buffer(_dmaTestRing, b));
        }

        CpuMeter.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        CpuMeter.Stop(typeof(PatternBenchmarks));
        NativeMemory.AlignedFree(_ring);
        NativeMemory.AlignedFree(_copy);
        NativeMemory.AlignedFree(_dmaTestRing);
    }

    /// <summary>Baseline: every 64-bit word of the ring read once, one at a time.</summary>
    [Benchmark(Baseline = true)]
    [BytesPerOperation(RingBytes)]
    public ulong PlainRead64()
    {
        CpuMeter.Running(nameof(PlainRead64));
        var words = new ReadOnlySpan<ulong>(_ring, (int)(RingBytes / 8));
        ulong sum = 0;
        foreach (ulong w in words)
        {
            sum += w;
        }

        return sum;
    }

    /// <summary>The ring read with the widest vectors the CPU has (what memory bandwidth allows).</summary>
    [Benchmark]
    [BytesPerOperation(RingBytes)]
    public ulong VectorRead()
    {
        CpuMeter.Running(nameof(VectorRead));
        var words = new ReadOnlySpan<ulong>(_ring, (int)(RingBytes / 8));
        var acc = Vector256<ulong>.Zero;
        ref ulong p = ref MemoryMarshal.GetReference(words);
        for (nuint i = 0; i < (nuint)words.Length; i += (nuint)Vector256<ulong>.Count)
        {
            acc += Vector256.LoadUnsafe(ref p, i);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>The ring copied to another ring (what one copy of the data costs).</summary>
    [Benchmark]
    [BytesPerOperation(RingBytes)]
    public void Memcpy()
    {
        CpuMeter.Running(nameof(Memcpy));
        new ReadOnlySpan<byte>(_ring, (int)RingBytes).CopyTo(new Span<byte>(_copy, (int)RingBytes));
    }

    /// <summary>Our verification: every buffer checked against its sequence number (the DMA suite's RX side).</summary>
    [Benchmark]
    [BytesPerOperation(RingBytes)]
    public int Verify()
    {
        CpuMeter.Running(nameof(Verify));
        int good = 0;
        for (int b = 0; b < BufferCount; b++)
        {
            good += _pattern.Matches(Buffer(_ring, b), b) ? 1 : 0;
        }

        return good == BufferCount ? good : throw new InvalidOperationException($"ring verification found {BufferCount - good} bad buffers");
    }

    /// <summary>Our generation: every buffer filled with its sequence number (the DMA suite's TX side).</summary>
    [Benchmark]
    [BytesPerOperation(RingBytes)]
    public void Generate()
    {
        CpuMeter.Running(nameof(Generate));
        for (int b = 0; b < BufferCount; b++)
        {
            _pattern.Fill(Buffer(_copy, b), b);
        }
    }

    /// <summary>dma_test's check loop, built with gcc -O2 (the figure our verification must beat by 3.5×).</summary>
    [Benchmark]
    [BytesPerOperation(RingBytes)]
    public long DmaTestCheckC()
    {
        CpuMeter.Running(nameof(DmaTestCheckC));
        long errors = DmaTestCheckLoop.NativeCheckRing(_dmaTestRing, BufferCount, BufferSize, DmaTestCheckLoop.Mask);
        return errors == 0 ? errors : throw new InvalidOperationException($"C check loop counted {errors} bad words");
    }

    /// <summary>The same loop written in C# the same way (one word at a time).</summary>
    [Benchmark]
    [BytesPerOperation(RingBytes)]
    public long DmaTestCheckCSharp()
    {
        CpuMeter.Running(nameof(DmaTestCheckCSharp));
        long errors = 0;
        for (int b = 0; b < BufferCount; b++)
        {
            errors += DmaTestCheckLoop.CheckBuffer(Buffer(_dmaTestRing, b), DmaTestCheckLoop.Mask);
        }

        return errors == 0 ? errors : throw new InvalidOperationException($"C# check loop counted {errors} bad words");
    }

    private static Span<byte> Buffer(byte* ring, int index) => new(ring + (long)index * BufferSize, BufferSize);
}

/// <summary>
/// dma_test's pattern and check loop (docs/linux-driver.md#dma_test): word i of every buffer is <c>(i·69069 + 1) &amp; mask</c>,
/// the seed advancing per 32-bit word modulo 2048; the check counts mismatching masked words.
/// </summary>
public static unsafe partial class DmaTestCheckLoop
{
    /// <summary>The mask for a 16-bit (or 8/32-bit) data width: every bit.</summary>
    public const uint Mask = 0xFFFF_FFFF;

    private const uint WordsPerBuffer = PatternBenchmarks.BufferSize / 4;

    public static void Fill(Span<byte> buffer)
    {
        var words = MemoryMarshal.Cast<byte, uint>(buffer);
        uint seed = 0;
        for (int i = 0; i < words.Length; i++)
        {
            words[i] = NextPattern(ref seed);
        }
    }

    public static long CheckBuffer(ReadOnlySpan<byte> buffer, uint mask)
    {
        var words = MemoryMarshal.Cast<byte, uint>(buffer);
        uint seed = 0;
        long errors = 0;
        for (int i = 0; i < words.Length; i++)
        {
            if ((words[i] & mask) != (NextPattern(ref seed) & mask))
            {
                errors++;
            }
        }

        return errors;
    }

    [LibraryImport("lpc_dma_test_check", EntryPoint = "lpc_dma_test_check_ring")]
    internal static partial long NativeCheckRing(byte* ring, long buffers, long bufferSize, uint mask);

    private static uint NextPattern(ref uint seed)
    {
        uint value = unchecked(seed * 69069u + 1u);
        seed = (seed + 1) % WordsPerBuffer;
        return value;
    }
}
