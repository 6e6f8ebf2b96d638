using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Sil;

/// <summary>
/// The SIL backend end to end: C# → dext method table → the dext core compiled for this host → the gateware
/// model, and back through the core's interrupt path.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SilBackendTests
{
    private SilBackend _backend = null!;
    private IDeviceSession _session = null!;

    [SetUp]
    public async Task SetUp()
    {
        _backend = new SilBackend();
        var devices = await _backend.EnumerateAsync();
        devices.Should().ContainSingle();
        _session = await _backend.OpenAsync(devices[0]);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _session.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Test]
    public async Task Enumeration_reports_the_board_and_its_link()
    {
        var d = (await _backend.EnumerateAsync())[0];
        d.Should().Be(new DeviceDescriptor("sim", "0000:01:00.0", 0x10EE, 0x7024, "sim-ac701-2ch", PciLinkSpeed.Gen2, 4));
    }

    [Test]
    public void Identifier_and_scratch_are_read_through_the_core()
    {
        _session.Info.Identifier.Should().Be(_session.Map.Identifier, "GetInfo carries the identifier the core read from the ROM at Start");
        _session.ReadIdentifier().Should().Be(_session.Map.Identifier, "the identifier ROM read word by word through CsrRead32");
        var scratch = _session.Map.Layout.Ctrl.Scratch;
        _session.Read32(scratch).Should().Be(CtrlBlock.ScratchResetValue, "ctrl_scratch after the core's SoC reset at Start");
        _session.Write(scratch, 0xDEADBEEF);
        _session.Read32(scratch).Should().Be(0xDEADBEEFu, "ctrl_scratch round trip through CsrWrite32/CsrRead32");
        _session.Info.Driver.Should().Be("lpc-core (SIL)");
        _session.Info.DmaGeometry.Should().Be(new DmaRingGeometry(256, 8192));
        _session.Info.Bars.Select(b => (b.Index, b.Size)).Should().Equal((0, 1UL << 20), (2, 1UL << 20));
    }

    [Test]
    public void The_core_enables_bus_mastering_and_the_phy_sees_it()
    {
        var cs = _session.ReadConfigSpace();
        (cs.Command & PciCommand.BusMaster).Should().Be(PciCommand.BusMaster, "the dext sets bus mastering after its rings are prepared");
        _session.Read32(_session.Map.Layout.Phy!.BusMasterEnable!).Should().Be(1u, "pcie_phy_phy_bus_master_enable");
        _session.Read32(_session.Map.Layout.Phy.MsiEnable!).Should().Be(1u, "pcie_phy_phy_msi_enable: MSI enabled in config space");
    }

    [Test]
    public void Out_of_range_csr_offset_is_refused_with_the_named_error()
    {
        var e = FluentActions.Invoking(() => _session.ReadCsr(0x10_0000)).Should().Throw<DeviceArgumentException>().Which;
        e.Code.Should().Be(DeviceErrorCode.BadArgument);
        e.Parameter.Should().Be("CsrRead32.offset");
        e.Accepted.Should().Be("a multiple of 4 in 0..0xFFFFC (CSR BAR size - 4)");
        e.NativeCode.Should().Be(IOReturn.BadArgument);

        FluentActions.Invoking(() => _session.ReadCsr(0x6)).Should().Throw<DeviceArgumentException>()
            .Which.Message.Should().Contain("offset = 6").And.Contain("a multiple of 4");
    }

    [Test]
    public void U64_scalars_are_range_checked_by_the_dext_before_narrowing()
    {
        var client = ((DextSession)_session).Client;
        FluentActions.Invoking(() => client.CsrWrite32(4, 0x1_0000_0000)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("CsrWrite32.value");
        FluentActions.Invoking(() => client.CsrRead32(0x1_0000_0004)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("CsrRead32.offset", "an offset that would narrow to a valid 4 must be refused");
        FluentActions.Invoking(() => client.DmaStart(0x1_0000_0000, 0, 32, 0)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("DmaStart.channel");
        _session.Read32(_session.Map.Layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "nothing was written");
    }

    [Test]
    public void Raw_writes_to_dma_table_and_msi_registers_are_not_permitted()
    {
        var dma1 = _session.Map.Layout.DmaChannels[1];
        var e = FluentActions.Invoking(() => _session.WriteCsr(_session.Map.BarOffsetOf(dma1.Writer.TableWe), 0))
            .Should().Throw<DeviceArgumentException>().Which;
        e.Code.Should().Be(DeviceErrorCode.NotPermitted);
        e.Accepted.Should().Contain("driver-owned register");
        FluentActions.Invoking(() => _session.WriteCsr(_session.Map.BarOffsetOf(_session.Map.Layout.Msi.Enable), 0xF))
            .Should().Throw<DeviceArgumentException>().Which.Code.Should().Be(DeviceErrorCode.NotPermitted);
        _session.Read32(dma1.Writer.Level).Should().Be(0u, "the refused table_we did not push a descriptor");
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
        _session.WriteBar(2, 0x40, 0x600DF00D);
        _session.ReadBar(2, 0x40).Should().Be(0x600DF00Du, "BAR2 window round trip");
        FluentActions.Invoking(() => _session.ReadBar(0, 4)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("BarRead32.bar");
        FluentActions.Invoking(() => _session.ReadBar(4, 0)).Should().Throw<DeviceArgumentException>("BAR4 is not implemented");
        FluentActions.Invoking(() => _session.ReadBar(2, 0x10_0000)).Should().Throw<DeviceArgumentException>()
            .Which.Parameter.Should().Be("BarRead32.offset");
        var cs = _session.ReadConfigSpace();
        (cs.VendorId, cs.DeviceId).Should().Be(((ushort)0x10EE, (ushort)0x7024));
    }

    [Test]
    public async Task One_GiB_of_internal_loopback_is_verified_with_counts_from_the_core()
    {
        var ch = _session.Channels[0];
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
            new StreamOptions { Bytes = 1L << 30, StallTimeout = TimeSpan.FromSeconds(10) });

        report.Stall.Should().BeNull();
        report.Errors.Should().Be(0, string.Join("; ", report.ErrorDetails));
        report.RxBytes.Should().BeGreaterThanOrEqualTo(1L << 30);
        report.DriverLostWriter.Should().Be(0);
        var stats = _session.GetInterruptStatistics();
        stats.PerSource[ch.Layout.WriterInterrupt].Should().BeGreaterThanOrEqualTo(report.RxBuffers / 32 - 1,
            "one interrupt per 32 writer buffers drives the core's hw count");
        TestContext.Out.WriteLine($"SIL loopback through the dext core: {report.RxBytes / (double)(1L << 30):0.00} GiB verified in " +
            $"{report.Elapsed.TotalSeconds:0.00} s = {report.Gbps:0.00} Gb/s ({report.RxBytes / report.Elapsed.TotalSeconds / 1e9:0.00} GB/s), " +
            $"CPU {report.CpuCores:0.00} cores, {stats.Messages} MSIs");
    }

    [Test]
    public async Task Waits_are_bounded_and_name_what_they_waited_for()
    {
        var ch = _session.Channels[1];
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default); // no loopback, no TX: nothing arrives
        var e = await FluentActions.Awaiting(async () => await ch.WaitAsync(DmaDirection.Writer, 1, TimeSpan.FromMilliseconds(200)))
            .Should().ThrowAsync<DeviceTimeoutException>();
        e.Which.WaitedFor.Should().Contain("pcie_dma1 writer (FPGA→host) hardware count ≥ 1");
        ch.Stop(DmaDirection.Writer);
    }

    [Test]
    public void Dma_start_arguments_are_validated_by_the_core()
    {
        var ch = _session.Channels[0];
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
    public void Closing_the_session_stops_what_it_started()
    {
        var ch = _session.Channels[0];
        ch.SetLoopback(true);
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default);
        ch.Start(DmaDirection.Reader, DmaStartOptions.Default);
        var board = _backend.Slots[0].Board;
        _session.DisposeAsync().AsTask().Wait();
        var csr = board.CsrBus;
        var dma0 = board.Map.Layout.DmaChannels[0];
        (csr.Read32(dma0.Writer.Enable) & 1).Should().Be(0u, "writer_enable after the client closed");
        (csr.Read32(dma0.Reader.Enable) & 1).Should().Be(0u, "reader_enable after the client closed");
        csr.Read32(board.Map.Layout.Msi.Enable).Should().Be(0u, "pcie_msi_enable after the client closed");
        _session = _backend.OpenAsync(_backend.EnumerateAsync().AsTask().Result[0]).AsTask().Result;
    }

    [Test]
    public void Surprise_removal_is_reported_as_device_gone_and_latched()
    {
        _backend.Slots[0].Board.SurpriseRemove();
        FluentActions.Invoking(() => _session.Read32(_session.Map.Layout.Ctrl.Scratch)).Should().Throw<DeviceGoneException>();
        _session.IsDeviceGone.Should().BeTrue("the core latched all-ones reads with a dead config space");
        FluentActions.Invoking(() => _session.Channels[0].Start(DmaDirection.Writer, DmaStartOptions.Default))
            .Should().Throw<DeviceGoneException>("no further MMIO once gone");
    }

    [Test]
    public async Task Power_off_stops_dma_aborts_waits_and_bumps_the_generation()
    {
        var ch = _session.Channels[1];
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default);
        long before = _session.Generation;
        var wait = ch.WaitAsync(DmaDirection.Writer, 1000, TimeSpan.FromSeconds(10)).AsTask();
        var driver = _backend.Slots[0].Driver;
        driver.SetPowerState(false);
        var e = await FluentActions.Awaiting(() => wait).Should().ThrowAsync<DeviceException>();
        e.Which.Code.Should().Be(DeviceErrorCode.Aborted);
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse();
        FluentActions.Invoking(() => _session.ReadCsr(4)).Should().Throw<DeviceException>().Which.Code.Should().Be(DeviceErrorCode.NotReady);
        driver.SetPowerState(true);
        _session.Generation.Should().BeGreaterThan(before + 1, "power off and on each bump the generation");
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse("power on leaves channels stopped for the client to restart");
        _session.ReadCsr(4).Should().Be(CtrlBlock.ScratchResetValue);
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
