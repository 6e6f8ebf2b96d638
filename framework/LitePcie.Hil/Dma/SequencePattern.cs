using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LitePcie.Hil.Dma;

/// <summary>What a received buffer turned out to be.</summary>
public enum BufferVerdict
{
    /// <summary>The expected buffer, every word intact.</summary>
    Ok,

    /// <summary>An intact buffer, but with another sequence number (lost, duplicated or reordered).</summary>
    WrongSequence,

    /// <summary>Words differ from every intact buffer: data corruption (or a buffer never written).</summary>
    Corrupted,
}

/// <summary>The vector width the pattern generates and compares with.</summary>
internal enum PatternPath
{
    /// <summary>One word at a time (a host with no 256-bit vectors, e.g. Apple silicon's 128-bit NEON).</summary>
    Scalar,

    /// <summary>Four words per <see cref="Vector256{T}"/> (AVX2).</summary>
    Vector256,

    /// <summary>Eight words per <see cref="Vector512{T}"/> (AVX-512).</summary>
    Vector512,
}

/// <summary>The result of checking one buffer.</summary>
/// <param name="Verdict">What the buffer is.</param>
/// <param name="Expected">The sequence number that was expected.</param>
/// <param name="Found">The sequence number the buffer carries (decoded from its first word), when decodable.</param>
/// <param name="FirstBadWord">Index of the first 64-bit word that differs from the expected buffer (-1 when none).</param>
/// <param name="ExpectedWord">Expected value of that word.</param>
/// <param name="ActualWord">Received value of that word.</param>
public readonly record struct BufferCheck(BufferVerdict Verdict, long Expected, long Found, int FirstBadWord, ulong ExpectedWord, ulong ActualWord);

/// <summary>
/// The DMA suite's sequence-numbered pattern. 64-bit word <c>i</c> of buffer <c>n</c> is
/// <c>prbs[i] XOR key(n)</c> where <c>prbs</c> is an xorshift64* sequence fixed by the seed and
/// <c>key(n) = n · K</c> with an odd K, so the sequence number a buffer carries can be decoded from any
/// one word (<c>n = (word XOR prbs[i]) · K⁻¹</c>). That tells a lost, duplicated or reordered buffer
/// (intact, wrong number) from a corrupted one, which <c>dma_test</c>'s identical buffers cannot.
/// Generation and verification are vectorised (<see cref="Vector256{T}"/>, <see cref="Vector512{T}"/> when
/// the CPU has it) with a scalar tail; the first bad word is located exactly.
/// </summary>
public sealed class SequencePattern
{
    /// <summary>Golden-ratio multiplier (odd, so invertible mod 2^64).</summary>
    public const ulong Key = 0x9E37_79B9_7F4A_7C15UL;

    private static readonly ulong s_keyInverse = Inverse(Key);
    private readonly ulong[] _prbs;
    private readonly PatternPath _path;

    /// <summary>A pattern for buffers of <paramref name="bufferSize"/> bytes (a multiple of 8).</summary>
    public SequencePattern(int bufferSize, ulong seed = 0x4C50_4349_4548_494CUL)
        : this(bufferSize, seed, WidestPath)
    {
    }

