using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Dma;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.Simulation.Sil;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>
/// The whole macOS path end to end against the real dext core: MacOSBackend → IOKitTransport → (fake) IOConnectCallMethod,
/// IOConnectCallAsyncMethod and IOConnectMapMemory64 → the SIL's dext core → the gateware model, and async completions back
/// through the notification port's dispatch queue into the C callback the transport registered.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MacOSSessionTests
{
    private SilBackend _sil = null!;
    private FakeIOKit _io = null!;
    private FakeService _service = null!;
    private MacOSBackend _backend = null!;
    private IDeviceSession _session = null!;

    private IDmaChannel Channel0 => _session.Channels[0];

    [SetUp]
    public async Task SetUp()
    {
        _sil = new SilBackend();
        _io = new FakeIOKit();
        _service = FakeDext.PublishSil(_io, _sil.Slots[0]);
        _backend = new MacOSBackend([_sil.Slots[0].Profile], _io);
        var devices = await _backend.EnumerateAsync();
        devices.Should().ContainSingle().Which.Address.Should().Be(_sil.Slots[0].Address, "pcidebug 1:0:0 is the SIL slot's BDF");
        _session = await _backend.OpenAsync(devices[0]);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _session.DisposeAsync();
        await _backend.DisposeAsync();
        _io.Settle();
        _io.LiveMappings.Should().Be(0, $"closing unmaps the status page and rings before IOServiceClose ({_io.Describe()})");
        _io.OpenConnections.Should().Be(0, "the user client was closed");
        _io.LiveIOObjects.Should().Be(0, $"service, connection and interest notification released ({_io.Describe()})");
        _io.LivePorts.Should().Be(0, "the transport's notification port was destroyed");
        _io.LiveQueues.Should().Be(0, "the transport's dispatch queue was released");
        _io.LiveCFObjects.Should().Be(0, $"no CF object leaked ({_io.Describe()})");
        _io.Errors.Should().BeEmpty();
        _io.Dispose();
        await _sil.DisposeAsync();
    }

    [Test]
    public void Identifier_and_scratch_go_through_IOConnectCallMethod_with_exact_counts()
    {
        _session.Info.Identifier.Should().Be(_session.Map.Identifier, "GetInfo's identifier, read by the core from the ROM");
        _session.ReadIdentifier().Should().Be(_session.Map.Identifier, "the identifier ROM word by word through CsrRead32");
        var scratch = _session.Map.Layout.Ctrl.Scratch;
        _session.Read32(scratch).Should().Be(CtrlBlock.ScratchResetValue, "ctrl_scratch after the core's reset at Start");
        _session.Write(scratch, 0xDEADBEEF);
        _session.Read32(scratch).Should().Be(0xDEADBEEFu, "ctrl_scratch round trip through CsrWrite32/CsrRead32");
        _session.Info.Driver.Should().Be("LitePCIe dext");
        _session.Info.Device.Backend.Should().Be("macos");
        _session.Info.Device.Board.Should().Be(_sil.Slots[0].Profile.Name);

        var calls = _io.Calls.ToArray();
        calls.Should().Contain((0u, 0, 0, 0, System.Runtime.CompilerServices.Unsafe.SizeOf<LpcInfo>(), false), "GetInfo: no input, one LpcInfo out");
        calls.Should().Contain(((uint)DextSelector.CsrRead32, 1, 0, 1, 0, false), "CsrRead32: 1 scalar in, 1 scalar out");
        calls.Should().Contain(((uint)DextSelector.CsrWrite32, 2, 0, 0, 0, false), "CsrWrite32: 2 scalars in, nothing out");
        _io.MappedTypes.Should().Contain((uint)DextAbi.MemoryType(DextMemoryKind.Status, 0), "the status page is memory type (1 << 8) | 0");
    }

    [Test]
    public async Task Four_MiB_of_loopback_are_verified_through_the_mapped_rings()
    {
        var report = await DmaStreamer.RunAsync(Channel0, new SequencePattern(Channel0.Geometry.BufferSize),
            new StreamOptions { Bytes = 4L << 20, StallTimeout = TimeSpan.FromSeconds(5) });

        report.Stall.Should().BeNull();
        report.Errors.Should().Be(0, string.Join("; ", report.ErrorDetails));
        report.RxBytes.Should().BeGreaterThanOrEqualTo(4L << 20, "every byte came back through the mapped writer ring");
        _io.MappedTypes.Should().Contain([0x200u, 0x300u], "writer ring = (2 << 8) | 0, reader ring = (3 << 8) | 0");
        ((MacOSSession)_session).Transport.PendingCalls.Should().Be(0, "every async call completed exactly once");
    }

    [Test]
    public async Task A_wait_completes_through_the_notification_port()
    {
        var ch = Channel0;
        ch.SetLoopback(true);
        ch.Start(DmaDirection.Writer, new DmaStartOptions(IrqEvery: 8));
        ch.Start(DmaDirection.Reader, new DmaStartOptions(IrqEvery: 8));
        ch.UpdateSwCount(DmaDirection.Reader, 16); // 16 buffers to loop back: the wait below cannot be satisfied yet

        var wait = ch.WaitAsync(DmaDirection.Writer, 48, TimeSpan.FromSeconds(5)).AsTask();
        await Eventually.UntilAsync(() => ((MacOSSession)_session).Transport.PendingCalls == 1 || wait.IsCompleted, "the wait pending in the dext");
        ch.UpdateSwCount(DmaDirection.Reader, 64);
        var counters = await wait;

        counters.HwCount.Should().BeGreaterThanOrEqualTo(48, "the writer's hardware count the wait asked for");
        _io.Calls.Should().Contain(c => c.Selector == (uint)DextSelector.WaitBuffers && c.Async && c.ScalarIn == 4 && c.ScalarOut == 0,
            "the wait went through IOConnectCallAsyncMethod(WaitBuffers: channel, direction, target, timeout)");
        ((MacOSSession)_session).Transport.PendingCalls.Should().Be(0, "the completion arrived exactly once and was consumed");
        ch.Stop(DmaDirection.Reader);
        ch.Stop(DmaDirection.Writer);
    }

    [Test]
    public void A_refused_register_write_maps_to_not_permitted_with_the_dexts_words()
    {
        var dma1 = _session.Map.Layout.DmaChannels[1];
        var e = FluentActions.Invoking(() => _session.WriteCsr(_session.Map.BarOffsetOf(dma1.Writer.TableWe), 0))
            .Should().Throw<DeviceArgumentException>().Which;
        e.Code.Should().Be(DeviceErrorCode.NotPermitted, "kIOReturnNotPermitted from the dext");
        e.NativeCode.Should().Be(IOReturn.NotPermitted);
        e.Accepted.Should().Contain("driver-owned register", "GetLastError's message, fetched through IOKit too");
    }

    [Test]
    public async Task A_second_open_is_refused_with_exclusive_access()
    {
        var d = (await _backend.EnumerateAsync())[0];
        var e = await FluentActions.Awaiting(async () => await _backend.OpenAsync(d)).Should().ThrowAsync<DeviceBusyException>();
        e.Which.Code.Should().Be(DeviceErrorCode.ExclusiveAccess, "kIOReturnExclusiveAccess from NewUserClient");
        e.Which.Message.Should().Contain("one client per device");
        _io.OpenConnections.Should().Be(1, "only the first session holds a connection");
    }

    [Test]
    public async Task A_board_that_left_answers_offline_and_the_session_reports_it_gone()
    {
        await _sil.DetachAsync(_sil.Slots[0].Address);

        var e = FluentActions.Invoking(() => _session.Read32(_session.Map.Layout.Ctrl.Scratch)).Should().Throw<DeviceGoneException>().Which;
        e.NativeCode.Should().Be(IOReturn.Offline, "kIOReturnOffline from the retired core");
        _session.IsDeviceGone.Should().BeTrue("a call answered kIOReturnOffline latches the transport as terminated");
    }

    [Test]
    public async Task The_terminate_notification_marks_the_session_gone_and_aborts_pending_waits()
    {
        var ch = _session.Channels[1];
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default); // no loopback: nothing arrives, the wait stays pending
        var wait = ch.WaitAsync(DmaDirection.Writer, 1, TimeSpan.FromSeconds(5)).AsTask();
        await Eventually.UntilAsync(() => ((MacOSSession)_session).Transport.PendingCalls == 1 || wait.IsCompleted, "the wait pending in the dext");
        int callsBefore = _io.Calls.Count;

        _io.Terminate(_service);
        _io.Settle();

        _session.IsDeviceGone.Should().BeTrue("kIOMessageServiceIsTerminated arrived on the transport's interest notification");
        (await FluentActions.Awaiting(() => wait).Should().ThrowAsync<DeviceGoneException>("the pending wait completes with kIOReturnOffline"))
            .Which.Code.Should().Be(DeviceErrorCode.DeviceGone);
        FluentActions.Invoking(() => _session.ReadCsr(4)).Should().Throw<DeviceGoneException>("every call after termination");
        _io.Calls.Count.Should().Be(callsBefore, "no call reaches IOKit once the service is terminated");
        ((MacOSSession)_session).Transport.PendingCalls.Should().Be(0);
    }

    [Test]
    public async Task A_closed_session_no_longer_reads_its_unmapped_status_page()
    {
        long generation = _session.Generation;
        await _session.DisposeAsync();

        _io.LiveMappings.Should().Be(0, "closing unmapped everything");
        FluentActions.Invoking(() => Channel0.GetCounters(DmaDirection.Writer)).Should().Throw<ObjectDisposedException>(
            "the status page is unmapped: reading it would fault the process on macOS");
        _session.Generation.Should().Be(generation, "the generation seen at close");
        _session.IsDeviceGone.Should().BeFalse();
    }
}
