using System.Buffers.Binary;
using System.Text;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation;

namespace LitePcie.Hil.DeviceServer;

/// <summary>An answer to a request: its message type and payload (null = posted, no answer).</summary>
public sealed record Reply(ushort Type, byte[] Payload);

/// <summary>
/// What a request does to the board: the device-specific checks (implemented BARs, offsets inside them) and
/// the access itself. A request that fails a check is answered with a status naming the field and its
/// accepted range, and changes nothing.
/// </summary>
public sealed class BoardEndpoint(SimulatedBoard board, GuestMemory memory, GuestPacing? pacing = null)
{
    private long _configAccesses;
    private long _mmioReads;
    private long _mmioWrites;
    private long _refused;
    private long _resets;
    private long _memoryMaps;

    /// <summary>The board behind the endpoint.</summary>
    public SimulatedBoard Board => board;

    /// <summary>Counters of what the endpoint served.</summary>
    public EndpointCounters Counters => new(
        Interlocked.Read(ref _configAccesses), Interlocked.Read(ref _mmioReads), Interlocked.Read(ref _mmioWrites),
        Interlocked.Read(ref _refused), Interlocked.Read(ref _resets), Interlocked.Read(ref _memoryMaps));

    /// <summary>The DEVICE message: IDs, config size and BARs as the board's profile declares them.</summary>
    public byte[] DescribeDevice()
    {
        var p = board.Profile;
        byte[] d = new byte[DeviceProtocol.DeviceBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(d, DeviceProtocol.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(4), p.VendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(6), p.DeviceId);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), DeviceProtocol.ConfigSize);
        foreach (var bar in p.Bars)
        {
            var slot = d.AsSpan(16 + (bar.Index * DeviceProtocol.BarBytes));
            uint flags = bar.Kind switch
            {
                PciBarKind.Io => DeviceProtocol.BarIo,
                PciBarKind.Memory64 => DeviceProtocol.BarMem64,
                _ => 0u,
            };
            if (bar.Prefetchable)
            {
                flags |= DeviceProtocol.BarPrefetch;
            }

            BinaryPrimitives.WriteUInt64LittleEndian(slot, board.BarSize(bar.Index));
            BinaryPrimitives.WriteUInt32LittleEndian(slot[8..], flags);
        }

