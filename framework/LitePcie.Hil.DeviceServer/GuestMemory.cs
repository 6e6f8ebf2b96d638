using LitePcie.Hil.Simulation;

namespace LitePcie.Hil.DeviceServer;

/// <summary>
/// A VM's guest RAM as the board's bus address space: QEMU passes the fds of its shared memory backend
/// (memory-backend-memfd,share=on) with the guest-physical layout; the server maps them and the gateware
/// model reads and writes guest memory in place (no copy per word, no message per buffer). Bus address =
/// guest physical address (no IOMMU in the guest). A DMA to an address outside guest RAM is recorded as a
/// fault (what an IOMMU or the root complex would refuse) and never dereferenced.
/// </summary>
public sealed unsafe class GuestMemory : IBusAddressSpace, IDisposable
{
    private readonly object _sync = new();
    private readonly List<DmaAccessFault> _faults = [];
    private readonly List<(nint Address, nuint Length)> _mappings = [];
    private BusRange[] _map = [];

    /// <summary>Creates an empty address space (no DMA reaches anything until <see cref="Replace"/>).</summary>
    public GuestMemory(int dmaAddressWidth)
    {
        if (dmaAddressWidth is < 32 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(dmaAddressWidth), dmaAddressWidth, "accepted 32..64");
        }

        DmaAddressWidth = dmaAddressWidth;
    }

    /// <inheritdoc />
    public int DmaAddressWidth { get; }

    /// <summary>Bytes of guest RAM mapped now.</summary>
    public ulong MappedBytes => Volatile.Read(ref _map).Aggregate(0UL, (sum, m) => sum + (m.End - m.Start));

    /// <summary>The regions mapped now.</summary>
    public IReadOnlyList<GuestRegion> Regions => Volatile.Read(ref _map).Select(m => new GuestRegion(m.Start, m.End - m.Start, 0)).ToArray();

    /// <inheritdoc />
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
    /// Maps the regions (one fd each, which this call closes) and makes them the address space. Earlier
    /// mappings stay valid until disposal (an engine step in flight may still hold a pointer into them).
    /// Nothing changes when any region cannot be mapped.
    /// </summary>
    public void Replace(IReadOnlyList<GuestRegion> regions, IReadOnlyList<int> fds)
    {
        if (regions.Count != fds.Count)
        {
            throw new ArgumentException($"{regions.Count} regions with {fds.Count} fds: accepted one fd per region", nameof(fds));
        }

        var mapped = new List<(nint Address, nuint Length)>();
        var map = new List<BusRange>();
        try
        {
            for (int i = 0; i < regions.Count; i++)
            {
                var r = regions[i];
                void* p = UnixInterop.Mmap(null, (nuint)r.Size, UnixInterop.ProtRead | UnixInterop.ProtWrite, UnixInterop.MapShared, fds[i], (long)r.FdOffset);
                if (p == (void*)-1)
                {
                    throw new IOException($"MEMORY_MAP.regions[{i}]: mmap of 0x{r.Size:X} bytes at fd offset 0x{r.FdOffset:X} failed: {UnixInterop.LastError()}");
                }

                mapped.Add(((nint)p, (nuint)r.Size));
                map.Add(new BusRange(r.GuestAddress, r.GuestAddress + r.Size, (byte*)p));
            }
        }
        catch
        {
            foreach (var (address, length) in mapped)
            {
                _ = UnixInterop.Munmap((void*)address, length);
            }

            throw;
        }
        finally
        {
            foreach (int fd in fds)
            {
                _ = UnixInterop.Close(fd);
            }
        }

        map.Sort((a, b) => a.Start.CompareTo(b.Start));
        lock (_sync)
        {
            _mappings.AddRange(mapped);
            Volatile.Write(ref _map, [.. map]);
        }
    }

    /// <inheritdoc />
    public byte* Translate(ulong busAddress, int length, string engine)
    {
        byte* host = TryTranslate(busAddress, length, out string? problem);
        if (host is null)
        {
            RecordFault(new DmaAccessFault(engine, busAddress, length, problem!));
        }

        return host;
    }

    /// <inheritdoc />
    public byte* TryTranslate(ulong busAddress, int length, out string? problem)
    {
        problem = null;
        if (length < 0)
        {
            problem = $"negative length {length}";
            return null;
        }

        if (DmaAddressWidth < 64 && (busAddress >> DmaAddressWidth) != 0)
        {
            problem = $"bus address above the device's {DmaAddressWidth}-bit DMA reach";
            return null;
        }

        var map = Volatile.Read(ref _map);
        byte* host = BusRanges.Find(map, busAddress, length, out bool pastEnd);
        problem = host is not null ? null
            : pastEnd ? "access runs past the end of a guest RAM region"
            : map.Length == 0 ? "no guest memory map yet (QEMU sends it at machine reset)"
            : "bus address outside guest RAM";
        return host;
    }

    /// <inheritdoc />
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
            Volatile.Write(ref _map, []);
            foreach (var (address, length) in _mappings)
            {
                _ = UnixInterop.Munmap((void*)address, length);
            }

            _mappings.Clear();
        }
    }
}
