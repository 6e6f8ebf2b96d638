using System.Collections.Concurrent;
using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.MacOS.IOKit;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>The transport alone, on a user client the test drives: completions exactly once, close aborts, mappings.</summary>
[TestFixture]
public sealed class IOKitTransportTests
{
    private FakeIOKit _io = null!;
    private HoldingUserClient _client = null!;
    private IOKitTransport _transport = null!;

    [SetUp]
    public void SetUp()
    {
        _io = new FakeIOKit();
        _client = new HoldingUserClient();
        var profile = BoardCatalog.Load(BoardCatalog.DefaultBoard);
        var service = _io.Publish(FakeDext.ServiceClasses, FakeDext.ServiceProperties(FakeDext.Published(profile)), open: _ => (IOReturn.Success, _client));
        var matching = CoreFoundation.CreateMatching(_io, MacOSBackend.KernelServiceClass, [new("IOUserClass", MacOSBackend.DriverClass)]);
        _io.IOServiceGetMatchingServices(matching.Handle, out uint iterator);
        uint handle = _io.IOIteratorNext(iterator);
        _io.IOObjectRelease(iterator);
        _io.IOServiceOpen(handle, 0, out uint connection).Should().Be(IOReturn.Success);
        _transport = new IOKitTransport(_io, handle, connection, "0000:09:00.0");
        service.Active.Should().BeTrue();
    }

    [TearDown]
    public void TearDown()
    {
        _transport.Dispose();
        _io.ShouldHaveReleasedEverything("the transport");
        _io.Dispose();
    }

    [Test]
    public async Task A_completion_is_delivered_once_even_if_the_dext_sends_it_twice()
    {
        _transport.CallAsync(DextSelector.WaitBuffers, [1, 0, 64, 500], out var completion).Should().Be(IOReturn.Success);
        _transport.PendingCalls.Should().Be(1);

        _client.Complete(IOReturn.Success, [64, 3]);
        _client.Complete(IOReturn.Success, [65, 4]); // a buggy second AsyncCompletion
        _io.Settle();

        (await completion.WaitAsync(TimeSpan.FromSeconds(5))).Should().Be(new DextCompletion(IOReturn.Success, 64, 3),
            "the first completion's status, hardware count and lost count");
        _transport.PendingCalls.Should().Be(0);
    }

    [Test]
    public async Task Closing_aborts_a_pending_wait_and_a_late_completion_is_ignored()
    {
        _transport.CallAsync(DextSelector.WaitBuffers, [0, 0, 10, 500], out var completion);

        _transport.Dispose();
        _client.Complete(IOReturn.Success, [10, 0]); // arrives after close: the port is gone, nothing runs
        _io.Settle();

        (await completion.WaitAsync(TimeSpan.FromSeconds(5))).Status.Should().Be(IOReturn.Aborted, "close aborts what is pending");
        _transport.Call(DextSelector.CsrRead32, [0], [], new ulong[1], [], out _).Should().Be(IOReturn.NotOpen, "a closed transport refuses calls");
    }

    [Test]
    public void An_async_call_the_dext_refuses_completes_at_once_with_that_status()
    {
        _client.AsyncStatus = IOReturn.Busy;
        _transport.CallAsync(DextSelector.WaitBuffers, [0, 0, 10, 500], out var completion).Should().Be(IOReturn.Busy);
        completion.IsCompleted.Should().BeTrue("no completion will come for a refused call");
        _transport.PendingCalls.Should().Be(0);
    }

    [Test]
    public void Mappings_use_the_abi_memory_type_are_cached_and_unmapped_at_close()
    {
        var status = _transport.Map(DextMemoryKind.Status, 0);
        var writer1 = _transport.Map(DextMemoryKind.WriterRing, 1);
        var reader1 = _transport.Map(DextMemoryKind.ReaderRing, 1);
        _transport.Map(DextMemoryKind.WriterRing, 1).Should().Be(writer1, "a second map of the same type returns the same mapping");

        _io.MappedTypes.Should().Equal([0x100u, 0x201u, 0x301u], "(kind << 8) | channel, each mapped once");
        status.ReadOnly.Should().BeTrue("the status page is read-only to the client");
        writer1.ReadOnly.Should().BeTrue("writer rings are filled by the device");
        reader1.ReadOnly.Should().BeFalse("reader rings are the client's to fill");
        _io.LiveMappings.Should().Be(3);

        _transport.Dispose();
        _io.LiveMappings.Should().Be(0, "every mapping is unmapped before IOServiceClose");
    }

    [Test]
    public void A_refused_mapping_names_the_memory_type()
    {
        _client.MapStatus = IOReturn.BadArgument;
        FluentActions.Invoking(() => _transport.Map(DextMemoryKind.ReaderRing, 7)).Should().Throw<DeviceArgumentException>()
            .Which.Message.Should().Contain("type 0x307").And.Contain("ReaderRing, channel 7");
    }

    /// <summary>Holds the async completion until the test fires it; maps to a small pinned buffer.</summary>
    private sealed class HoldingUserClient : IFakeUserClient
    {
        private readonly ConcurrentQueue<Action<int, ulong[]>> _pending = new();
        private readonly byte[] _memory = GC.AllocateArray<byte>(64 * 1024, pinned: true);

        public int AsyncStatus { get; set; } = IOReturn.Success;

        public int MapStatus { get; set; } = IOReturn.Success;

        public int Call(uint selector, ReadOnlySpan<ulong> input, ReadOnlySpan<byte> inputStruct, Span<ulong> output, ref uint outputCount,
            Span<byte> outputStruct, ref nuint outputStructSize) => IOReturn.Success;

        public int CallAsync(uint selector, ReadOnlySpan<ulong> input, Action<int, ulong[]> complete)
        {
            if (AsyncStatus == IOReturn.Success)
            {
                _pending.Enqueue(complete);
            }

            return AsyncStatus;
        }

        public void Complete(int status, ulong[] args)
        {
            foreach (var c in _pending)
            {
                c(status, args);
            }
        }

        public unsafe int Map(uint memoryType, out ulong address, out ulong size)
        {
            fixed (byte* p = _memory)
            {
                address = (ulong)p + (memoryType & 0xFFF) * 16;
            }

            size = 4096;
            return MapStatus;
        }

        public void Close()
        {
        }
    }
}
