namespace LitePcie.Hil.Simulation;

/// <summary>
/// The bus (DMA) address space a simulated board's engines reach: what the gateware model needs to turn a
/// descriptor's bus address into memory, and to report an access the platform would refuse. Two kinds sit
/// behind it: <see cref="HostMemory"/> (the in-process host of the SIL, with its own IOVA allocator) and the
/// guest RAM of a virtual machine that the device server maps (<c>LitePcie.Hil.DeviceServer</c>), so the
/// same model does DMA for a real OS driver in a VM.
/// </summary>
public unsafe interface IBusAddressSpace
{
    /// <summary>Width of the device's DMA addresses.</summary>
    int DmaAddressWidth { get; }

    /// <summary>
    /// Translates a device access of <paramref name="length"/> bytes at <paramref name="busAddress"/>; returns
    /// null (and records a fault naming <paramref name="engine"/>) when any byte is not reachable.
    /// </summary>
    byte* Translate(ulong busAddress, int length, string engine);

    /// <summary>Translates like <see cref="Translate"/> but records nothing: <paramref name="problem"/> says why on null.</summary>
    byte* TryTranslate(ulong busAddress, int length, out string? problem);

    /// <summary>Records a fault seen by the device model.</summary>
    void RecordFault(DmaAccessFault fault);

    /// <summary>DMA accesses refused so far.</summary>
    IReadOnlyList<DmaAccessFault> Faults { get; }
}

/// <summary>One bus range of an address space and the memory behind it.</summary>
public readonly unsafe struct BusRange(ulong start, ulong end, byte* host)
{
    /// <summary>First bus address.</summary>
    public ulong Start { get; } = start;

    /// <summary>One past the last bus address.</summary>
    public ulong End { get; } = end;

    /// <summary>Memory of <see cref="Start"/>.</summary>
    public byte* Host { get; } = host;
}

/// <summary>The lookup every bus address space shares: sorted, disjoint ranges, binary search, whole access inside one range.</summary>
public static unsafe class BusRanges
{
    /// <summary>
    /// The memory of <paramref name="length"/> bytes at <paramref name="busAddress"/>, or null: <paramref name="pastEnd"/> tells an
    /// access that starts in a range but runs past its end from one that starts outside every range.
    /// </summary>
    public static byte* Find(ReadOnlySpan<BusRange> map, ulong busAddress, int length, out bool pastEnd)
    {
        pastEnd = false;
        int lo = 0, hi = map.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ref readonly var m = ref map[mid];
            if (busAddress < m.Start)
            {
                hi = mid - 1;
            }
            else if (busAddress >= m.End)
            {
                lo = mid + 1;
            }
            else
            {
                if (busAddress + (ulong)length <= m.End)
                {
                    return m.Host + (long)(busAddress - m.Start);
                }

                pastEnd = true;
                return null;
            }
        }

        return null;
    }
}
