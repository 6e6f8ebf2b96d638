using System.Runtime.InteropServices;

namespace LitePcie.Hil.Simulation;

/// <summary>One bus-contiguous piece of a host allocation.</summary>
/// <param name="BusAddress">Device-visible (IOVA) address.</param>
/// <param name="Length">Bytes.</param>
/// <param name="Offset">Offset of the segment inside the allocation.</param>
public readonly record struct BusSegment(ulong BusAddress, long Length, long Offset);

/// <summary>A DMA-able host buffer: CPU memory plus the bus addresses the device uses to reach it.</summary>
public sealed unsafe class HostAllocation
{
    internal HostAllocation(byte* pointer, long length, IReadOnlyList<BusSegment> segments, string owner)
    {
        Pointer = pointer;
        Length = length;
        Segments = segments;
        Owner = owner;
    }

    /// <summary>CPU address.</summary>
    public byte* Pointer { get; }

    /// <summary>Bytes.</summary>
    public long Length { get; }

    /// <summary>Bus segments in allocation order (what IODMACommand::PrepareForDMA returns).</summary>
    public IReadOnlyList<BusSegment> Segments { get; }

    /// <summary>Who allocated it (for fault and leak reports).</summary>
    public string Owner { get; }

    /// <summary>Whether it was freed.</summary>
    public bool IsFreed { get; internal set; }

    /// <summary>The bus address of a byte offset (walks the segments).</summary>
    public ulong BusAddressOf(long offset)
    {
        foreach (var s in Segments)
        {
            if (offset >= s.Offset && offset < s.Offset + s.Length)
            {
                return s.BusAddress + (ulong)(offset - s.Offset);
            }
        }

        throw new ArgumentOutOfRangeException(nameof(offset), offset, $"outside the {Length}-byte allocation of {Owner}");
    }

    /// <summary>A span over part of the allocation.</summary>
    public Span<byte> Span(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, +{length}) outside the {Length}-byte allocation of {Owner}");
        }

        return new Span<byte>(Pointer + offset, length);
    }
}

/// <summary>A DMA access the IOMMU would have refused.</summary>
public sealed record DmaAccessFault(string Engine, ulong BusAddress, int Length, string Problem)
{
    /// <inheritdoc />
    public override string ToString() => $"{Engine}: {Problem} at bus 0x{BusAddress:X} (+{Length})";
}

/// <summary>
/// The host's DMA address space as the simulated device sees it: drivers allocate DMA buffers here (the
/// simulated <c>dma_alloc_coherent</c> / <c>IODMACommand</c>), the device translates bus addresses back
/// to memory. A device access to an unmapped bus address is recorded as a fault (what an IOMMU would
/// catch) and never dereferenced.
/// </summary>
public sealed unsafe class HostMemory : IBusAddressSpace, IDisposable
{
    private readonly object _sync = new();
    private readonly List<HostAllocation> _allocations = [];
    private readonly List<DmaAccessFault> _faults = [];
    private BusRange[] _map = [];
    private readonly List<(ulong Start, ulong End)> _reserved = []; // bus ranges in use (with their guard gap), sorted
    private readonly ulong _baseBus;
    private readonly Dictionary<long, Stack<nint>> _blocks = [];
    private long _cachedBytes;

    /// <summary>Freed host pages kept for reuse at most.</summary>
    private const long MaxCachedBytes = 64L << 20;
    private long _allocatedBytes;

    /// <summary>Creates an address space for a device with the given DMA address width.</summary>
    public HostMemory(int dmaAddressWidth = 32)
    {
        if (dmaAddressWidth is < 32 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(dmaAddressWidth), dmaAddressWidth, "accepted 32..64");
        }

