using System.Buffers.Binary;

namespace LitePcie.Hil.DeviceServer;

/// <summary>
/// The device-server protocol, version 1 (lab/qemu/litepcie-hil-proto.h is the C side; docs/linux-guest.md the
/// prose). A message is an 8-byte header (type u16, reserved u16 = 0, payload length u32) and its payload,
/// little-endian. These constants must equal the C header's (a test compares them).
/// </summary>
public static class DeviceProtocol
{
    public const uint Version = 1;
    public const int HeaderBytes = 8;
    public const int MaxPayload = 65536;
    public const int MaxText = 1024;
    public const int MaxRegions = 16;
    public const int Bars = 6;
    public const int ConfigSize = 4096;

    // Message types (enum lph_type).
    public const ushort Hello = 0x01;
    public const ushort CfgRead = 0x02;
    public const ushort CfgWrite = 0x03;
    public const ushort MmioRead = 0x04;
    public const ushort MmioWrite = 0x05;
    public const ushort Reset = 0x06;
    public const ushort MemoryMap = 0x07;
    public const ushort Device = 0x81;
    public const ushort CfgReadReply = 0x82;
    public const ushort MmioReadReply = 0x84;
    public const ushort StatusReply = 0x86;
    public const ushort EventsReady = 0x88;
    public const ushort Msi = 0x90;
    public const ushort Error = 0xFF;

    // Roles, statuses, BAR flags.
    public const uint RoleMmio = 1;
    public const uint RoleEvents = 2;
    public const uint StatusOk = 0;
    public const uint StatusInvalid = 1;
    public const uint StatusState = 2;
    public const uint StatusInternal = 3;
    public const uint BarIo = 0x1;
    public const uint BarMem64 = 0x2;
    public const uint BarPrefetch = 0x4;

    // Payload sizes of the fixed structures.
    public const int HelloBytes = 16;
    public const int BarBytes = 16;
    public const int DeviceBytes = 16 + (Bars * BarBytes) + 64;
    public const int CfgReadBytes = 4;
    public const int CfgWriteBytes = 8;
    public const int MmioBytes = 24;
    public const int ValueReplyBytes = 16;
    public const int StatusReplyBytes = 8;
    public const int MemoryMapHeaderBytes = 8;
    public const int RegionBytes = 24;
    public const int MsiBytes = 16;

    /// <summary>The name of a message type, for errors and logs.</summary>
    public static string TypeName(ushort type) => type switch
    {
        Hello => "HELLO",
        CfgRead => "CFG_READ",
        CfgWrite => "CFG_WRITE",
        MmioRead => "MMIO_READ",
        MmioWrite => "MMIO_WRITE",
        Reset => "RESET",
        MemoryMap => "MEMORY_MAP",
        Device => "DEVICE",
        CfgReadReply => "CFG_READ_REPLY",
        MmioReadReply => "MMIO_READ_REPLY",
        StatusReply => "STATUS_REPLY",
        EventsReady => "EVENTS_READY",
        Msi => "MSI",
        Error => "ERROR",
        _ => $"0x{type:X2}",
    };