    /// <summary>
    /// A pattern that generates and compares on <paramref name="path"/>, whatever this CPU accelerates. A lab host
    /// runs the widest path its CPU has (AVX-512, AVX2 or none), which need not be the one CI runs on; the tests run
    /// every path (a path the CPU lacks runs in .NET's software fallback, slowly but with the same results).
    /// </summary>
    internal SequencePattern(int bufferSize, ulong seed, PatternPath path)
    {
        if (bufferSize <= 0 || bufferSize % 8 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bufferSize), bufferSize, "a positive multiple of 8 bytes");
        }

        BufferSize = bufferSize;
        Seed = seed;
        _path = path;
        _prbs = new ulong[bufferSize / 8];
        ulong x = seed == 0 ? 0x2545F4914F6CDD1DUL : seed;
        for (int i = 0; i < _prbs.Length; i++)
        {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            _prbs[i] = x * 0x2545F4914F6CDD1DUL;
        }
    }

    /// <summary>Bytes per buffer.</summary>
    public int BufferSize { get; }

    /// <summary>The PRBS seed.</summary>
    public ulong Seed { get; }

    /// <summary>The widest vector path this CPU accelerates.</summary>
    internal static PatternPath WidestPath =>
        Vector512.IsHardwareAccelerated ? PatternPath.Vector512
        : Vector256.IsHardwareAccelerated ? PatternPath.Vector256
        : PatternPath.Scalar;

    /// <summary>Words per buffer.</summary>
    public int Words => _prbs.Length;

    /// <summary>The key XORed into every word of buffer <paramref name="sequence"/>.</summary>
    public static ulong KeyOf(long sequence) => unchecked((ulong)sequence * Key);

    /// <summary>The sequence number whose key is <paramref name="key"/>.</summary>
    public static long SequenceOf(ulong key) => unchecked((long)(key * s_keyInverse));

    /// <summary>Expected value of word <paramref name="word"/> of buffer <paramref name="sequence"/>.</summary>
    public ulong ExpectedWord(long sequence, int word) => _prbs[word] ^ KeyOf(sequence);

    /// <summary>Writes buffer <paramref name="sequence"/> into <paramref name="destination"/> (exactly <see cref="BufferSize"/> bytes).</summary>
    public void Fill(Span<byte> destination, long sequence)
    {
        var dst = Words64(destination);
        ulong key = KeyOf(sequence);
        ReadOnlySpan<ulong> src = _prbs;
        int i = 0;
        if (_path == PatternPath.Vector512)
        {
            var k = Vector512.Create(key);
            for (; i <= src.Length - Vector512<ulong>.Count; i += Vector512<ulong>.Count)
            {
                (Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(src), (nuint)i) ^ k)
                    .StoreUnsafe(ref MemoryMarshal.GetReference(dst), (nuint)i);
            }
        }
        else if (_path == PatternPath.Vector256)
        {
            var k = Vector256.Create(key);
            for (; i <= src.Length - Vector256<ulong>.Count; i += Vector256<ulong>.Count)
            {
                (Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(src), (nuint)i) ^ k)
                    .StoreUnsafe(ref MemoryMarshal.GetReference(dst), (nuint)i);
            }
        }

        for (; i < src.Length; i++)
        {
            dst[i] = src[i] ^ key;
        }
    }

    /// <summary>True when <paramref name="buffer"/> is exactly buffer <paramref name="sequence"/> (fast path).</summary>
    public bool Matches(ReadOnlySpan<byte> buffer, long sequence) => FirstMismatch(Words64(buffer), KeyOf(sequence)) < 0;

    /// <summary>Checks a received buffer against buffer <paramref name="sequence"/> and classifies any difference.</summary>
    public BufferCheck Check(ReadOnlySpan<byte> buffer, long sequence)
    {
        var words = Words64(buffer);
        ulong key = KeyOf(sequence);
        int bad = FirstMismatch(words, key);
        if (bad < 0)
        {
            return new BufferCheck(BufferVerdict.Ok, sequence, sequence, -1, 0, 0);
        }

        ulong expected = _prbs[bad] ^ key;
        // Decode the number the buffer carries from its first word; intact if every word agrees with it.
        long found = SequenceOf(words[0] ^ _prbs[0]);
        bool intactOther = found != sequence && FirstMismatch(words, KeyOf(found)) < 0;
        return new BufferCheck(intactOther ? BufferVerdict.WrongSequence : BufferVerdict.Corrupted, sequence,
            found, bad, expected, words[bad]);
    }

    /// <summary>The index of the first word differing from key-XORed PRBS, or -1 (vectorised, exact).</summary>
    private int FirstMismatch(ReadOnlySpan<ulong> words, ulong key)
    {
        ReadOnlySpan<ulong> prbs = _prbs;
        ref ulong w = ref MemoryMarshal.GetReference(words);
        ref ulong p = ref MemoryMarshal.GetReference(prbs);
        int i = 0;
        if (_path == PatternPath.Vector512)
        {
            var k = Vector512.Create(key);
            for (; i <= words.Length - 2 * Vector512<ulong>.Count; i += 2 * Vector512<ulong>.Count)
            {
                var d0 = Vector512.LoadUnsafe(ref w, (nuint)i) ^ Vector512.LoadUnsafe(ref p, (nuint)i) ^ k;
                var d1 = Vector512.LoadUnsafe(ref w, (nuint)(i + Vector512<ulong>.Count)) ^ Vector512.LoadUnsafe(ref p, (nuint)(i + Vector512<ulong>.Count)) ^ k;
                if ((d0 | d1) != Vector512<ulong>.Zero)
                {
                    break;
                }
            }
        }
        else if (_path == PatternPath.Vector256)
        {
            var k = Vector256.Create(key);
            for (; i <= words.Length - 2 * Vector256<ulong>.Count; i += 2 * Vector256<ulong>.Count)
            {
                var d0 = Vector256.LoadUnsafe(ref w, (nuint)i) ^ Vector256.LoadUnsafe(ref p, (nuint)i) ^ k;
                var d1 = Vector256.LoadUnsafe(ref w, (nuint)(i + Vector256<ulong>.Count)) ^ Vector256.LoadUnsafe(ref p, (nuint)(i + Vector256<ulong>.Count)) ^ k;
                if ((d0 | d1) != Vector256<ulong>.Zero)
                {
                    break;
                }
            }
        }

        for (; i < words.Length; i++)
        {
            if ((Unsafe.Add(ref w, i) ^ Unsafe.Add(ref p, i) ^ key) != 0)
            {
                return i;
            }
        }

        return -1;
    }

    private ReadOnlySpan<ulong> Words64(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length != BufferSize)
        {
            throw new ArgumentException($"buffer is {buffer.Length} bytes; the pattern is for {BufferSize}-byte buffers", nameof(buffer));
        }

        return MemoryMarshal.Cast<byte, ulong>(buffer);
    }

    private Span<ulong> Words64(Span<byte> buffer)
    {
        if (buffer.Length != BufferSize)
        {
            throw new ArgumentException($"buffer is {buffer.Length} bytes; the pattern is for {BufferSize}-byte buffers", nameof(buffer));
        }

        return MemoryMarshal.Cast<byte, ulong>(buffer);
    }

    private static ulong Inverse(ulong a)
    {
        // Newton iteration for the inverse of an odd number mod 2^64.
        ulong x = a;
        for (int i = 0; i < 6; i++)
        {
            x *= 2 - a * x;
        }

        return x;
    }

    /// <summary>Number of bits that differ between two words (for corruption reports).</summary>
    public static int BitsDiffering(ulong a, ulong b) => BitOperations.PopCount(a ^ b);

    /// <summary>
    /// The bits of a 64-bit word that differ, named: "bit 31 flipped 0→1", "bits 3, 7 flipped", or, past four, "9 bits differ".
    /// </summary>
    public static string DescribeFlips(ulong expected, ulong actual)
    {
        ulong diff = expected ^ actual;
        int n = BitOperations.PopCount(diff);
        if (n == 0)
        {
            return "no bit differs";
        }

        if (n > 4)
        {
            return $"{n} bits differ";
        }

        var bits = Enumerable.Range(0, 64).Where(b => ((diff >> b) & 1) != 0).ToList();
        if (n == 1)
        {
            int b = bits[0];
            return $"bit {b} flipped {(expected >> b) & 1}→{(actual >> b) & 1}";
        }

        return $"bits {string.Join(", ", bits)} flipped";
    }
}
