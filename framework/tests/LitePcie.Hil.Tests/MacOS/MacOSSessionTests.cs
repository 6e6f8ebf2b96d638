using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Dma;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Sil;
using LitePcie.Hil.Tests.Contract;
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
public sealed class MacOSSessionTests : BackendContractTests
{
#pragma warning disable NUnit1032 // disposed in CloseRigAsync, which the contract's [TearDown] calls
    private SilBackend _sil = null!;
    private FakeIOKit _io = null!;
    private FakeService _service = null!;
    private MacOSBackend _backend = null!;
#pragma warning restore NUnit1032

    private IDmaChannel Channel0 => Session.Channels[0];

    protected override string Driver => "LitePCIe dext";

    private SimulatedBoard Board => _sil.Slots[0].Board;

    protected override async Task<IDeviceSession> OpenAsync()
    {
        _sil = new SilBackend();
        _io = new FakeIOKit();
        _service = FakeDext.PublishSil(_io, _sil.Slots[0]);
        _backend = new MacOSBackend([_sil.Slots[0].Profile], _io);
        var devices = await _backend.EnumerateAsync();
        devices.Should().ContainSingle().Which.Address.Should().Be(_sil.Slots[0].Address, "pcidebug 1:0:0 is the SIL slot's BDF");
        return await _backend.OpenAsync(devices[0]);
    }

    protected override async Task CloseRigAsync()
    {
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

    protected override async Task RemoveBoardAsync() => await _sil.DetachAsync(_sil.Slots[0].Address);

    protected override bool EngineEnabled(int channel, DmaDirection direction) =>
        (Board.CsrBus.Read32(Board.Map.Layout.DmaChannels[channel].Engine(direction).Enable) & 1) != 0;

    protected override string WaitedForHardwareCount(string engine, long target) => $"{engine} hardware count ≥ {target}";

    /// <summary>Identity through IOConnectCallMethod with exact scalar and struct counts.</summary>
    protected override Action ObserveIdentity()
    {
        Session.Read32(Session.Map.Layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "ctrl_scratch after the core's reset at Start");
        return () =>
        {
            Session.Info.Device.Backend.Should().Be("macos");
            Session.Info.Device.Board.Should().Be(_sil.Slots[0].Profile.Name);
            var calls = _io.Calls.ToArray();
            calls.Should().Contain((0u, 0, 0, 0, System.Runtime.CompilerServices.Unsafe.SizeOf<LpcInfo>(), false), "GetInfo: no input, one LpcInfo out");
            calls.Should().Contain(((uint)DextSelector.CsrRead32, 1, 0, 1, 0, false), "CsrRead32: 1 scalar in, 1 scalar out");
            calls.Should().Contain(((uint)DextSelector.CsrWrite32, 2, 0, 0, 0, false), "CsrWrite32: 2 scalars in, nothing out");
            _io.MappedTypes.Should().Contain((uint)DextAbi.MemoryType(DextMemoryKind.Status, 0), "the status page is memory type (1 << 8) | 0");
        };
    }

    /// <summary>The loopback went through the mapped rings and every async call completed once.</summary>
    protected override Action<StreamReport> ObserveLoopback() => _ =>
    {
        _io.MappedTypes.Should().Contain([0x200u, 0x300u], "writer ring = (2 << 8) | 0, reader ring = (3 << 8) | 0");
        ((MacOSSession)Session).Transport.PendingCalls.Should().Be(0, "every async call completed exactly once");
    };

    /// <summary>Closing unmapped everything (a later status-page read would fault the process on macOS).</summary>
    protected override Action ObserveClose() => () => _io.LiveMappings.Should().Be(0, "closing unmapped everything");

    /// <summary>A board that left answers kIOReturnOffline, which latches the transport as terminated.</summary>
    protected override void ObserveGone(DeviceGoneException first) =>
        first.NativeCode.Should().Be(IOReturn.Offline, "kIOReturnOffline from the retired core");

    [Test]
    public async Task A_wait_completes_through_the_notification_port()
    {
        var ch = Channel0;
        ch.SetLoopback(true);
        ch.Start(DmaDirection.Writer, new DmaStartOptions(IrqEvery: 8));
        ch.Start(DmaDirection.Reader, new DmaStartOptions(IrqEvery: 8));
        ch.UpdateSwCount(DmaDirection.Reader, 16); // 16 buffers to loop back: the wait below cannot be satisfied yet

        var wait = ch.WaitAsync(DmaDirection.Writer, 48, TimeSpan.FromSeconds(5)).AsTask();
        await Eventually.UntilAsync(() => ((MacOSSession)Session).Transport.PendingCalls == 1 || wait.IsCompleted, "the wait pending in the dext");
        ch.UpdateSwCount(DmaDirection.Reader, 64);
        var counters = await wait;

        counters.HwCount.Should().BeGreaterThanOrEqualTo(48, "the writer's hardware count the wait asked for");
        _io.Calls.Should().Contain(c => c.Selector == (uint)DextSelector.WaitBuffers && c.Async && c.ScalarIn == 4 && c.ScalarOut == 0,
            "the wait went through IOConnectCallAsyncMethod(WaitBuffers: channel, direction, target, timeout)");
        ((MacOSSession)Session).Transport.PendingCalls.Should().Be(0, "the completion arrived exactly once and was consumed");
        ch.Stop(DmaDirection.Reader);
        ch.Stop(DmaDirection.Writer);
    }

    [Test]
    public void A_refused_register_write_maps_to_not_permitted_with_the_dexts_words()
    {
        var dma1 = Session.Map.Layout.DmaChannels[1];
        var e = FluentActions.Invoking(() => Session.WriteCsr(Session.Map.BarOffsetOf(dma1.Writer.TableWe), 0))
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
    public async Task The_terminate_notification_marks_the_session_gone_and_aborts_pending_waits()
    {
        var ch = Session.Channels[1];
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default); // no loopback: nothing arrives, the wait stays pending
        var wait = ch.WaitAsync(DmaDirection.Writer, 1, TimeSpan.FromSeconds(5)).AsTask();
        await Eventually.UntilAsync(() => ((MacOSSession)Session).Transport.PendingCalls == 1 || wait.IsCompleted, "the wait pending in the dext");
        int callsBefore = _io.Calls.Count;

        _io.Terminate(_service);
        _io.Settle();

        Session.IsDeviceGone.Should().BeTrue("kIOMessageServiceIsTerminated arrived on the transport's interest notification");
        (await FluentActions.Awaiting(() => wait).Should().ThrowAsync<DeviceGoneException>("the pending wait completes with kIOReturnOffline"))
            .Which.Code.Should().Be(DeviceErrorCode.DeviceGone);
        FluentActions.Invoking(() => Session.ReadCsr(4)).Should().Throw<DeviceGoneException>("every call after termination");
        _io.Calls.Count.Should().Be(callsBefore, "no call reaches IOKit once the service is terminated");
        ((MacOSSession)Session).Transport.PendingCalls.Should().Be(0);
    }
}