    /// <summary>Parses and checks a header: the framing rules every message obeys.</summary>
    public static (ushort Type, int Length) ParseHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length != HeaderBytes)
        {
            throw new DeviceProtocolException("header", $"{header.Length} bytes: accepted exactly {HeaderBytes}");
        }

        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(header);
        ushort reserved = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (reserved != 0)
        {
            throw new DeviceProtocolException("header.reserved", $"0x{reserved:X4}: accepted 0");
        }

        if (length > MaxPayload)
        {
            throw new DeviceProtocolException("header.length", $"{length}: accepted 0..{MaxPayload}");
        }

        return (type, (int)length);
    }

    /// <summary>Writes a header for a payload of <paramref name="length"/> bytes.</summary>
    public static void WriteHeader(Span<byte> header, ushort type, int length)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(header, type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)length);
    }

    /// <summary>
    /// Parses the payload of a message QEMU sends on the given role's connection. Every field is checked
    /// against what this protocol allows; device-specific ranges (BARs, sizes) are checked by <see cref="BoardEndpoint"/>.
    /// </summary>
    public static Request ParseRequest(uint role, ushort type, ReadOnlySpan<byte> payload, int fdCount)
    {
        string name = TypeName(type);
        if (role == RoleEvents)
        {
            throw new DeviceProtocolException("header.type", $"{name} on the events connection: accepted none (QEMU only listens there)");
        }

        if (type != MemoryMap && fdCount > 0)
        {
            throw new DeviceProtocolException("ancillary data", $"{fdCount} file descriptor(s) with {name}: accepted only with MEMORY_MAP");
        }

        switch (type)
        {
            case CfgRead:
                {
                    Expect(name, payload, CfgReadBytes);
                    int offset = BinaryPrimitives.ReadUInt16LittleEndian(payload);
                    int size = payload[2];
                    Reserved(name, "reserved", payload[3]);
                    return new CfgReadRequest(CheckConfigAccess(name, offset, size), size);
                }

            case CfgWrite:
                {
                    Expect(name, payload, CfgWriteBytes);
                    int offset = BinaryPrimitives.ReadUInt16LittleEndian(payload);
                    int size = payload[2];
                    Reserved(name, "reserved", payload[3]);
                    uint value = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
                    CheckConfigAccess(name, offset, size);
                    CheckValue(name, value, size);
                    return new CfgWriteRequest(offset, size, value);
                }

            case MmioRead:
            case MmioWrite:
                {
                    Expect(name, payload, MmioBytes);
                    int bar = payload[0];
                    int size = payload[1];
                    Reserved(name, "reserved", BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]));
                    Reserved(name, "reserved2", BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]));
                    ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]);
                    ulong value = BinaryPrimitives.ReadUInt64LittleEndian(payload[16..]);
                    if (bar >= Bars)
                    {
                        throw new DeviceProtocolException($"{name}.bar", $"{bar}: accepted 0..{Bars - 1}");
                    }

                    if (size is not (1 or 2 or 4))
                    {
                        throw new DeviceProtocolException($"{name}.size", $"{size}: accepted 1, 2 or 4");
                    }

                    if (offset % (ulong)size != 0)
                    {
                        throw new DeviceProtocolException($"{name}.offset", $"0x{offset:X} is not aligned to its size {size}: accepted a multiple of {size}");
                    }

                    if (type == MmioWrite)
                    {
                        CheckValue(name, value, size);
                        return new MmioWriteRequest(bar, size, offset, (uint)value);
                    }

                    return new MmioReadRequest(bar, size, offset);
                }

            case Reset:
                Expect(name, payload, 0);
                return new ResetRequest();

            case MemoryMap:
                return ParseMemoryMap(payload, fdCount);

            case Hello:
                throw new DeviceProtocolException("header.type", "HELLO after the connection was established: accepted once, as the first message");

            default:
                throw new DeviceProtocolException("header.type", $"{name}: accepted CFG_READ, CFG_WRITE, MMIO_READ, MMIO_WRITE, RESET, MEMORY_MAP");
        }
    }

    /// <summary>Parses the first message of a connection: HELLO with its role.</summary>
    public static HelloRequest ParseHello(ushort type, ReadOnlySpan<byte> payload)
    {
        if (type != Hello)
        {
            throw new DeviceProtocolException("header.type", $"{TypeName(type)} as the first message: accepted HELLO");
        }

        Expect("HELLO", payload, HelloBytes);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        uint role = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        uint pid = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        Reserved("HELLO", "reserved", BinaryPrimitives.ReadUInt32LittleEndian(payload[12..]));
        if (version != Version)
        {
            throw new DeviceProtocolException("HELLO.version", $"{version}: accepted {Version}");
        }

        if (role is not (RoleMmio or RoleEvents))
        {
            throw new DeviceProtocolException("HELLO.role", $"{role}: accepted {RoleMmio} (mmio) or {RoleEvents} (events)");
        }

        return new HelloRequest(role, pid);
    }

    private static MemoryMapRequest ParseMemoryMap(ReadOnlySpan<byte> payload, int fdCount)
    {
        if (payload.Length < MemoryMapHeaderBytes)
        {
            throw new DeviceProtocolException("MEMORY_MAP", $"{payload.Length} bytes: accepted {MemoryMapHeaderBytes} + 24 per region");
        }

        uint count = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        Reserved("MEMORY_MAP", "reserved", BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]));
        if (count is < 1 or > MaxRegions)
        {
            throw new DeviceProtocolException("MEMORY_MAP.count", $"{count}: accepted 1..{MaxRegions}");
        }

        Expect("MEMORY_MAP", payload, MemoryMapHeaderBytes + ((int)count * RegionBytes));
        if (fdCount != count)
        {
            throw new DeviceProtocolException("MEMORY_MAP.count", $"{count} regions came with {fdCount} file descriptor(s): accepted one per region");
        }

        var regions = new GuestRegion[count];
        for (int i = 0; i < count; i++)
        {
            var r = payload[(MemoryMapHeaderBytes + (i * RegionBytes))..];
            ulong gpa = BinaryPrimitives.ReadUInt64LittleEndian(r);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(r[8..]);
            ulong fdOffset = BinaryPrimitives.ReadUInt64LittleEndian(r[16..]);
            string field = $"MEMORY_MAP.regions[{i}]";
            if (size == 0 || size % 4096 != 0 || size > (1UL << 46))
            {
                throw new DeviceProtocolException($"{field}.size", $"0x{size:X}: accepted a non-zero multiple of 4096 up to 64 TiB");
            }

            if (gpa % 4096 != 0 || gpa + size < gpa)
            {
                throw new DeviceProtocolException($"{field}.guest_address", $"0x{gpa:X}: accepted 4 KiB-aligned, not wrapping with its size 0x{size:X}");
            }

            if (fdOffset % 4096 != 0 || fdOffset > long.MaxValue - size)
            {
                throw new DeviceProtocolException($"{field}.fd_offset", $"0x{fdOffset:X}: accepted 4 KiB-aligned, below 2^63 with its size");
            }

            for (int j = 0; j < i; j++)
            {
                if (gpa < regions[j].GuestAddress + regions[j].Size && regions[j].GuestAddress < gpa + size)
                {
                    throw new DeviceProtocolException($"{field}.guest_address", $"[0x{gpa:X}, +0x{size:X}) overlaps regions[{j}] [0x{regions[j].GuestAddress:X}, +0x{regions[j].Size:X}): accepted disjoint regions");
                }
            }

            regions[i] = new GuestRegion(gpa, size, fdOffset);
        }

        return new MemoryMapRequest(regions);
    }

    private static int CheckConfigAccess(string name, int offset, int size)
    {
        if (size is not (1 or 2 or 4))
        {
            throw new DeviceProtocolException($"{name}.size", $"{size}: accepted 1, 2 or 4");
        }

        if (offset >= ConfigSize || offset % size != 0)
        {
            throw new DeviceProtocolException($"{name}.offset", $"0x{offset:X}: accepted 0..0x{ConfigSize - size:X}, a multiple of the size {size}");
        }

        return offset;
    }

    private static void CheckValue(string name, ulong value, int size)
    {
        ulong max = size == 4 ? uint.MaxValue : (1UL << (8 * size)) - 1;
        if (value > max)
        {
            throw new DeviceProtocolException($"{name}.value", $"0x{value:X} does not fit {size} byte(s): accepted 0..0x{max:X}");
        }
    }

    private static void Expect(string name, ReadOnlySpan<byte> payload, int bytes)
    {
        if (payload.Length != bytes)
        {
            throw new DeviceProtocolException($"{name} payload", $"{payload.Length} bytes: accepted exactly {bytes}");
        }
    }

    private static void Reserved(string name, string field, ulong value)
    {
        if (value != 0)
        {
            throw new DeviceProtocolException($"{name}.{field}", $"0x{value:X}: accepted 0");
        }
    }
}