        byte[] name = Encoding.UTF8.GetBytes(p.Name);
        name.AsSpan(0, Math.Min(name.Length, 63)).CopyTo(d.AsSpan(16 + (DeviceProtocol.Bars * DeviceProtocol.BarBytes)));
        return d;
    }

    /// <summary>Serves one parsed request; fds come with MEMORY_MAP only (closed here in every case).</summary>
    public Reply? Handle(Request request, IReadOnlyList<int> fds)
    {
        try
        {
            switch (request)
            {
                case CfgReadRequest r:
                    Interlocked.Increment(ref _configAccesses);
                    return Value(DeviceProtocol.CfgReadReply, board.ReadConfig(r.Offset, r.Size));

                case CfgWriteRequest w:
                    Interlocked.Increment(ref _configAccesses);
                    board.WriteConfig(w.Offset, w.Size, w.Value);
                    return Status(DeviceProtocol.StatusOk);

                case MmioReadRequest r:
                    {
                        Interlocked.Increment(ref _mmioReads);
                        if (CheckBar("MMIO_READ", r.Bar, r.Offset, r.Size) is { } problem)
                        {
                            return Refuse(DeviceProtocol.MmioReadReply, problem);
                        }

                        ulong dword = r.Offset & ~3UL;
                        uint v = board.ReadBar(r.Bar, dword);
                        if (r.Bar == board.Profile.CsrBar.Index)
                        {
                            if (pacing is not null)
                            {
                                pacing.OnCsrRead(dword);
                                board.Kick(); // a held board (the RTL's gated clock) re-asks at once instead of at its next idle wake-up
                            }
                        }

                        int shift = (int)(r.Offset - dword) * 8;
                        ulong value = r.Size == 4 ? v : (v >> shift) & ((1UL << (8 * r.Size)) - 1);
                        return Value(DeviceProtocol.MmioReadReply, value);
                    }

                case MmioWriteRequest w:
                    {
                        Interlocked.Increment(ref _mmioWrites);
                        if (CheckBar("MMIO_WRITE", w.Bar, w.Offset, w.Size) is { } problem)
                        {
                            Interlocked.Increment(ref _refused);
                            throw new DeviceProtocolException("MMIO_WRITE", problem + " (posted: dropped)");
                        }

                        if (w.Size == 4)
                        {
                            board.WriteBar(w.Bar, w.Offset, w.Value);
                        }
                        else
                        {
                            // A byte or word write to a dword register: the bytes around it are kept (byte enables).
                            ulong dword = w.Offset & ~3UL;
                            int shift = (int)(w.Offset - dword) * 8;
                            uint mask = (uint)(((1UL << (8 * w.Size)) - 1) << shift);
                            uint old = board.ReadBar(w.Bar, dword);
                            board.WriteBar(w.Bar, dword, (old & ~mask) | ((w.Value << shift) & mask));
                        }

                        return null;
                    }

                case ResetRequest:
                    Interlocked.Increment(ref _resets);
                    board.FunctionReset();
                    return Status(DeviceProtocol.StatusOk);

                case MemoryMapRequest m:
                    Interlocked.Increment(ref _memoryMaps);
                    try
                    {
                        memory.Replace(m.Regions, fds);
                    }
                    catch (IOException e)
                    {
                        return Refuse(DeviceProtocol.StatusReply, e.Message, DeviceProtocol.StatusInternal);
                    }

                    fds = [];
                    return Status(DeviceProtocol.StatusOk);

                default:
                    throw new DeviceProtocolException("request", $"{request.GetType().Name}: not served by the board endpoint");
            }
        }
        finally
        {
            foreach (int fd in fds)
            {
                _ = UnixInterop.Close(fd);
            }
        }
    }

    /// <summary>Null when the access is inside an implemented memory BAR, else the problem, naming the field.</summary>
    private string? CheckBar(string name, int bar, ulong offset, int size)
    {
        ulong barSize = bar is >= 0 and < DeviceProtocol.Bars ? board.BarSize(bar) : 0;
        if (barSize == 0)
        {
            string implemented = string.Join(", ", board.Profile.Bars.Select(b => b.Index));
            return $"{name}.bar: {bar} is not an implemented BAR of {board.Profile.Name} (implemented: {implemented})";
        }

        if (offset > barSize - (ulong)size)
        {
            return $"{name}.offset: 0x{offset:X} (+{size}) outside BAR{bar}: accepted 0..0x{barSize - (ulong)size:X}";
        }

        return null;
    }

    private Reply Refuse(ushort type, string problem, uint status = DeviceProtocol.StatusInvalid)
    {
        Interlocked.Increment(ref _refused);
        byte[] text = Encoding.UTF8.GetBytes(problem.Length > DeviceProtocol.MaxText ? problem[..DeviceProtocol.MaxText] : problem);
        int fixedBytes = type == DeviceProtocol.StatusReply ? DeviceProtocol.StatusReplyBytes : DeviceProtocol.ValueReplyBytes;
        byte[] payload = new byte[fixedBytes + text.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, status);
        if (type != DeviceProtocol.StatusReply)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), ulong.MaxValue);
        }

        text.CopyTo(payload, fixedBytes);
        return new Reply(type, payload);
    }

    private static Reply Value(ushort type, ulong value)
    {
        byte[] payload = new byte[DeviceProtocol.ValueReplyBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), value);
        return new Reply(type, payload);
    }

    private static Reply Status(uint status)
    {
        byte[] payload = new byte[DeviceProtocol.StatusReplyBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, status);
        return new Reply(DeviceProtocol.StatusReply, payload);
    }
}

/// <summary>What the endpoint served since it started.</summary>
public sealed record EndpointCounters(long ConfigAccesses, long MmioReads, long MmioWrites, long Refused, long Resets, long MemoryMaps);