        DmaAddressWidth = dmaAddressWidth;
        // Start above zero so a zeroed descriptor never hits a buffer; 64-bit designs get IOVAs above 4 GiB
        // to prove the high address word is programmed.
        _baseBus = dmaAddressWidth > 32 ? 0x1_2000_0000UL : 0x1000_0000UL;
    }

    /// <summary>Width of the device's DMA addresses.</summary>
    public int DmaAddressWidth { get; }

    /// <summary>Bytes currently allocated.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);

    /// <summary>Allocations currently live.</summary>
    public int LiveAllocations
    {
        get
        {
            lock (_sync)
            {
                return _allocations.Count;
            }
        }
    }

    /// <summary>DMA accesses refused so far.</summary>
    public IReadOnlyList<DmaAccessFault> Faults
    {
        get
        {
            lock (_sync)
            {
                return [.. _faults];
            }
        }
    }

    /// <summary>
    /// Allocates page-aligned, zeroed memory and maps it for the device. With <paramref name="segmentSize"/> &gt; 0
    /// the bus mapping is split into segments of that size at non-adjacent bus addresses (a fragmented IOVA
    /// space), so drivers must walk the segment list.
    /// </summary>
    public HostAllocation Allocate(long bytes, string owner, long segmentSize = 0)
    {
        if (bytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "must be positive");
        }

        if (segmentSize < 0 || (segmentSize > 0 && segmentSize % 4096 != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(segmentSize), segmentSize, "0 or a multiple of 4096");
        }

        long rounded = (bytes + 4095) & ~4095L;
        byte* p = TakeBlock(rounded);
        NativeMemory.Clear(p, (nuint)rounded);
        lock (_sync)
        {
            var segments = new List<BusSegment>();
            long seg = segmentSize == 0 ? rounded : segmentSize;
            ulong limit = DmaAddressWidth >= 64 ? ulong.MaxValue : (1UL << DmaAddressWidth) - 1;
            // Leave a guard gap after each segment so a device running off the end of one faults; scattered
            // segments get a smaller gap each, so they are never adjacent.
            ulong guard = segmentSize == 0 ? 0x10000UL : 0x3000UL;
            ulong hint = _baseBus;
            for (long off = 0; off < rounded; off += seg)
            {
                long len = Math.Min(seg, rounded - off);
                ulong? bus = FindGap(hint, (ulong)len + guard, limit);
                if (bus is null)
                {
                    foreach (var done in segments)
                    {
                        Release(done.BusAddress);
                    }

                    ReturnBlock(p, rounded);
                    throw new InvalidOperationException($"IOVA space of {DmaAddressWidth} bits exhausted allocating {bytes} bytes for {owner} ({_allocations.Count} allocations live, {AllocatedBytes} bytes)");
                }

                Reserve(bus.Value, bus.Value + (ulong)len + guard);
                hint = bus.Value + (ulong)len + guard;
                segments.Add(new BusSegment(bus.Value, len, off));
            }

            var alloc = new HostAllocation(p, rounded, segments, owner);
            _allocations.Add(alloc);
            var map = new List<BusRange>(_map);
            foreach (var s in segments)
            {
                map.Add(new BusRange(s.BusAddress, s.BusAddress + (ulong)s.Length, p + s.Offset));
            }

            map.Sort((a, b) => a.Start.CompareTo(b.Start));
            Volatile.Write(ref _map, [.. map]);
            Interlocked.Add(ref _allocatedBytes, rounded);
            return alloc;
        }
    }

    /// <summary>Unmaps and frees an allocation. Freeing twice is an error.</summary>
    public void Free(HostAllocation allocation)
    {
        lock (_sync)
        {
            if (allocation.IsFreed || !_allocations.Remove(allocation))
            {
                throw new InvalidOperationException($"allocation of {allocation.Owner} is not live (double free?)");
            }

            allocation.IsFreed = true;
            var remove = allocation.Segments.Select(s => s.BusAddress).ToHashSet();
            foreach (var bus in remove)
            {
                Release(bus); // the IOVA range is reusable, as an IOMMU's allocator recycles freed ranges
            }

            Volatile.Write(ref _map, _map.Where(m => !remove.Contains(m.Start)).ToArray());
            Interlocked.Add(ref _allocatedBytes, -allocation.Length);
        }

        ReturnBlock(allocation.Pointer, allocation.Length);
    }

    /// <summary>
    /// Host pages for an allocation: a freed block of the same size is reused, as the OS reuses freed pages,
    /// so attach/detach cycling measures the driver's allocations rather than the C runtime's heap growth
    /// (glibc moves multi-MiB blocks from mmap to its heap after the first free, which reads as a ramp).
    /// </summary>
    private byte* TakeBlock(long bytes)
    {
        lock (_blocks)
        {
            if (_blocks.TryGetValue(bytes, out var stack) && stack.Count > 0)
            {
                _cachedBytes -= bytes;
                return (byte*)stack.Pop();
            }
        }

        return (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
    }

    private void ReturnBlock(byte* p, long bytes)
    {
        lock (_blocks)
        {
            if (_cachedBytes + bytes <= MaxCachedBytes)
            {
                if (!_blocks.TryGetValue(bytes, out var stack))
                {
                    _blocks[bytes] = stack = new Stack<nint>();
                }

                stack.Push((nint)p);
                _cachedBytes += bytes;
                return;
            }
        }

        NativeMemory.AlignedFree(p);
    }

    /// <summary>The lowest free bus range of <paramref name="length"/> bytes at or above <paramref name="from"/>.</summary>
    private ulong? FindGap(ulong from, ulong length, ulong limit)
    {
        ulong candidate = from;
        foreach (var (start, end) in _reserved)
        {
            if (end <= candidate)
            {
                continue;
            }

            if (candidate + length <= start)
            {
                break;
            }

            candidate = end;
        }

        return candidate + length - 1 <= limit && candidate + length > candidate ? candidate : null;
    }

    private void Reserve(ulong start, ulong end)
    {
        int i = _reserved.FindIndex(r => r.Start > start);
        _reserved.Insert(i < 0 ? _reserved.Count : i, (start, end));
    }

    private void Release(ulong start) => _reserved.RemoveAll(r => r.Start == start);

    /// <summary>
    /// Translates a device access of <paramref name="length"/> bytes at <paramref name="busAddress"/>; returns
    /// null (and records a fault) when any byte is unmapped.
    /// </summary>
    public byte* Translate(ulong busAddress, int length, string engine)
    {
        byte* host = TryTranslate(busAddress, length, out string? problem);
        if (host is null)
        {
            RecordFault(new DmaAccessFault(engine, busAddress, length, problem!));
        }

        return host;
    }

    /// <summary>Translates like <see cref="Translate"/> but records nothing: <paramref name="problem"/> says why on null.</summary>
    public byte* TryTranslate(ulong busAddress, int length, out string? problem)
    {
        byte* host = BusRanges.Find(Volatile.Read(ref _map), busAddress, length, out bool pastEnd);
        problem = host is not null ? null : pastEnd ? "access runs past the end of a mapped segment" : "unmapped bus address (IOMMU fault)";
        return host;
    }

    /// <summary>Records a fault seen by the device model.</summary>
    public void RecordFault(DmaAccessFault fault)
    {
        lock (_sync)
        {
            if (_faults.Count < 10_000)
            {
                _faults.Add(fault);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_sync)
        {
            foreach (var a in _allocations)
            {
                a.IsFreed = true;
                NativeMemory.AlignedFree(a.Pointer);
            }

            _allocations.Clear();
            _map = [];
            _allocatedBytes = 0;
        }

        lock (_blocks)
        {
            foreach (var block in _blocks.Values.SelectMany(b => b))
            {
                NativeMemory.AlignedFree((void*)block);
            }

            _blocks.Clear();
            _cachedBytes = 0;
        }
    }
}