/// <summary>A message that breaks the protocol: names the field and its accepted range.</summary>
public sealed class DeviceProtocolException(string field, string problem) : Exception($"{field}: {problem}")
{
    /// <summary>The field, e.g. <c>MMIO_READ.bar</c>.</summary>
    public string Field { get; } = field;
}

/// <summary>A request QEMU sends.</summary>
public abstract record Request;

/// <summary>The first message of a connection.</summary>
public sealed record HelloRequest(uint Role, uint Pid) : Request;

/// <summary>A config-space read.</summary>
public sealed record CfgReadRequest(int Offset, int Size) : Request;

/// <summary>A config-space write.</summary>
public sealed record CfgWriteRequest(int Offset, int Size, uint Value) : Request;

/// <summary>A BAR read.</summary>
public sealed record MmioReadRequest(int Bar, int Size, ulong Offset) : Request;

/// <summary>A BAR write (posted).</summary>
public sealed record MmioWriteRequest(int Bar, int Size, ulong Offset, uint Value) : Request;

/// <summary>A machine reset: the function and its gateware to power-on state.</summary>
public sealed record ResetRequest : Request;

/// <summary>The guest's RAM regions; the fds travel beside the message.</summary>
public sealed record MemoryMapRequest(IReadOnlyList<GuestRegion> Regions) : Request;

/// <summary>One guest RAM region: guest physical address, bytes, offset in its fd.</summary>
public readonly record struct GuestRegion(ulong GuestAddress, ulong Size, ulong FdOffset);
