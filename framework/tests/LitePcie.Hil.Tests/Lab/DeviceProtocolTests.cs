using FluentAssertions;
using System.Buffers.Binary;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.DeviceServer;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>The device-server protocol: every field checked, errors that name the field and its range.</summary>
[TestFixture]
public sealed partial class DeviceProtocolTests
{
    private static byte[] Mmio(int bar, int size, ulong offset, ulong value = 0)
    {
        byte[] p = new byte[DeviceProtocol.MmioBytes];
        p[0] = (byte)bar;
        p[1] = (byte)size;
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(8), offset);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(16), value);
        return p;
    }

    private static byte[] Cfg(int offset, int size, uint? value = null)
    {
        byte[] p = new byte[value is null ? DeviceProtocol.CfgReadBytes : DeviceProtocol.CfgWriteBytes];
        BinaryPrimitives.WriteUInt16LittleEndian(p, (ushort)offset);
        p[2] = (byte)size;
        if (value is { } v)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(4), v);
        }

        return p;
    }

    [Test]
    public void ValidRequests_Parse()
    {
        DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MmioRead, Mmio(0, 4, 0x1004), 0)
            .Should().Be(new MmioReadRequest(0, 4, 0x1004));
        DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MmioWrite, Mmio(2, 2, 0x10, 0xBEEF), 0)
            .Should().Be(new MmioWriteRequest(2, 2, 0x10, 0xBEEF));
        DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.CfgRead, Cfg(0x100, 4), 0).Should().Be(new CfgReadRequest(0x100, 4));
        DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.CfgWrite, Cfg(0x04, 2, 0x0006), 0).Should().Be(new CfgWriteRequest(4, 2, 6));
        DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.Reset, [], 0).Should().BeOfType<ResetRequest>();
    }

    [TestCase(DeviceProtocol.MmioRead, 6, 4, 0UL, "MMIO_READ.bar", "accepted 0..5")]
    [TestCase(DeviceProtocol.MmioRead, 0, 3, 0UL, "MMIO_READ.size", "accepted 1, 2 or 4")]
    [TestCase(DeviceProtocol.MmioRead, 0, 4, 2UL, "MMIO_READ.offset", "multiple of 4")]
    [TestCase(DeviceProtocol.MmioWrite, 0, 8, 0UL, "MMIO_WRITE.size", "accepted 1, 2 or 4")]
    public void BadMmioFields_AreNamedWithTheirRange(ushort type, int bar, int size, ulong offset, string field, string range)
    {
        var act = () => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, type, Mmio(bar, size, offset), 0);
        act.Should().Throw<DeviceProtocolException>().Where(e => e.Field == field && e.Message.Contains(range));
    }

    [Test]
    public void AWriteValueWiderThanItsSize_IsRefused()
    {
        var act = () => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MmioWrite, Mmio(0, 1, 0, 0x1FF), 0);
        act.Should().Throw<DeviceProtocolException>().Where(e => e.Field == "MMIO_WRITE.value" && e.Message.Contains("accepted 0..0xFF"));
        var cfg = () => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.CfgWrite, Cfg(0x3C, 1, 0x100), 0);
        cfg.Should().Throw<DeviceProtocolException>().Where(e => e.Field == "CFG_WRITE.value");
    }

    [TestCase(0x1000, 4, "CFG_READ.offset")]
    [TestCase(0x0FFE, 4, "CFG_READ.offset")]
    [TestCase(0x0001, 2, "CFG_READ.offset")]
    [TestCase(0x0000, 0, "CFG_READ.size")]
    public void BadConfigAccesses_AreNamed(int offset, int size, string field)
    {
        var act = () => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.CfgRead, Cfg(offset, size), 0);
        act.Should().Throw<DeviceProtocolException>().Where(e => e.Field == field);
    }

    [Test]
    public void Framing_WrongLengthsReservedBitsAndUnknownTypes_AreNamed()
    {
        byte[] header = new byte[8];
        DeviceProtocol.WriteHeader(header, DeviceProtocol.MmioRead, DeviceProtocol.MaxPayload + 1);
        ((Action)(() => DeviceProtocol.ParseHeader(header))).Should().Throw<DeviceProtocolException>().Where(e => e.Field == "header.length" && e.Message.Contains("accepted 0..65536"));
        header[2] = 1;
        ((Action)(() => DeviceProtocol.ParseHeader(header))).Should().Throw<DeviceProtocolException>().Where(e => e.Field == "header.reserved");
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MmioRead, new byte[23], 0)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Field == "MMIO_READ payload" && e.Message.Contains("accepted exactly 24"));
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, 0x42, [], 0)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Field == "header.type");
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleEvents, DeviceProtocol.MmioRead, Mmio(0, 4, 0), 0)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Message.Contains("events connection"));
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MmioRead, Mmio(0, 4, 0), 1)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Field == "ancillary data");
    }

    [Test]
    public void Hello_ChecksVersionAndRole()
    {
        byte[] hello = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(hello, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(4), 1);
        DeviceProtocol.ParseHello(DeviceProtocol.Hello, hello).Role.Should().Be(DeviceProtocol.RoleMmio);
        BinaryPrimitives.WriteUInt32LittleEndian(hello, 2);
        ((Action)(() => DeviceProtocol.ParseHello(DeviceProtocol.Hello, hello))).Should().Throw<DeviceProtocolException>().Where(e => e.Field == "HELLO.version" && e.Message.Contains("accepted 1"));
        BinaryPrimitives.WriteUInt32LittleEndian(hello, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(4), 3);
        ((Action)(() => DeviceProtocol.ParseHello(DeviceProtocol.Hello, hello))).Should().Throw<DeviceProtocolException>().Where(e => e.Field == "HELLO.role");
        ((Action)(() => DeviceProtocol.ParseHello(DeviceProtocol.CfgRead, hello))).Should().Throw<DeviceProtocolException>().Where(e => e.Message.Contains("accepted HELLO"));
    }

    [Test]
    public void MemoryMap_RegionsAreCheckedAgainstEachOtherAndTheirFds()
    {
        static byte[] Map(params (ulong Gpa, ulong Size, ulong Off)[] regions)
        {
            byte[] p = new byte[8 + (24 * regions.Length)];
            BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)regions.Length);
            for (int i = 0; i < regions.Length; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(8 + (24 * i)), regions[i].Gpa);
                BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(16 + (24 * i)), regions[i].Size);
                BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(24 + (24 * i)), regions[i].Off);
            }

            return p;
        }

        var ok = (MemoryMapRequest)DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MemoryMap, Map((0, 0xA0000, 0), (0x100000, 0x5FF00000, 0x100000)), 2);
        ok.Regions.Should().HaveCount(2);
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MemoryMap, Map((0, 0x2000, 0), (0x1000, 0x1000, 0)), 2)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Field == "MEMORY_MAP.regions[1].guest_address" && e.Message.Contains("overlaps regions[0]"));
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MemoryMap, Map((0, 0x1001, 0)), 1)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Field == "MEMORY_MAP.regions[0].size");
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MemoryMap, Map((0, 0x1000, 0)), 0)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Field == "MEMORY_MAP.count" && e.Message.Contains("one per region"));
        ((Action)(() => DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, DeviceProtocol.MemoryMap, Map(), 0)))
            .Should().Throw<DeviceProtocolException>().Where(e => e.Field == "MEMORY_MAP.count" && e.Message.Contains("accepted 1..16"));
    }

    [FsCheck.NUnit.Property(MaxTest = 2000)]
    public Property AnyPayload_EitherParsesOrIsANamedProtocolError() =>
        Prop.ForAll(Arb.From(Gen.Choose(0, 255)), Arb.From(Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b))), Arb.From(Gen.Choose(0, 2)), (type, payload, fds) =>
        {
            try
            {
                DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, (ushort)type, payload, fds);
                return true;
            }
            catch (DeviceProtocolException e)
            {
                return e.Field.Length > 0 && e.Message.Contains("accepted", StringComparison.Ordinal);
            }
        });

    [Test]
    public void Constants_MatchTheCHeaderOfTheQemuDevice()
    {
        string header = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "lab", "qemu", "litepcie-hil-proto.h"));
        var c = HeaderConstant().Matches(header).GroupBy(m => m.Groups[1].Value).Select(g => g.First()).ToDictionary(m => m.Groups[1].Value, m => Convert.ToInt64(m.Groups[2].Value, m.Groups[2].Value.StartsWith("0x", StringComparison.Ordinal) ? 16 : 10));
        var expected = new Dictionary<string, long>
        {
            ["HELLO"] = DeviceProtocol.Hello, ["CFG_READ"] = DeviceProtocol.CfgRead, ["CFG_WRITE"] = DeviceProtocol.CfgWrite,
            ["MMIO_READ"] = DeviceProtocol.MmioRead, ["MMIO_WRITE"] = DeviceProtocol.MmioWrite, ["RESET"] = DeviceProtocol.Reset,
            ["MEMORY_MAP"] = DeviceProtocol.MemoryMap, ["DEVICE"] = DeviceProtocol.Device, ["CFG_READ_REPLY"] = DeviceProtocol.CfgReadReply,
            ["MMIO_READ_REPLY"] = DeviceProtocol.MmioReadReply, ["STATUS_REPLY"] = DeviceProtocol.StatusReply, ["EVENTS_READY"] = DeviceProtocol.EventsReady,
            ["MSI"] = DeviceProtocol.Msi, ["ERROR"] = DeviceProtocol.Error, ["PROTOCOL_VERSION"] = DeviceProtocol.Version,
            ["MAX_PAYLOAD"] = DeviceProtocol.MaxPayload, ["MAX_TEXT"] = DeviceProtocol.MaxText, ["MAX_REGIONS"] = DeviceProtocol.MaxRegions,
            ["BARS"] = DeviceProtocol.Bars, ["ROLE_MMIO"] = DeviceProtocol.RoleMmio, ["ROLE_EVENTS"] = DeviceProtocol.RoleEvents,
            ["OK"] = DeviceProtocol.StatusOk, ["E_INVALID"] = DeviceProtocol.StatusInvalid, ["E_STATE"] = DeviceProtocol.StatusState,
            ["E_INTERNAL"] = DeviceProtocol.StatusInternal, ["BAR_IO"] = DeviceProtocol.BarIo, ["BAR_MEM64"] = DeviceProtocol.BarMem64,
            ["BAR_PREFETCH"] = DeviceProtocol.BarPrefetch,
        };
        foreach (var (name, value) in expected)
        {
            c.Should().ContainKey(name, $"LPH_{name} is defined in litepcie-hil-proto.h");
            c[name].Should().Be(value, $"LPH_{name} in the C header equals DeviceProtocol's value");
        }
    }

    [GeneratedRegex(@"\bLPH_([A-Z0-9_]+)\s*=?\s*(0x[0-9A-Fa-f]+|\d+)u?\b")]
    private static partial Regex HeaderConstant();
}
