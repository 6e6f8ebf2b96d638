using FluentAssertions;
using System.Buffers.Binary;
using LitePcie.Hil.DeviceServer;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>What the device server does with each request on the board: device-specific checks, sub-dword accesses, no state change when refused.</summary>
[TestFixture]
public sealed class BoardEndpointTests
{
    private static ulong Value(Reply r) => BinaryPrimitives.ReadUInt64LittleEndian(r.Payload.AsSpan(8));

    private static uint Status(Reply r) => BinaryPrimitives.ReadUInt32LittleEndian(r.Payload);

    private static string Text(Reply r, int fixedBytes) => System.Text.Encoding.UTF8.GetString(r.Payload.AsSpan(fixedBytes));

    [Test]
    public void DescribeDevice_CarriesTheProfilesIdsAndBars()
    {
        using var board = SimBoards.Manual();
        using var memory = new GuestMemory(32);
        byte[] d = new BoardEndpoint(board, memory).DescribeDevice();
        d.Length.Should().Be(DeviceProtocol.DeviceBytes);
        BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(4)).Should().Be(board.Profile.VendorId);
        BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(6)).Should().Be(board.Profile.DeviceId);
        BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(16)).Should().Be(1UL << 20, "BAR0 1 MiB");
        BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(24)).Should().Be(0u, "BAR0 is 32-bit, not prefetchable");
        BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(16 + 32)).Should().Be(1UL << 20, "BAR2 1 MiB");
        BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(24 + 32)).Should().Be(DeviceProtocol.BarMem64 | DeviceProtocol.BarPrefetch, "BAR2 is 64-bit prefetchable");
        System.Text.Encoding.UTF8.GetString(d.AsSpan(112, 13)).Should().Be("sim-ac701-2ch");
    }

    [Test]
    public void ConfigAndBarAccesses_ReachTheBoard()
    {
        using var board = SimBoards.Manual();
        SimBoards.Enumerate(board);
        using var memory = new GuestMemory(32);
        var endpoint = new BoardEndpoint(board, memory);
        Value(endpoint.Handle(new CfgReadRequest(0, 2), [])!).Should().Be(board.Profile.VendorId);
        uint scratch = board.Map.BarOffsetOf(board.Map.Register("ctrl_scratch"));
        endpoint.Handle(new MmioWriteRequest(0, 4, scratch, 0x12345678), []).Should().BeNull("BAR writes are posted");
        Value(endpoint.Handle(new MmioReadRequest(0, 4, scratch), [])!).Should().Be(0x12345678UL);
        Value(endpoint.Handle(new MmioReadRequest(0, 1, scratch + 1), [])!).Should().Be(0x56UL, "byte 1 of 0x12345678");
        endpoint.Handle(new MmioWriteRequest(0, 2, scratch + 2, 0xBEEF), []);
        Value(endpoint.Handle(new MmioReadRequest(0, 4, scratch), [])!).Should().Be(0xBEEF5678UL, "a 16-bit write keeps the other half (byte enables)");
        endpoint.Counters.MmioReads.Should().Be(3);
        endpoint.Counters.MmioWrites.Should().Be(2);
    }

    [Test]
    public void AnAccessOutsideTheBoardsBars_IsRefusedByNameAndChangesNothing()
    {
        using var board = SimBoards.Manual();
        SimBoards.Enumerate(board);
        using var memory = new GuestMemory(32);
        var endpoint = new BoardEndpoint(board, memory);
        uint scratch = board.Map.BarOffsetOf(board.Map.Register("ctrl_scratch"));
        uint before = board.ReadBar(0, scratch);

        var r = endpoint.Handle(new MmioReadRequest(3, 4, 0), [])!;
        Status(r).Should().Be(DeviceProtocol.StatusInvalid);
        Value(r).Should().Be(ulong.MaxValue, "a refused read answers all-ones, as an unsupported request does");
        Text(r, 16).Should().Contain("MMIO_READ.bar: 3 is not an implemented BAR of sim-ac701-2ch (implemented: 0, 2)");

        var outside = endpoint.Handle(new MmioReadRequest(0, 4, 1UL << 20), [])!;
        Text(outside, 16).Should().Contain("MMIO_READ.offset: 0x100000 (+4) outside BAR0: accepted 0..0xFFFFC");

        var write = () => endpoint.Handle(new MmioWriteRequest(1, 4, scratch, 0xDEAD), []);
        write.Should().Throw<DeviceProtocolException>().Where(e => e.Message.Contains("MMIO_WRITE.bar: 1"));
        board.ReadBar(0, scratch).Should().Be(before, "no refused request touches the board");
        endpoint.Counters.Refused.Should().Be(3);
    }
}
