using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Sil;
using LitePcie.Hil.Tests.Contract;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Sil;

/// <summary>
/// The SIL backend end to end: C# → dext method table → the dext core compiled for this host → the gateware
/// model, and back through the core's interrupt path. The scenarios every backend shares are the contract's
/// (<see cref="BackendContractTests"/>); what the dext core adds is asserted here.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SilBackendTests : BackendContractTests
{
#pragma warning disable NUnit1032 // disposed in CloseRigAsync, which the contract's [TearDown] calls
    private SilBackend _backend = null!;
#pragma warning restore NUnit1032

    protected override string Driver => "lpc-core (SIL)";

    protected override long LoopbackBytes => 1L << 30;

    protected override TimeSpan LoopbackStallTimeout => TimeSpan.FromSeconds(10);

    private SimulatedBoard Board => _backend.Slots[0].Board;

    protected override async Task<IDeviceSession> OpenAsync()
    {
        _backend = new SilBackend();
        var devices = await _backend.EnumerateAsync();
        devices.Should().ContainSingle();
        return await _backend.OpenAsync(devices[0]);
    }

    protected override async Task CloseRigAsync() => await _backend.DisposeAsync();

    protected override Task RemoveBoardAsync()
    {
        Board.SurpriseRemove();
        return Task.CompletedTask;
    }

    protected override bool EngineEnabled(int channel, DmaDirection direction) =>
        (Board.CsrBus.Read32(Board.Map.Layout.DmaChannels[channel].Engine(direction).Enable) & 1) != 0;

    protected override string WaitedForHardwareCount(string engine, long target) => $"{engine} hardware count ≥ {target}";

    protected override Action ObserveIdentity()
    {
        Session.Read32(Session.Map.Layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "ctrl_scratch after the core's SoC reset at Start");
        return () => { };
    }

    protected override Action<DeviceArgumentException, DeviceArgumentException, DeviceArgumentException> ObserveRefusedOffsets() =>
        (outside, unalignedRead, _) =>
        {
            outside.Code.Should().Be(DeviceErrorCode.BadArgument);
            outside.Parameter.Should().Be("CsrRead32.offset");
            outside.Accepted.Should().Be("a multiple of 4 in 0..0xFFFFC (CSR BAR size - 4)");
            outside.NativeCode.Should().Be(IOReturn.BadArgument);
            unalignedRead.Message.Should().Contain("offset = 6").And.Contain("a multiple of 4");
        };

    protected override Action<StreamReport> ObserveLoopback() => report =>
    {
        report.DriverLostWriter.Should().Be(0);
        var ch = Session.Channels[0];
        var stats = Session.GetInterruptStatistics();
        stats.PerSource[ch.Layout.WriterInterrupt].Should().BeGreaterThanOrEqualTo(report.RxBuffers / 32 - 1,
            "one interrupt per 32 writer buffers drives the core's hw count");
        TestContext.Out.WriteLine($"SIL loopback through the dext core: {report.RxBytes / (double)(1L << 30):0.00} GiB verified in " +
            $"{report.Elapsed.TotalSeconds:0.00} s = {report.Gbps:0.00} Gb/s ({report.RxBytes / report.Elapsed.TotalSeconds / 1e9:0.00} GB/s), " +
            $"CPU {report.CpuCores:0.00} cores, {stats.Messages} MSIs");
    };

    protected override Action ObserveClose() =>
        () => Board.CsrBus.Read32(Board.Map.Layout.Msi.Enable).Should().Be(0u, "pcie_msi_enable after the client closed");

    [Test]
    public async Task Enumeration_reports_the_board_and_its_link()
    {
        var d = (await _backend.EnumerateAsync())[0];
        d.Should().Be(new DeviceDescriptor("sim", "0000:01:00.0", 0x10EE, 0x7024, "sim-ac701-2ch", PciLinkSpeed.Gen2, 4));
    }

    [Test]
    public void The_core_enables_bus_mastering_and_the_phy_sees_it()
    {
        var cs = Session.ReadConfigSpace();
        (cs.Command & PciCommand.BusMaster).Should().Be(PciCommand.BusMaster, "the dext sets bus mastering after its rings are prepared");
        Session.Read32(Session.Map.Layout.Phy!.BusMasterEnable!).Should().Be(1u, "pcie_phy_phy_bus_master_enable");
        Session.Read32(Session.Map.Layout.Phy.MsiEnable!).Should().Be(1u, "pcie_phy_phy_msi_enable: MSI enabled in config space");
    }

    [Test]
    public void U64_scalars_are_range_checked_by_the_dext_before_narrowing()
    {
        var client = ((DextSession)Session).Client;
        FluentActions.Invoking(() => client.CsrWrite32(4, 0x1_0000_0000)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("CsrWrite32.value");
        FluentActions.Invoking(() => client.CsrRead32(0x1_0000_0004)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("CsrRead32.offset", "an offset that would narrow to a valid 4 must be refused");
        FluentActions.Invoking(() => client.DmaStart(0x1_0000_0000, 0, 32, 0)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("DmaStart.channel");
        Session.Read32(Session.Map.Layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "nothing was written");
    }

    [Test]
    public void Raw_writes_to_dma_table_and_msi_registers_are_not_permitted()
    {
        var dma1 = Session.Map.Layout.DmaChannels[1];
        var e = FluentActions.Invoking(() => Session.WriteCsr(Session.Map.BarOffsetOf(dma1.Writer.TableWe), 0))
            .Should().Throw<DeviceArgumentException>().Which;
        e.Code.Should().Be(DeviceErrorCode.NotPermitted);
        e.Accepted.Should().Contain("driver-owned register");
        FluentActions.Invoking(() => Session.WriteCsr(Session.Map.BarOffsetOf(Session.Map.Layout.Msi.Enable), 0xF))
            .Should().Throw<DeviceArgumentException>().Which.Code.Should().Be(DeviceErrorCode.NotPermitted);
        Session.Read32(dma1.Writer.Level).Should().Be(0u, "the refused table_we did not push a descriptor");
    }

    [Test]
    public async Task A_second_client_is_refused_with_exclusive_access()
    {
        var d = (await _backend.EnumerateAsync())[0];
        var e = await FluentActions.Awaiting(async () => await _backend.OpenAsync(d)).Should().ThrowAsync<DeviceBusyException>();
        e.Which.Code.Should().Be(DeviceErrorCode.ExclusiveAccess);
        e.Which.Message.Should().Contain("one client per device");
    }

    [Test]
    public void Other_bars_and_config_space_are_reached_through_the_dext()
    {
        Session.WriteBar(2, 0x40, 0x600DF00D);
        Session.ReadBar(2, 0x40).Should().Be(0x600DF00Du, "BAR2 window round trip");
        FluentActions.Invoking(() => Session.ReadBar(0, 4)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("BarRead32.bar");
        FluentActions.Invoking(() => Session.ReadBar(4, 0)).Should().Throw<DeviceArgumentException>("BAR4 is not implemented");
        FluentActions.Invoking(() => Session.ReadBar(2, 0x10_0000)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("BarRead32.offset");
        var cs = Session.ReadConfigSpace();
        (cs.VendorId, cs.DeviceId).Should().Be(((ushort)0x10EE, (ushort)0x7024));
    }

    [Test]
    public void Dma_start_arguments_are_validated_by_the_core()
    {
        var ch = Session.Channels[0];
        FluentActions.Invoking(() => ch.Start(DmaDirection.Writer, new DmaStartOptions(IrqEvery: 0)))
            .Should().Throw<DeviceArgumentException>().Which.Accepted.Should().Be("1..128 (bufferCount / 2)");
        FluentActions.Invoking(() => ch.Start(DmaDirection.Writer, new DmaStartOptions(IrqEvery: 129)))
            .Should().Throw<DeviceArgumentException>();
        ch.Start(DmaDirection.Writer, new DmaStartOptions(IrqEvery: 128));
        FluentActions.Invoking(() => ch.Start(DmaDirection.Writer, DmaStartOptions.Default))
            .Should().Throw<DeviceBusyException>().Which.Code.Should().Be(DeviceErrorCode.Busy);
        ch.Stop(DmaDirection.Writer);
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse();
    }

    [Test]
    public async Task Power_off_stops_dma_aborts_waits_and_bumps_the_generation()
    {
        var ch = Session.Channels[1];
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default);
        long before = Session.Generation;
        var wait = ch.WaitAsync(DmaDirection.Writer, 1000, TimeSpan.FromSeconds(10)).AsTask();
        var driver = _backend.Slots[0].Driver;
        driver.SetPowerState(false);
        var e = await FluentActions.Awaiting(() => wait).Should().ThrowAsync<DeviceException>();
        e.Which.Code.Should().Be(DeviceErrorCode.Aborted);
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse();
        FluentActions.Invoking(() => Session.ReadCsr(4)).Should().Throw<DeviceException>().Which.Code.Should().Be(DeviceErrorCode.NotReady);
        driver.SetPowerState(true);
        Session.Generation.Should().BeGreaterThan(before + 1, "power off and on each bump the generation");
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse("power on leaves channels stopped for the client to restart");
        Session.ReadCsr(4).Should().Be(CtrlBlock.ScratchResetValue);
    }

    [Test]
    public async Task No_loopback_board_refuses_loopback_without_touching_0x40()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = ["sim-kcu105-noloop"] });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        var dma0 = session.Map.Layout.DmaChannels[0];
        uint before = session.ReadCsr(session.Map.ToBarOffset(dma0.BaseAddress + 0x40));
        FluentActions.Invoking(() => session.Channels[0].SetLoopback(true)).Should().Throw<DeviceCapabilityException>()
            .Which.Message.Should().Contain("no loopback_enable");
        session.ReadCsr(session.Map.ToBarOffset(dma0.BaseAddress + 0x40)).Should().Be(before,
            "pcie_dma0_buffering_reader_fifo_control at +0x40 is untouched (P14)");
    }

    [Test]
    public async Task Msix_64_bit_board_streams_through_the_core()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = ["sim-xcu1525-msix"], DmaSegmentSize = 64 * 1024 });
        await using var session = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
        var ch = session.Channels[1];
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize), new StreamOptions { Bytes = 64L << 20 });
        report.Clean.Should().BeTrue(string.Join("; ", report.ErrorDetails) + report.Stall);
        session.GetInterruptStatistics().Messages.Should().BeGreaterThan(0);
    }
}
